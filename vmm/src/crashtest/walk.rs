//! Walking the recorded events with the persistency model: at each chosen
//! crash point, the deduplicated crash images, queued for the workers.
//!
//! The walk reads the recording as it happens ([`Source::Stream`]), on the
//! core the recording leaves idle, or the trace file once the recording
//! ended ([`Source::File`]: points that need the whole trace to resolve,
//! `random:N` and a single point).

use super::cause::{MarkWindow, MarkWindows, WriteRips};
use super::describe::Describer;
use super::pool::{Queue, Setup, SharedSetup};
use super::report::Counts;
use super::states::{self, States};
use super::{CrashTestOptions, Job};
use crate::error::VmmError;
use crate::promise_check::PromiseChecker;
use crate::replay;
use crate::verify::VerifyOptions;
use crate::verify_input::VerifyInput;
use indicatif::ProgressBar;
use pmemvm_device::crash::ImageSpec;
use pmemvm_device::model::Model;
use pmemvm_traces::{Event, Instants, PointReason, PointSelector, TraceReader};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::Receiver;

pub use crate::run_kind::Streamed;

/// Where the walk reads the recorded events.
pub enum Source {
    /// The recording as it happens: its setup, then its events.
    Stream(Receiver<Streamed>),
    /// The trace file of a finished recording.
    File {
        /// The trace.
        path: PathBuf,
        /// The recording's setup.
        setup: Box<Setup>,
        /// The crash points, resolved on the whole trace.
        resolved: BTreeSet<u64>,
    },
}

impl Source {
    /// The recording's setup, the resolved points (if any) and the events.
    /// `None` when the stream ended before the setup phase did.
    fn open(self, vopts: &VerifyOptions) -> Option<(Setup, Option<BTreeSet<u64>>, Events)> {
        match self {
            Source::Stream(rx) => match rx.recv() {
                Ok(Streamed::Setup(header, base)) => {
                    Some((Setup::new(*header, base, vopts), None, Events::Stream(rx)))
                }
                _ => None,
            },
            Source::File {
                path,
                setup,
                resolved,
            } => Some((*setup, Some(resolved), Events::File(path))),
        }
    }
}

/// The recorded events, from either source.
enum Events {
    Stream(Receiver<Streamed>),
    File(PathBuf),
}

impl Events {
    /// Calls `f` with each event and whether it is the last one, until `f`
    /// returns false.
    fn each(
        &self,
        mut f: impl FnMut(&Event, bool) -> Result<bool, VmmError>,
    ) -> Result<(), VmmError> {
        match self {
            Events::Stream(rx) => {
                let mut pending: Option<Event> = None;
                for message in rx {
                    let events = match message {
                        Streamed::Events(events) => events,
                        Streamed::End => break,
                        Streamed::Setup(..) => continue,
                    };
                    for ev in events {
                        if let Some(prev) = pending.replace(ev)
                            && !f(&prev, false)?
                        {
                            return Ok(());
                        }
                    }
                }
                if let Some(last) = pending {
                    f(&last, true)?;
                }
            }
            Events::File(path) => {
                let mut reader = TraceReader::open(path)?;
                let mut pending = reader.next_event()?;
                while let Some(ev) = pending {
                    pending = reader.next_event()?;
                    if !f(&ev, pending.is_none())? {
                        break;
                    }
                }
            }
        }
        Ok(())
    }
}

/// What walking the events produced.
#[derive(Default)]
pub struct Walk {
    /// Points, images generated, unique, truncated.
    pub counts: Counts,
    /// Each visited point's description, by sequence number.
    pub descriptions: HashMap<u64, String>,
    /// Each visited point's window between the guest's marks, by sequence number.
    pub windows: HashMap<u64, MarkWindow>,
    /// Why each visited point was chosen, by sequence number.
    pub reasons: BTreeMap<u64, PointReason>,
    /// Wall-clock seconds the walk took.
    pub seconds: f64,
}

/// Walks `source`: publishes the recording's setup in `setup` for the
/// workers, then queues the images of every chosen point.
pub fn walk(
    opts: &CrashTestOptions,
    vopts: &VerifyOptions,
    source: Source,
    setup: &SharedSetup,
    queue: &Queue,
    bar: &ProgressBar,
) -> Result<Walk, VmmError> {
    let begin = std::time::Instant::now();
    let Some((s, resolved, events)) = source.open(vopts) else {
        return Err(super::never_set_up());
    };
    let mut walker = Walker {
        opts,
        queue,
        bar,
        model: Model::new(replay::model_config(&s.header)),
        selector: PointSelector::new(&opts.points, s.header.persistence, resolved)
            .with_instants(Instants::new(s.header.recording, s.header.persistence)),
        describer: Describer::default(),
        windows: MarkWindows::default(),
        rips: WriteRips::default(),
        input: VerifyInput::default(),
        promises: PromiseChecker::default(),
        walk: Walk::default(),
        dedup: Dedup::default(),
        last_point: None,
    };
    setup.publish(s);
    if let Some(reason) = walker.selector.before_any() {
        walker.visit(0, reason)?;
    }
    events.each(|ev, last| walker.event(ev, last))?;
    if !opts.stopped() {
        walker.selector.finish()?;
    }
    let mut w = walker.walk;
    w.seconds = begin.elapsed().as_secs_f64();
    Ok(w)
}

/// The state of a walk.
struct Walker<'a> {
    opts: &'a CrashTestOptions,
    queue: &'a Queue<'a>,
    bar: &'a ProgressBar,
    model: Model,
    selector: PointSelector,
    describer: Describer,
    windows: MarkWindows,
    rips: WriteRips,
    input: VerifyInput,
    promises: PromiseChecker,
    walk: Walk,
    dedup: Dedup,
    /// The last point visited.
    last_point: Option<u64>,
}

impl Walker<'_> {
    /// Visits the point just after the last event applied, `seq`: queues its images.
    fn visit(&mut self, seq: u64, reason: PointReason) -> Result<(), VmmError> {
        let w = &mut self.walk;
        w.descriptions.insert(seq, self.describer.describe());
        w.windows.insert(seq, self.windows.at_point(seq));
        w.reasons.insert(seq, reason);
        w.counts.points += 1;
        self.last_point = Some(seq);
        let jobs = self.point_jobs(seq)?;
        self.bar.inc_length(jobs.len() as u64);
        self.bar
            .set_message(format!("points: {}", self.walk.counts.points));
        for job in jobs {
            if !self.queue.push(job) {
                break;
            }
        }
        Ok(())
    }

    /// Applies the next event, visiting the points just before and just
    /// after it when chosen; false to stop.
    fn event(&mut self, ev: &Event, last: bool) -> Result<bool, VmmError> {
        if self.opts.stopped() {
            return Ok(false);
        }
        let before = ev.seq.saturating_sub(1);
        if let Some(reason) = self.selector.before(ev)
            && self.last_point != Some(before)
        {
            self.visit(before, reason)?;
        }
        if self.last_point == Some(before)
            && let Some(d) = self.walk.descriptions.get_mut(&before)
        {
            d.push_str(", ");
            d.push_str(&Describer::before(ev));
        }
        replay::apply(&mut self.model, ev)?;
        self.input.note(ev);
        self.promises.observe(ev, &self.model);
        self.describer.observe(ev);
        self.rips.observe(ev, &self.model);
        if let Some((mark, closed)) = self.windows.observe(ev) {
            for seq in closed {
                if let Some(window) = self.walk.windows.get_mut(&seq) {
                    window.to = Some(mark.clone());
                }
            }
        }
        if let Some(reason) = self.selector.after(ev, last) {
            self.visit(ev.seq, reason)?;
        }
        Ok(true)
    }
}

/// The images queued so far, to queue each (content, promises) once. The
/// first one queued is the one pmemvm's promise check judges most
/// strictly: at a later point with the same promises, the promised bytes
/// have only held more values since.
#[derive(Default)]
struct Dedup {
    /// Content hash and number of promises of every image queued.
    seen: HashSet<([u8; 32], usize)>,
    /// The id of the last job.
    next_id: u64,
}

impl Walker<'_> {
    /// The deduplicated images of the point just after `seq`, as jobs,
    /// each with the promise it breaks, if any.
    fn point_jobs(&mut self, seq: u64) -> Result<Vec<Job>, VmmError> {
        let (opts, model, counts) = (self.opts, &self.model, &mut self.walk.counts);
        // Ask for one image more than the limit, to know when it cuts.
        let limit = opts.max_images_per_point;
        let mut images = Vec::new();
        // Nothing in flight: every state is the one image.
        let only = model.count_images() == 1;
        for s in opts.states.iter().take(if only { 1 } else { usize::MAX }) {
            let room = (limit + 1).saturating_sub(images.len());
            if room == 0 {
                break;
            }
            images.extend(states::images(model, *s, room, opts.run.seed ^ seq)?);
        }
        let beyond_exhaustive = opts
            .states
            .iter()
            .any(|s| matches!(s, States::Exhaustive(n) if model.count_images() > *n as u128));
        if images.len() > limit || beyond_exhaustive {
            images.truncate(limit);
            counts.points_truncated += 1;
        }
        counts.images_generated += images.len() as u64;
        // With one image, it is the maximal one and loses nothing.
        let maximal = if only {
            None
        } else {
            Some(model.image(&model.resolve(&ImageSpec::Maximal))?)
        };
        let mut input = self.input.clone();
        input.note_written(model);
        let input = Arc::new(input);
        let mut jobs = Vec::new();
        for (spec, image) in images {
            if !self.dedup.seen.insert((image.hash(), input.promises.len())) {
                continue;
            }
            counts.images_unique += 1;
            // The lines that differ from the latest content.
            let lost = maximal
                .as_ref()
                .map_or_else(Vec::new, |maximal| image.differing_lines(maximal));
            let kept = image.lines.len() - lost.len();
            let loss = self.rips.loss(model, &spec);
            let breach = self.promises.check(&image, &lost);
            self.dedup.next_id += 1;
            jobs.push(Job {
                id: self.dedup.next_id,
                seq,
                spec,
                image,
                input: input.clone(),
                lost,
                loss,
                kept,
                breach,
            });
        }
        Ok(jobs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_kind::Streamed;
    use pmemvm_traces::{Atomicity, Device, EventKind, Flush, Header, Persistence, TraceWriter};
    use std::sync::mpsc::sync_channel;

    /// The events streamed by a recording and the same events read back
    /// from its trace file are walked alike.
    #[test]
    fn streamed_and_file_recordings_walk_the_same_events() -> Result<(), Box<dyn std::error::Error>>
    {
        let header = Header::new(
            Device {
                base: 1 << 32,
                size: 1 << 20,
            },
            Persistence::Adr,
            Atomicity::Line,
            "unit",
            "test",
            1,
            [0; 32],
        );
        let events: Vec<Event> = (1..=5)
            .map(|seq| match seq % 2 {
                0 => Event::new(seq, EventKind::Sfence),
                _ => Event::new(
                    seq,
                    EventKind::Clwb(Flush::new((1 << 32) + 64 * seq, 64 * seq)),
                ),
            })
            .collect();
        let path =
            std::env::temp_dir().join(format!("pmemvm-recording-{}.jsonl", std::process::id()));
        let mut writer = TraceWriter::create(&path, &header)?;
        for ev in &events {
            writer.write(ev)?;
        }
        writer.finish()?;
        let walk = |r: &Events, stop_after: u64| -> Result<Vec<(Event, bool)>, VmmError> {
            let mut seen = Vec::new();
            r.each(|ev, last| {
                seen.push((ev.clone(), last));
                Ok(ev.seq < stop_after)
            })?;
            Ok(seen)
        };
        // Two batches and the end, as a recording sends them; the sender
        // stays open, as during a recording's teardown.
        let (tx, rx) = sync_channel(4);
        let streamed = std::thread::spawn(move || {
            let stream = Events::Stream(rx);
            let all = walk(&stream, u64::MAX);
            drop(stream);
            all
        });
        for batch in [&events[..2], &events[2..]] {
            tx.send(Streamed::Events(batch.to_vec()))?;
        }
        tx.send(Streamed::End)?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !streamed.is_finished() {
            assert!(
                std::time::Instant::now() < deadline,
                "the walk waits past the end"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let all = streamed.join().map_err(|_| "the walk panicked")??;
        drop(tx);
        let file = Events::File(path.clone());
        assert_eq!(all, walk(&file, u64::MAX)?);
        assert_eq!(all.len(), 5);
        assert!(all.iter().take(4).all(|(_, last)| !last) && all[4].1);
        let (tx, rx) = sync_channel(4);
        tx.send(Streamed::Events(events.clone()))?;
        drop(tx);
        assert_eq!(walk(&Events::Stream(rx), 2)?.len(), 2);
        assert_eq!(walk(&file, 2)?.len(), 2);
        let _ = std::fs::remove_file(path);
        Ok(())
    }
}
