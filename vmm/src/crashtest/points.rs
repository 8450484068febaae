//! Which crash points a crash test visits.
//!
//! The user's choice (`--points`) plus, always, the points just after every
//! promise, every `crash` mark and the end: the window between a promise and
//! the next fence is where most durability bugs live.

use pmemvm_traces::{Event, EventKind, PointSet};
use std::collections::BTreeSet;

/// The label of marks that name a script's crash step.
pub const CRASH_MARK: &str = "crash";

/// Decides, event by event, whether the point just after it is visited.
#[derive(Debug, Clone)]
pub struct PointSelector {
    set: PointSet,
    /// Pre-resolved points (`random:N` and single points).
    resolved: Option<BTreeSet<u64>>,
    stores_since_fence: u64,
}

impl PointSelector {
    /// A selector for `set`; `resolved` holds the seqs of sets that cannot
    /// be decided event by event (`random:N`, a single point).
    pub fn new(set: PointSet, resolved: Option<BTreeSet<u64>>) -> PointSelector {
        PointSelector {
            set,
            resolved,
            stores_since_fence: 0,
        }
    }

    /// True when the set needs a first pass over the trace to resolve.
    pub fn needs_resolution(set: &PointSet) -> bool {
        matches!(set, PointSet::Random(_) | PointSet::Point(_))
    }

    /// Whether `seq:0` (before any event) is visited.
    pub fn before_any(&self) -> bool {
        match &self.resolved {
            Some(r) => r.contains(&0),
            None => self.set == PointSet::All,
        }
    }

    /// Whether the point just after `ev` is visited (`last`: it is the last event).
    pub fn after(&mut self, ev: &Event, last: bool) -> bool {
        let always = last
            || matches!(&ev.kind, EventKind::Promise(_))
            || matches!(&ev.kind, EventKind::Mark(m) if m.label == CRASH_MARK);
        let fence_after_writes = ev.kind.is_fence() && self.stores_since_fence > 0;
        if ev.kind.is_fence() {
            self.stores_since_fence = 0;
        } else if ev.kind.is_store_like() {
            self.stores_since_fence += 1;
        }
        let chosen = match (&self.resolved, &self.set) {
            (Some(r), _) => r.contains(&ev.seq),
            (None, PointSet::Fences) => fence_after_writes,
            (None, PointSet::Stores) => ev.kind.is_store_like(),
            (None, PointSet::Marks) => matches!(ev.kind, EventKind::Mark(_)),
            (None, PointSet::All) => true,
            (None, PointSet::SeqRange { start, end }) => (*start..=*end).contains(&ev.seq),
            (None, _) => false,
        };
        always || chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pmemvm_traces::{Mark, Write};

    fn store(seq: u64) -> Event {
        Event::new(
            seq,
            EventKind::Store(Write::new(0x1_0000_0000, 0, vec![1], 0)),
        )
    }

    #[test]
    fn fences_count_only_after_writes_and_promises_marks_end_always() {
        let mut s = PointSelector::new(PointSet::Fences, None);
        assert!(
            !s.after(&Event::new(1, EventKind::Sfence), false),
            "nothing to persist"
        );
        assert!(!s.after(&store(2), false));
        assert!(s.after(&Event::new(3, EventKind::Sfence), false));
        assert!(!s.after(&Event::new(4, EventKind::Mfence), false));
        assert!(s.after(
            &Event::new(5, EventKind::Mark(Mark::new(CRASH_MARK))),
            false
        ));
        assert!(!s.after(&Event::new(6, EventKind::Mark(Mark::new("other"))), false));
        assert!(s.after(&store(7), true), "the end");
    }
}
