//! The data of the report's timeline, computed in one streaming pass over
//! the recorded trace with bounded memory: whatever the trace's length, the
//! timeline keeps at most [`MAX_BUCKETS`] buckets of events (the curve of
//! dirty lines, fence and mark ticks), at most [`MAX_LABELS`] mark labels
//! and at most [`MAX_REGIONS`] mark regions.
//!
//! The walk is the one of the Chrome export (`pmemvm trace export`): a
//! [`LineTracker`] gives the lines by durability status after each event and
//! a [`MarkTracker`] opens and closes the mark regions.

use crate::error::VmmError;
use pmemvm_traces::analysis::marks::{MarkTracker, Transition};
use pmemvm_traces::analysis::tracker::{LineStatus, LineTracker};
use pmemvm_traces::{Event, EventKind, Header, TraceReader};
use std::io::BufRead;
use std::path::Path;

/// At most this many buckets of events (the curve's resolution).
pub const MAX_BUCKETS: usize = 2048;
/// At most this many mark regions; beyond, neighbours are merged and the
/// shortest dropped.
pub const MAX_REGIONS: usize = 512;
/// At most this many distinct labels of instant marks, [`OTHER_LABEL`] included.
pub const MAX_LABELS: usize = 12;
/// The label that stands for every instant mark beyond [`MAX_LABELS`].
pub const OTHER_LABEL: &str = "(other marks)";

/// What happened in a run of consecutive sequence numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bucket {
    /// Most dirty lines (written, not covered by a flush) after any event of the bucket.
    pub dirty_max: u64,
    /// Most lines flushed but not fenced after any event of the bucket.
    pub flushed_max: u64,
    /// Fences (`sfence`, `mfence`, `rmw`) in the bucket.
    pub fences: u64,
    /// Instant marks in the bucket: (index in [`Timeline::labels`], count).
    pub marks: Vec<(usize, u64)>,
}

impl Bucket {
    fn add_marks(&mut self, label: usize, count: u64) {
        match self.marks.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += count,
            None => self.marks.push((label, count)),
        }
    }

    fn merge(&mut self, other: &Bucket) {
        self.dirty_max = self.dirty_max.max(other.dirty_max);
        self.flushed_max = self.flushed_max.max(other.flushed_max);
        self.fences += other.fences;
        for &(label, count) in &other.marks {
            self.add_marks(label, count);
        }
    }
}

/// A mark region (`NAME-begin` … `NAME-end`), or several neighbours of the
/// same name merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The region's name (the label without `-begin`).
    pub name: String,
    /// Regions it was nested in when it closed (0: outermost).
    pub depth: usize,
    /// Sequence number of the first `-begin`.
    pub begin: u64,
    /// Sequence number of the last `-end` (the trace's last event for a
    /// region still open at the end).
    pub end: u64,
    /// How many regions it stands for.
    pub count: u64,
}

/// The timeline of a recorded run, ready to draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// The last sequence number of the trace.
    pub events: u64,
    /// Sequence numbers per bucket (a power of two).
    pub width: u64,
    /// Bucket `i` covers the sequence numbers `i * width .. (i + 1) * width`.
    pub buckets: Vec<Bucket>,
    /// Labels of instant marks, by first appearance.
    pub labels: Vec<String>,
    /// Mark regions, ordered by depth then beginning.
    pub regions: Vec<Span>,
    /// Regions left out because they were too short to see.
    pub regions_dropped: u64,
}

impl Timeline {
    /// Reads the trace at `path`, one event at a time.
    pub fn from_trace(path: &Path) -> Result<Timeline, VmmError> {
        let mut reader = TraceReader::open(path)?;
        Timeline::from_reader(&mut reader)
    }

    /// Reads every event of `reader`.
    pub fn from_reader<R: BufRead>(reader: &mut TraceReader<R>) -> Result<Timeline, VmmError> {
        let mut builder = TimelineBuilder::new(reader.header());
        pmemvm_traces::analysis::for_each_event(reader, |ev| {
            builder.observe(ev);
            Ok(())
        })?;
        Ok(builder.finish())
    }

    /// The first sequence number of bucket `i`.
    pub fn bucket_start(&self, i: usize) -> u64 {
        i as u64 * self.width
    }

    /// The deepest region's depth plus one: the number of region lanes.
    pub fn region_lanes(&self) -> usize {
        self.regions.iter().map(|s| s.depth + 1).max().unwrap_or(0)
    }
}

/// Builds a [`Timeline`] from events fed in trace order.
#[derive(Debug)]
pub struct TimelineBuilder {
    lines: LineTracker,
    marks: MarkTracker,
    /// Dirty and flushed-not-fenced lines after the last event.
    now: (u64, u64),
    t: Timeline,
}

impl TimelineBuilder {
    /// A builder for a trace with this header.
    pub fn new(header: &Header) -> TimelineBuilder {
        TimelineBuilder {
            lines: LineTracker::new(header),
            marks: MarkTracker::new(),
            now: (0, 0),
            t: Timeline {
                events: 0,
                width: 1,
                buckets: Vec::new(),
                labels: Vec::new(),
                regions: Vec::new(),
                regions_dropped: 0,
            },
        }
    }

    /// Takes the next event.
    pub fn observe(&mut self, ev: &Event) {
        let seq = ev.seq;
        self.t.events = self.t.events.max(seq);
        match self.marks.observe(ev) {
            Transition::Closed {
                region,
                interrupted,
            } => {
                let depth = self.marks.open().len() - interrupted;
                self.push_region(Span {
                    name: region.name,
                    depth,
                    begin: region.seq,
                    end: seq,
                    count: 1,
                });
            }
            Transition::Instant => {
                if let EventKind::Mark(m) = &ev.kind {
                    let label = self.label(&m.label);
                    self.bucket(seq).add_marks(label, 1);
                }
            }
            Transition::Opened | Transition::None => {}
        }
        self.lines.observe(ev);
        self.now = (
            self.lines.count(LineStatus::Dirty),
            self.lines.count(LineStatus::FlushedNotFenced),
        );
        let (dirty, flushed) = self.now;
        let fence = ev.kind.is_fence();
        let b = self.bucket(seq);
        b.dirty_max = b.dirty_max.max(dirty);
        b.flushed_max = b.flushed_max.max(flushed);
        b.fences += u64::from(fence);
    }

    /// The timeline; regions still open end at the last event.
    pub fn finish(mut self) -> Timeline {
        let end = self.t.events;
        let open: Vec<Span> = self
            .marks
            .open()
            .iter()
            .enumerate()
            .map(|(depth, r)| Span {
                name: r.name.clone(),
                depth,
                begin: r.seq,
                end,
                count: 1,
            })
            .collect();
        for span in open {
            self.push_region(span);
        }
        self.bucket(end);
        self.t.regions.sort_by_key(|s| (s.depth, s.begin));
        self.t
    }

    /// The bucket of `seq`, coarsening the buckets when there would be too many.
    fn bucket(&mut self, seq: u64) -> &mut Bucket {
        while seq / self.t.width >= MAX_BUCKETS as u64 {
            self.t.width *= 2;
            self.t.buckets = self
                .t
                .buckets
                .chunks(2)
                .map(|pair| {
                    let mut b = pair[0].clone();
                    if let Some(second) = pair.get(1) {
                        b.merge(second);
                    }
                    b
                })
                .collect();
        }
        // Less than MAX_BUCKETS by the loop above.
        let i = (seq / self.t.width) as usize;
        let (dirty, flushed) = self.now;
        while self.t.buckets.len() <= i {
            self.t.buckets.push(Bucket {
                dirty_max: dirty,
                flushed_max: flushed,
                ..Bucket::default()
            });
        }
        &mut self.t.buckets[i]
    }

    /// The index of an instant mark's label in [`Timeline::labels`].
    fn label(&mut self, label: &str) -> usize {
        let labels = &mut self.t.labels;
        if let Some(i) = labels.iter().position(|l| l == label) {
            return i;
        }
        if labels.len() + 1 < MAX_LABELS {
            labels.push(label.to_string());
            return labels.len() - 1;
        }
        if let Some(i) = labels.iter().position(|l| l == OTHER_LABEL) {
            return i;
        }
        labels.push(OTHER_LABEL.to_string());
        labels.len() - 1
    }

    fn push_region(&mut self, span: Span) {
        self.t.regions.push(span);
        if self.t.regions.len() > MAX_REGIONS {
            self.coarsen_regions();
        }
    }

    /// Brings the regions down to half of [`MAX_REGIONS`]: merges
    /// neighbours of the same name and depth less than `tolerance` apart,
    /// then drops regions shorter than `tolerance`, doubling it from one
    /// bucket until few enough remain (at worst every region is shorter than
    /// a tolerance beyond the trace's length, so this ends).
    fn coarsen_regions(&mut self) {
        let regions = &mut self.t.regions;
        regions.sort_by_key(|s| (s.depth, s.begin));
        let mut tolerance = self.t.width;
        while regions.len() > MAX_REGIONS / 2 {
            let mut merged: Vec<Span> = Vec::with_capacity(regions.len());
            for s in regions.drain(..) {
                match merged.last_mut() {
                    Some(last)
                        if last.depth == s.depth
                            && last.name == s.name
                            && s.begin <= last.end.saturating_add(tolerance) =>
                    {
                        last.end = last.end.max(s.end);
                        last.count += s.count;
                    }
                    _ => merged.push(s),
                }
            }
            *regions = merged;
            if regions.len() > MAX_REGIONS / 2 {
                let dropped = &mut self.t.regions_dropped;
                regions.retain(|s| {
                    let keep = s.end - s.begin >= tolerance;
                    if !keep {
                        *dropped += s.count;
                    }
                    keep
                });
            }
            tolerance = tolerance.saturating_mul(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pmemvm_traces::{Atomicity, Device, Flush, Mark, Persistence, Write};

    fn header() -> Header {
        Header::new(
            Device {
                base: 0x1_0000_0000,
                size: 64 << 20,
            },
            Persistence::Adr,
            Atomicity::Line,
            "t",
            "v",
            1,
            [0; 32],
        )
    }

    fn store(seq: u64, offset: u64) -> Event {
        let w = Write::new(0x1_0000_0000 + offset, offset, vec![1], 0x1000).with_init([0; 64]);
        Event::new(seq, EventKind::Store(w))
    }

    fn mark(seq: u64, label: &str) -> Event {
        Event::new(seq, EventKind::Mark(Mark::new(label)))
    }

    #[test]
    fn small_traces_keep_every_event_and_region() {
        let mut b = TimelineBuilder::new(&header());
        b.observe(&mark(1, "op-begin"));
        b.observe(&store(2, 0));
        b.observe(&store(3, 64));
        b.observe(&mark(4, "tag"));
        b.observe(&Event::new(
            5,
            EventKind::Clwb(Flush::new(0x1_0000_0000, 0)),
        ));
        b.observe(&Event::new(6, EventKind::Sfence));
        b.observe(&mark(7, "op-end"));
        b.observe(&mark(8, "tail-begin"));
        let t = b.finish();
        assert_eq!((t.events, t.width, t.buckets.len()), (8, 1, 9));
        let dirty: Vec<u64> = t.buckets.iter().map(|b| b.dirty_max).collect();
        assert_eq!(dirty, [0, 0, 1, 2, 2, 1, 1, 1, 1]);
        assert_eq!(t.buckets[5].flushed_max, 1);
        assert_eq!(t.buckets[6].fences, 1);
        assert_eq!(t.labels, ["tag"]);
        assert_eq!(t.buckets[4].marks, [(0, 1)]);
        let spans: Vec<(&str, u64, u64)> = t
            .regions
            .iter()
            .map(|s| (s.name.as_str(), s.begin, s.end))
            .collect();
        assert_eq!(spans, [("op", 1, 7), ("tail", 8, 8)]);
    }

    #[test]
    fn long_traces_stay_bounded() {
        let mut b = TimelineBuilder::new(&header());
        let mut seq = 0;
        let mut next = || {
            seq += 1;
            seq
        };
        for i in 0..20_000u64 {
            b.observe(&mark(next(), "op-begin"));
            b.observe(&store(next(), (i % 512) * 64));
            b.observe(&mark(next(), &format!("label-{}", i % 40)));
            b.observe(&Event::new(next(), EventKind::Sfence));
            b.observe(&mark(next(), "op-end"));
        }
        let t = b.finish();
        assert_eq!(t.events, 100_000);
        assert!(t.buckets.len() <= MAX_BUCKETS);
        assert!(t.width.is_power_of_two() && t.width * MAX_BUCKETS as u64 >= t.events);
        assert_eq!(t.buckets.iter().map(|b| b.fences).sum::<u64>(), 20_000);
        let marks: u64 = t
            .buckets
            .iter()
            .flat_map(|b| b.marks.iter().map(|m| m.1))
            .sum();
        assert_eq!(marks, 20_000);
        assert_eq!(t.labels.len(), MAX_LABELS);
        assert_eq!(t.labels.last().map(String::as_str), Some(OTHER_LABEL));
        assert!(t.regions.len() <= MAX_REGIONS);
        let covered: u64 = t.regions.iter().map(|s| s.count).sum();
        assert_eq!(covered + t.regions_dropped, 20_000);
        assert_eq!(t.buckets.iter().map(|b| b.dirty_max).max(), Some(512));
    }
}
