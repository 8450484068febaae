//! What caused a failed image, in program terms: the writes it lost (their
//! instructions, and whether a flush or a fence was missing), the write
//! after them that persisted anyway, and the window between the guest's
//! marks where the point lies (for re-testing a fix).

use pmemvm_device::crash::ImageSpec;
use pmemvm_device::model::{CachedStatus, Model};
use pmemvm_traces::{CrashPoint, Event, EventKind, LINE_SIZE};
use std::collections::HashMap;

/// A write in flight at a crash point that an image lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostWrite {
    /// Its sequence number.
    pub seq: u64,
    /// The guest instruction that made it.
    pub rip: u64,
    /// Device offset of its line.
    pub line: u64,
    /// Why it could be lost.
    pub why: Missing,
}

/// What was missing for a lost write to be certainly persistent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// A cached write never flushed before the crash point.
    Flush,
    /// A cached write flushed (by the event of this sequence number) with
    /// no fence after the flush before the crash point.
    FenceAfterFlush(u64),
    /// A non-temporal write with no fence after it before the crash point.
    FenceAfterNtStore,
}

/// A write in flight that the image held although it came after a lost one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeptWrite {
    /// Its sequence number.
    pub seq: u64,
    /// The guest instruction that made it.
    pub rip: u64,
}

/// The writes in flight an image lost, and the last later write it kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loss {
    /// The lost writes, by sequence number.
    pub lost: Vec<LostWrite>,
    /// The last write in flight that the image holds, when it comes after
    /// the first lost one: typically the commit that persisted without
    /// the data it commits.
    pub kept_after: Option<KeptWrite>,
}

/// The instruction and line of every write of the run, by sequence number.
/// Only the writes still in flight are kept: memory follows what is not
/// yet persistent, as the model's does.
#[derive(Debug, Default)]
pub struct WriteRips {
    /// Instruction, line and whether it is an NT write.
    writes: HashMap<u64, (u64, u64, bool)>,
    /// Past this many entries, drop those no longer in flight.
    prune_at: usize,
}

impl WriteRips {
    /// Notes event `ev`, which `model` has just applied.
    pub fn observe(&mut self, ev: &Event, model: &Model) {
        if let Some(w) = ev.kind.write() {
            let nt = matches!(ev.kind, EventKind::NtStore(_));
            self.writes.insert(ev.seq, (w.rip, w.line(), nt));
        }
        if self.writes.len() > self.prune_at {
            let in_flight = model.in_flight(&ImageSpec::Units(Vec::new())).lost;
            self.writes
                .retain(|seq, _| in_flight.binary_search(seq).is_ok());
            self.prune_at = (2 * self.writes.len()).max(4096);
        }
    }

    /// What the image named by `spec` lost at the model's current point.
    pub fn loss(&self, model: &Model, spec: &ImageSpec) -> Loss {
        let in_flight = model.in_flight(spec);
        let lost: Vec<LostWrite> = in_flight
            .lost
            .iter()
            .filter_map(|&seq| {
                let &(rip, line, nt) = self.writes.get(&seq)?;
                let why = if nt {
                    Missing::FenceAfterNtStore
                } else {
                    flush_of(model, line, seq).map_or(Missing::Flush, Missing::FenceAfterFlush)
                };
                Some(LostWrite {
                    seq,
                    rip,
                    line,
                    why,
                })
            })
            .collect();
        let kept_after = lost.first().and_then(|first| {
            let seq = *in_flight.present.last().filter(|&&s| s > first.seq)?;
            let &(rip, _, _) = self.writes.get(&seq)?;
            Some(KeptWrite { seq, rip })
        });
        Loss { lost, kept_after }
    }
}

/// The pending flush covering cached write `seq` of `line`, if any.
fn flush_of(model: &Model, line: u64, seq: u64) -> Option<u64> {
    let state = model.line_state(line & !(LINE_SIZE - 1))?;
    state
        .units
        .iter()
        .filter(|u| u.status != CachedStatus::Persisted)
        .filter_map(|u| u.flush)
        .find(|f| f.store >= seq)
        .map(|f| f.flush)
}

/// Where a crash point lies among the guest's marks: from the last mark at
/// or before it to the first mark after it (`None`: the start, the end).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarkWindow {
    /// Just after the last mark at or before the point.
    pub from: Option<CrashPoint>,
    /// Just after the first mark after the point.
    pub to: Option<CrashPoint>,
}

/// Follows the marks of a trace to give each point its [`MarkWindow`].
#[derive(Debug, Default)]
pub struct MarkWindows {
    counts: HashMap<String, u64>,
    last: Option<CrashPoint>,
    /// Points whose window still waits for its closing mark.
    waiting: Vec<u64>,
}

impl MarkWindows {
    /// The window of a point just after the last event observed, `seq`;
    /// its end is given by [`observe`](Self::observe) later.
    pub fn at_point(&mut self, seq: u64) -> MarkWindow {
        self.waiting.push(seq);
        MarkWindow {
            from: self.last.clone(),
            to: None,
        }
    }

    /// Notes an event; on a mark, returns it as a crash point with the
    /// points before it whose window it closes.
    pub fn observe(&mut self, ev: &Event) -> Option<(CrashPoint, Vec<u64>)> {
        let EventKind::Mark(m) = &ev.kind else {
            return None;
        };
        let nth = self.counts.entry(m.label.clone()).or_insert(0);
        *nth += 1;
        let point = CrashPoint::Mark {
            label: m.label.clone(),
            nth: *nth,
        };
        self.last = Some(point.clone());
        Some((point, std::mem::take(&mut self.waiting)))
    }
}
