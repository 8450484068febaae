//! Which crash points of an `epochs` recording are instants of the run.
//!
//! An `epochs` recording writes, at each guest exit, the epoch's changed
//! lines first and its flushes and fences after them. The order inside an
//! epoch is not program order, so a point between two of its events is not
//! an instant of the run. These are:
//!
//! * `seq:0`;
//! * under ADR, the point just after an event marked `epoch_end` (the guest
//!   exit that ended the epoch, where every event of the epoch had
//!   happened), the end of the trace, and the point just before an `sfence`
//!   or `mfence` that ends an epoch (the guest rang the doorbell right after
//!   the fence): every store and flush of the epoch had happened, the fence
//!   had not. Claiming the epoch's stores before its flushes can only claim
//!   a line flushed later than it was, so the images there are states of
//!   the run (`CRASH-POINTS.md`, "Epoch recording");
//! * under eADR, the point just after an epoch that the guest ended with a
//!   drain point that exits (a fence and its doorbell, port I/O, a mark, a
//!   promise): nothing is in flight there. Elsewhere the stores in flight
//!   persist as a prefix in program order, which an epoch does not keep.
//!
//! In a `stores` recording every point is an instant.

use crate::event::{Event, EventKind};
use crate::header::Recording;
use pmemvm_abi::persistence::Persistence;

/// True when `ev` is a fence instruction (no write of its own) that ended
/// an epoch.
fn closing_fence(ev: &Event) -> bool {
    ev.epoch_end && matches!(ev.kind, EventKind::Sfence | EventKind::Mfence)
}

/// True when `ev` is a drain point the guest exits at (so an epoch that
/// ends with it has nothing after it): a fence, port I/O, a mark, a promise.
fn exit_drain(ev: &Event) -> bool {
    ev.kind.is_drain_point() && !matches!(ev.kind, EventKind::Clflush(_))
}

/// The rule of one trace: its recording mode and persistence domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instants {
    recording: Recording,
    persistence: Persistence,
}

impl Instants {
    /// The rule for a trace recorded in `recording` mode under `persistence`.
    pub fn new(recording: Recording, persistence: Persistence) -> Instants {
        Instants {
            recording,
            persistence,
        }
    }

    /// True for an `epochs` recording (some points are not instants).
    pub fn restricted(&self) -> bool {
        self.recording == Recording::Epochs
    }

    /// Whether the point between `before` (the event just before it, `None`
    /// at `seq:0`) and `after` (the event just after it, `None` at the end)
    /// is an instant of the run.
    pub fn is_instant(&self, before: Option<&Event>, after: Option<&Event>) -> bool {
        match (before, after) {
            (None, _) => true,
            (Some(b), a) => match self.after(b) {
                Some(known) => known,
                None => a.is_none_or(closing_fence),
            },
        }
    }

    /// Whether the point just after `ev` is an instant, when `ev` alone
    /// says; `None` when it is one only if the next event is a fence that
    /// ends the epoch (ADR), or the trace ends there.
    pub fn after(&self, ev: &Event) -> Option<bool> {
        match (self.recording, self.persistence) {
            (Recording::Stores, _) => Some(true),
            (Recording::Epochs, Persistence::Adr) => ev.epoch_end.then_some(true),
            (Recording::Epochs, Persistence::Eadr) => Some(ev.epoch_end && exit_drain(ev)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Flush, Write};

    fn events() -> Vec<Event> {
        // One epoch: a store, its flush, the fence that ended it; then a mark's epoch.
        let mut evs = Event::numbered(vec![
            EventKind::Store(Write::new(0x1_0000_0000, 0, vec![1], 0)),
            EventKind::Clwb(Flush::new(0x1_0000_0000, 0)),
            EventKind::Sfence,
            EventKind::Mark(crate::event::Mark::new("m")),
        ]);
        evs[2].epoch_end = true;
        evs[3].epoch_end = true;
        evs
    }

    #[test]
    fn epoch_ends_and_the_point_before_a_closing_fence_are_instants_under_adr() {
        let e = events();
        let adr = Instants::new(Recording::Epochs, Persistence::Adr);
        let at = |s: usize| adr.is_instant(s.checked_sub(1).map(|i| &e[i]), e.get(s));
        assert_eq!(
            (0..=4).map(at).collect::<Vec<_>>(),
            [true, false, true, true, true]
        );
        let eadr = Instants::new(Recording::Epochs, Persistence::Eadr);
        let at = |s: usize| eadr.is_instant(s.checked_sub(1).map(|i| &e[i]), e.get(s));
        assert_eq!(
            (0..=4).map(at).collect::<Vec<_>>(),
            [true, false, false, true, true]
        );
        let stores = Instants::new(Recording::Stores, Persistence::Adr);
        assert!(stores.is_instant(Some(&e[0]), Some(&e[1])));
    }
}
