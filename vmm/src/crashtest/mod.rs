//! `pmemvm crashtest`: in which ways can this code lose data on power failure?
//!
//! 1. Record one run of the guest (trace, marks, promises).
//! 2. Walk the trace with the persistency model; at each chosen crash point
//!    build crash images (`--states`), deduplicated by (content, promises
//!    made before the point).
//! 3. Verify each image on a pool of reusable VMs ([`Verifier`]): the guest
//!    recovers and checks its promises.
//! 4. Report each distinct failure once, with the command that reproduces it.

pub mod describe;
pub mod html;
pub mod points;
pub mod report;
pub mod states;

use crate::devices::Verdict;
use crate::error::VmmError;
use crate::replay;
use crate::session::{self, RunConfig, VerifyInput};
use crate::verifier::{Timings, Verifier};
use crate::verify::{self, VerifyOptions};
use describe::Describer;
use indicatif::{ProgressBar, ProgressStyle};
use pmemvm_device::crash::{Image, ImageSpec};
use pmemvm_device::media::SharedMedia;
use pmemvm_device::model::Model;
use pmemvm_traces::{Event, Header, PointSet, TraceReader};
use points::PointSelector;
use report::{Counts, FailedImage, Failure, PointResult, Report};
use states::States;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Everything a crash test needs.
#[derive(Debug, Clone)]
pub struct CrashTestOptions {
    /// The guest, scenario, variant, seed, RAM, time limit and NVDIMM.
    pub run: RunConfig,
    /// Crash points (`--points`).
    pub points: PointSet,
    /// Crash images at each point (`--states`).
    pub states: Vec<States>,
    /// At most this many images per point.
    pub max_images_per_point: usize,
    /// Worker VMs.
    pub jobs: usize,
    /// Where the trace (and reports) go.
    pub out_dir: PathBuf,
    /// Show a progress bar.
    pub progress: bool,
    /// Set (by Ctrl-C) to stop early with an incomplete report.
    pub interrupted: Arc<AtomicBool>,
}

/// One image to verify.
struct Job {
    id: u64,
    seq: u64,
    spec: ImageSpec,
    image: Image,
    input: Arc<VerifyInput>,
    lost: Vec<u64>,
    kept: usize,
}

/// A verified image.
struct Outcome {
    job: Job,
    verdict: Result<Verdict, String>,
}

/// Runs a crash test.
pub fn run(opts: &CrashTestOptions) -> Result<Report, VmmError> {
    let begin = Instant::now();
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| VmmError::Config {
        what: format!("--out {}", opts.out_dir.display()),
        reason: e.to_string(),
    })?;
    let trace = opts.out_dir.join("trace.jsonl");
    let recorded = record(opts, &trace)?;
    let record_secs = begin.elapsed().as_secs_f64();
    let header = TraceReader::open(&trace)?.header().clone();
    let vopts = VerifyOptions {
        guest: opts.run.guest.clone(),
        mem: opts.run.mem,
        timeout_secs: opts.run.timeout_secs,
        backing: opts.run.nvdimm.backing.clone(),
    };
    let events = match recorded.events.clone() {
        Some(events) => Recording::Memory(events),
        None => Recording::File(trace.clone()),
    };
    let base = recorded.setup_media.clone();
    let survey = survey(&trace, &events, &opts.points, opts.run.seed)?;
    let config = verify::run_config(&header, &vopts);
    let bar = progress_bar(opts.progress, survey.points);

    let (job_tx, job_rx) = sync_channel::<Job>(opts.jobs.max(1) * 8);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (out_tx, out_rx) = sync_channel::<Outcome>(opts.jobs.max(1) * 8);
    let verify_begin = Instant::now();
    let timings = Mutex::new(Timings::default());
    let (walk, outcomes) = std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1) {
            let (rx, tx) = (job_rx.clone(), out_tx.clone());
            let (config, base) = (&config, base.clone());
            let (stop, timings) = (&opts.interrupted, &timings);
            scope.spawn(move || {
                let t = worker(config, base, survey.promises, &rx, &tx, stop);
                if let Ok(mut sum) = timings.lock() {
                    *sum += t;
                }
            });
        }
        drop(out_tx);
        let collector = scope.spawn(move || out_rx.into_iter().collect::<Vec<_>>());
        let walk_begin = Instant::now();
        let walk = walk_trace(opts, &header, &events, &survey, job_tx, &bar);
        let walk_secs = walk_begin.elapsed().as_secs_f64();
        let outcomes = collector.join().unwrap_or_default();
        (walk.map(|w| (w, walk_secs)), outcomes)
    });
    let (walk, walk_secs) = walk?;
    bar.finish_and_clear();
    let verify_secs = verify_begin.elapsed().as_secs_f64();
    let mut failures: BTreeMap<String, Failure> = BTreeMap::new();
    let mut per_point: BTreeMap<u64, PointResult> = walk
        .descriptions
        .keys()
        .map(|&seq| {
            (
                seq,
                PointResult {
                    seq,
                    ..PointResult::default()
                },
            )
        })
        .collect();
    let mut verified = 0;
    let mut sorted = outcomes;
    sorted.sort_by_key(|o| o.job.id);
    for o in sorted {
        let verdict = match o.verdict {
            Ok(v) => v,
            Err(e) => {
                return Err(VmmError::Protocol(format!(
                    "verification failed to run: {e}"
                )));
            }
        };
        verified += 1;
        let point = per_point.entry(o.job.seq).or_default();
        point.seq = o.job.seq;
        point.verified += 1;
        if verdict.passed {
            continue;
        }
        point.failed += 1;
        let entry = failures
            .entry(verdict.message.clone())
            .or_insert_with(|| Failure {
                message: verdict.message.clone(),
                images: 0,
                first: failed_image(opts, &trace, &o.job, &walk.descriptions),
            });
        entry.images += 1;
    }
    let mut failures: Vec<Failure> = failures.into_values().collect();
    failures.sort_by(|a, b| b.images.cmp(&a.images).then(a.message.cmp(&b.message)));
    let complete = !opts.interrupted.load(Ordering::SeqCst);
    Ok(Report {
        tool_version: env!("CARGO_PKG_VERSION").into(),
        scenario: header.scenario.clone(),
        variant: header.variant.clone(),
        seed: header.seed,
        persistence: header.persistence.as_str().into(),
        atomicity: header.atomicity.as_str().into(),
        points: opts.points.to_string(),
        states: opts
            .states
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        trace: trace.display().to_string(),
        complete,
        events: recorded.count,
        record_findings: recorded.findings,
        counts: Counts {
            images_verified: verified,
            ..walk.counts
        },
        seconds: begin.elapsed().as_secs_f64(),
        record_seconds: record_secs,
        walk_seconds: walk_secs,
        images_per_second: verified as f64 / verify_secs.max(1e-9),
        time_in_verifiers: timings.into_inner().unwrap_or_default().into(),
        failures,
        point_results: per_point.into_values().collect(),
    })
}

/// What recording the run gave.
struct Recorded {
    /// Events recorded.
    count: u64,
    /// Checks the guest failed while recording.
    findings: Vec<String>,
    /// The media at the end of the setup phase: the base of every image.
    setup_media: Arc<SharedMedia>,
    /// The events, unless there were too many to keep in memory.
    events: Option<Arc<Vec<Event>>>,
}

/// The recorded events: kept in memory, or read back from the trace.
enum Recording {
    Memory(Arc<Vec<Event>>),
    File(PathBuf),
}

impl Recording {
    /// Calls `f` with each event and whether it is the last one, until `f`
    /// returns false.
    fn each(
        &self,
        mut f: impl FnMut(&Event, bool) -> Result<bool, VmmError>,
    ) -> Result<(), VmmError> {
        match self {
            Recording::Memory(events) => {
                let n = events.len();
                for (i, ev) in events.iter().enumerate() {
                    if !f(ev, i + 1 == n)? {
                        break;
                    }
                }
            }
            Recording::File(path) => {
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

/// Records the run; a guest that crashes here is a tool-level error.
fn record(opts: &CrashTestOptions, trace: &Path) -> Result<Recorded, VmmError> {
    let mut config = opts.run.clone();
    // The user's backing file is the initial content; the test never
    // writes to it.
    config.nvdimm.backing = verify::read_only(opts.run.nvdimm.backing.as_ref());
    config.nvdimm.trace = Some(trace.to_path_buf());
    config.nvdimm.power_fail_at = None;
    config.nvdimm.keep_recording = true;
    let mut console = Vec::new();
    let outcome = session::run(&config, &mut console).map_err(|e| {
        if e.is_guest_failure() {
            VmmError::CannotTest(format!(
                "the guest failed in record mode, so nothing can be tested: {e}"
            ))
        } else {
            e
        }
    })?;
    if outcome.status != 0 && outcome.findings.is_empty() {
        return Err(VmmError::CannotTest(format!(
            "the guest exited with status {} in record mode: {}",
            outcome.status,
            String::from_utf8_lossy(&console).trim()
        )));
    }
    let (Some(_), Some(setup_media)) = (&outcome.media.trace, outcome.media.setup_media) else {
        return Err(VmmError::CannotTest(
            "the guest never ended its setup phase, so nothing was recorded".into(),
        ));
    };
    Ok(Recorded {
        count: outcome.media.events,
        findings: outcome.findings,
        setup_media,
        events: outcome.media.recorded,
    })
}

/// What a first, cheap pass over the trace tells.
struct Survey {
    points: u64,
    promises: usize,
    resolved: Option<BTreeSet<u64>>,
}

fn survey(trace: &Path, events: &Recording, set: &PointSet, seed: u64) -> Result<Survey, VmmError> {
    let resolved = if PointSelector::needs_resolution(set) {
        let reader = TraceReader::open(trace)?;
        Some(set.resolve(reader, seed)?.into_iter().collect())
    } else {
        None
    };
    let mut selector = PointSelector::new(set.clone(), resolved.clone());
    let (mut points, mut promises) = (u64::from(selector.before_any()), 0);
    events.each(|ev, last| {
        promises += usize::from(matches!(ev.kind, pmemvm_traces::EventKind::Promise(_)));
        points += u64::from(selector.after(ev, last));
        Ok(true)
    })?;
    Ok(Survey {
        points,
        promises,
        resolved,
    })
}

fn progress_bar(show: bool, points: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(points);
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:30}] {pos}/{len} points, {msg} (ETA {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// What walking the trace produced.
struct Walk {
    counts: Counts,
    descriptions: HashMap<u64, String>,
}

/// Replays the trace and sends the images of every chosen point.
fn walk_trace(
    opts: &CrashTestOptions,
    header: &Header,
    events: &Recording,
    survey: &Survey,
    jobs: SyncSender<Job>,
    bar: &ProgressBar,
) -> Result<Walk, VmmError> {
    let mut model = Model::new(replay::model_config(header));
    let mut selector = PointSelector::new(opts.points.clone(), survey.resolved.clone());
    let mut describer = Describer::default();
    let mut input = VerifyInput::default();
    let mut w = Walk {
        counts: Counts::default(),
        descriptions: HashMap::new(),
    };
    let mut seen = HashSet::new();
    let mut next_id = 0;
    let mut last_point = None;
    let mut visit = |seq: u64, model: &Model, input: &VerifyInput, w: &mut Walk, desc: String| {
        w.descriptions.insert(seq, desc);
        w.counts.points += 1;
        let sent = point_jobs(
            opts,
            model,
            seq,
            input,
            &mut seen,
            &mut next_id,
            &mut w.counts,
        )?;
        for job in sent {
            if jobs.send(job).is_err() {
                break;
            }
        }
        bar.inc(1);
        bar.set_message(format!("{} images", w.counts.images_unique));
        Ok::<(), VmmError>(())
    };
    if selector.before_any() {
        visit(0, &model, &input, &mut w, describer.describe())?;
        last_point = Some(0);
    }
    events.each(|ev, last| {
        if opts.interrupted.load(Ordering::SeqCst) {
            return Ok(false);
        }
        if let Some(p) = last_point.take()
            && let Some(d) = w.descriptions.get_mut(&p)
        {
            d.push_str(", ");
            d.push_str(&Describer::before(ev));
        }
        replay::apply(&mut model, ev)?;
        replay::note_for_verify(&mut input, ev);
        describer.observe(ev);
        if selector.after(ev, last) {
            visit(ev.seq, &model, &input, &mut w, describer.describe())?;
            last_point = Some(ev.seq);
        }
        Ok(true)
    })?;
    Ok(w)
}

/// The deduplicated images of one point, as jobs.
fn point_jobs(
    opts: &CrashTestOptions,
    model: &Model,
    seq: u64,
    input: &VerifyInput,
    seen: &mut HashSet<([u8; 32], usize)>,
    next_id: &mut u64,
    counts: &mut Counts,
) -> Result<Vec<Job>, VmmError> {
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
    let mut input = input.clone();
    input.note_written(model);
    let input = Arc::new(input);
    let mut jobs = Vec::new();
    for (spec, image) in images {
        if !seen.insert((image.hash(), input.promises.len())) {
            continue;
        }
        counts.images_unique += 1;
        let lost: Vec<u64> = maximal.as_ref().map_or_else(Vec::new, |maximal| {
            image
                .lines
                .iter()
                .filter(|(off, content)| maximal.lines.get(off) != Some(content))
                .map(|(off, _)| *off)
                .collect()
        });
        let kept = image.lines.len() - lost.len();
        *next_id += 1;
        jobs.push(Job {
            id: *next_id,
            seq,
            spec,
            image,
            input: input.clone(),
            lost,
            kept,
        });
    }
    Ok(jobs)
}

/// A worker: one reusable VM, made on its first job. Returns where its
/// verifiers spent their time.
fn worker(
    config: &RunConfig,
    base: Arc<SharedMedia>,
    max_promises: usize,
    jobs: &Mutex<Receiver<Job>>,
    out: &SyncSender<Outcome>,
    stop: &AtomicBool,
) -> Timings {
    let mut verifier: Option<Verifier> = None;
    let mut spent = Timings::default();
    loop {
        let job = match jobs.lock().map(|rx| rx.recv()) {
            Ok(Ok(job)) => job,
            _ => break,
        };
        if stop.load(Ordering::SeqCst) {
            continue;
        }
        let verdict = (|| -> Result<Verdict, VmmError> {
            let v = match verifier.as_mut() {
                Some(v) => v,
                None => verifier.insert(Verifier::new(config, base.clone(), max_promises)?),
            };
            v.verify(&job.image, &job.input)
        })()
        .map_err(|e| {
            // A verifier that failed is not reused.
            if let Some(v) = verifier.take() {
                spent += v.timings();
            }
            e.to_string()
        });
        if out.send(Outcome { job, verdict }).is_err() {
            break;
        }
    }
    if let Some(v) = verifier {
        log::info!(
            "verifier: {} runs, {:?}, {:?}",
            v.runs(),
            v.exits(),
            v.timings()
        );
        spent += v.timings();
    }
    spent
}

/// The report entry of a failed image.
fn failed_image(
    opts: &CrashTestOptions,
    trace: &Path,
    job: &Job,
    descriptions: &HashMap<u64, String>,
) -> FailedImage {
    let mut reproduce = format!(
        "pmemvm verify --trace {} --at seq:{} --image '{}'",
        trace.display(),
        job.seq,
        job.spec
    );
    if let session::GuestSource::Path(p) = &opts.run.guest {
        reproduce.push_str(&format!(" --guest {}", p.display()));
    }
    if let Some(b) = &opts.run.nvdimm.backing {
        reproduce.push_str(&format!(" --nvdimm '{b}'"));
    }
    FailedImage {
        point: format!("seq:{}", job.seq),
        description: descriptions.get(&job.seq).cloned().unwrap_or_default(),
        image: job.spec.to_string(),
        lost_lines: job.lost.iter().map(|l| format!("{l:#x}")).collect(),
        kept_lines: job.kept,
        reproduce,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pmemvm_traces::{Atomicity, Device, EventKind, Flush, Persistence, TraceWriter};

    /// The events kept in memory and the same events read back from the
    /// trace file (the fallback past `MAX_KEPT_EVENTS`) are walked alike.
    #[test]
    fn memory_and_file_recordings_walk_the_same_events() {
        let header = Header::new(
            Device {
                base: 1 << 32,
                size: 1 << 20,
            },
            Persistence::MemCtrl,
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
        let mut writer = TraceWriter::create(&path, &header).expect("trace");
        for ev in &events {
            writer.write(ev).expect("event");
        }
        writer.finish().expect("finish");
        let walk = |r: &Recording, stop_after: u64| {
            let mut seen = Vec::new();
            r.each(|ev, last| {
                seen.push((ev.clone(), last));
                Ok(ev.seq < stop_after)
            })
            .expect("walk");
            seen
        };
        let memory = Recording::Memory(Arc::new(events.clone()));
        let file = Recording::File(path.clone());
        let all = walk(&memory, u64::MAX);
        assert_eq!(all, walk(&file, u64::MAX));
        assert_eq!(all.len(), 5);
        assert!(all.iter().take(4).all(|(_, last)| !last) && all[4].1);
        assert_eq!(walk(&memory, 2).len(), 2);
        assert_eq!(walk(&file, 2).len(), 2);
        let _ = std::fs::remove_file(path);
    }
}
