//! Where crash points lie in a trace: [`PointResolver`] finds one in a
//! stream of events, counting with [`PointCounts`] what points count.

use crate::error::{Result, TraceError};
use crate::event::{Event, EventKind};
use crate::point::CrashPoint;

/// Running counts of what crash points count, fed one event at a time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PointCounts {
    /// Events seen (the seq of the last one).
    pub events: u64,
    /// Fences seen (`sfence`, `mfence`, `rmw`).
    pub fences: u64,
    /// Store-like events seen (`store`, `ntstore`, `rmw`).
    pub stores: u64,
    /// Promises seen.
    pub promises: u64,
    /// Marks seen (any label).
    pub marks: u64,
}

impl PointCounts {
    /// Counts one event.
    pub fn observe(&mut self, ev: &Event) {
        self.events = ev.seq;
        if ev.kind.is_fence() {
            self.fences += 1;
        }
        if ev.kind.is_store_like() {
            self.stores += 1;
        }
        match ev.kind {
            EventKind::Promise(_) => self.promises += 1,
            EventKind::Mark(_) => self.marks += 1,
            _ => {}
        }
    }
}

/// Finds a crash point in a stream of events.
///
/// Feed events in order with [`observe`](Self::observe); it returns true on
/// the event just after which the point lies, so a replay can stop there.
/// When the stream ends first, [`finish`](Self::finish) resolves `end` or
/// says why the point lies beyond the end.
#[derive(Debug, Clone)]
pub struct PointResolver {
    point: CrashPoint,
    counts: PointCounts,
    label_count: u64,
    reached: Option<u64>,
}

impl PointResolver {
    /// A resolver for `point`; `seq:0` is reached before any event.
    pub fn new(point: CrashPoint) -> PointResolver {
        let reached = (point == CrashPoint::Seq(0)).then_some(0);
        PointResolver {
            point,
            counts: PointCounts::default(),
            label_count: 0,
            reached,
        }
    }

    /// The point being resolved.
    pub fn point(&self) -> &CrashPoint {
        &self.point
    }

    /// The seq just after which the point lies, once reached (0: before any event).
    pub fn reached(&self) -> Option<u64> {
        self.reached
    }

    /// Counts so far.
    pub fn counts(&self) -> &PointCounts {
        &self.counts
    }

    /// Feeds the next event; true when the point lies just after it (and on
    /// any later call once reached: stop replaying there).
    pub fn observe(&mut self, ev: &Event) -> bool {
        if self.reached.is_some() {
            return true;
        }
        self.counts.observe(ev);
        if let (CrashPoint::Mark { label, .. }, EventKind::Mark(m)) = (&self.point, &ev.kind)
            && *label == m.label
        {
            self.label_count += 1;
        }
        let hit = match &self.point {
            CrashPoint::Seq(n) => ev.seq == *n,
            CrashPoint::Fence(k) => ev.kind.is_fence() && self.counts.fences == *k,
            CrashPoint::Store(k) => ev.kind.is_store_like() && self.counts.stores == *k,
            CrashPoint::Promise(k) => {
                matches!(ev.kind, EventKind::Promise(_)) && self.counts.promises == *k
            }
            CrashPoint::Mark { label, nth } => {
                matches!(&ev.kind, EventKind::Mark(m) if m.label == *label)
                    && self.label_count == *nth
            }
            CrashPoint::End => false,
        };
        if hit {
            self.reached = Some(ev.seq);
        }
        hit
    }

    /// At the end of the stream: the seq just after which the point lies, or
    /// [`TraceError::PointBeyondEnd`] ("fence:9 but the trace has 4 fences").
    pub fn finish(&self) -> Result<u64> {
        if let Some(seq) = self.reached {
            return Ok(seq);
        }
        let c = &self.counts;
        let reason = match &self.point {
            CrashPoint::End => return Ok(c.events),
            CrashPoint::Seq(_) => plural(c.events, "event"),
            CrashPoint::Fence(_) => plural(c.fences, "fence"),
            CrashPoint::Store(_) => plural(c.stores, "store"),
            CrashPoint::Promise(_) => plural(c.promises, "promise"),
            CrashPoint::Mark { label, .. } => {
                format!("{} labelled `{label}`", plural(self.label_count, "mark"))
            }
        };
        Err(TraceError::PointBeyondEnd {
            point: self.point.to_string(),
            reason,
        })
    }

    /// Resolves `point` over a whole stream of events (stopping early when
    /// reached): the seq just after which it lies.
    pub fn resolve<I>(point: CrashPoint, events: I) -> Result<u64>
    where
        I: IntoIterator<Item = Result<Event>>,
    {
        let mut r = PointResolver::new(point);
        if r.reached.is_none() {
            for ev in events {
                if r.observe(&ev?) {
                    break;
                }
            }
        }
        r.finish()
    }
}

pub(crate) fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
