//! Per-line durability counts, model-free: for each line written, how many
//! of its writes are not yet guaranteed persistent and what they wait for.
//!
//! This follows the rules of `PERSISTENCY.md` at line granularity (a line is
//! only as durable as its least durable write), which is all the statistics,
//! filters and counter tracks need; the exact images are the device model's
//! business. Under ADR a cached write is guaranteed persistent after a
//! `clflush` of its line, or a `clwb`/`clflushopt` of its line followed by a
//! fence (`sfence`, `mfence`, `rmw`); an NT write after a fence. Under eADR a
//! cached write is persistent at the next drain point
//! ([`EventKind::is_drain_point`]: fence, `rmw`, `clflush`, `io`, `mark`,
//! `promise`, the same events the device model drains at); NT writes still
//! wait for a fence.

use std::collections::HashMap;

use serde::Serialize;

use crate::event::{Event, EventKind};
use crate::header::Header;
use pmemvm_abi::persistence::Persistence;

/// Where a line stands, from least to most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LineStatus {
    /// Every write to it is guaranteed persistent.
    Persisted,
    /// Only NT writes wait, for a fence.
    PendingNt,
    /// Its latest cached write is flushed (`clwb`/`clflushopt`) and waits for a fence.
    FlushedNotFenced,
    /// Its latest cached write is not covered by any flush.
    Dirty,
}

impl LineStatus {
    /// Every status, in the order of the counter tracks and tables.
    pub const ALL: [LineStatus; 4] = [
        LineStatus::Dirty,
        LineStatus::FlushedNotFenced,
        LineStatus::PendingNt,
        LineStatus::Persisted,
    ];

    /// The name used in text and JSON: `dirty`, `flushed-not-fenced`, `pending-nt`, `persisted`.
    pub fn name(self) -> &'static str {
        match self {
            LineStatus::Persisted => "persisted",
            LineStatus::PendingNt => "pending-nt",
            LineStatus::FlushedNotFenced => "flushed-not-fenced",
            LineStatus::Dirty => "dirty",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The durability counts of one line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineCounts {
    /// Cached writes (`store`, `rmw`) not yet guaranteed persistent.
    pub unpersisted: u64,
    /// Of those, how many a pending `clwb`/`clflushopt` covers (ADR).
    pub flushed: u64,
    /// NT writes not yet committed by a fence.
    pub pending_nt: u64,
}

impl LineCounts {
    /// The status these counts mean.
    pub fn status(&self) -> LineStatus {
        if self.unpersisted > self.flushed {
            LineStatus::Dirty
        } else if self.unpersisted > 0 {
            LineStatus::FlushedNotFenced
        } else if self.pending_nt > 0 {
            LineStatus::PendingNt
        } else {
            LineStatus::Persisted
        }
    }

    /// Writes not yet guaranteed persistent (cached and NT).
    pub fn not_durable(&self) -> u64 {
        self.unpersisted + self.pending_nt
    }
}

/// What a flush did to its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushEffect {
    /// It covered at least one cached write no earlier flush covered.
    Useful,
    /// The line had no cached write left to persist (a performance smell).
    Unnecessary,
    /// A `clwb`/`clflushopt` of the line already covered every cached
    /// write, and no fence came since.
    Redundant,
}

struct Entry<T> {
    counts: LineCounts,
    extra: T,
}

/// Durability counts of every line written, fed one event at a time, with
/// `T` kept per line for the caller (for example the region of its last store).
pub struct LineTracker<T = ()> {
    eadr: bool,
    lines: HashMap<u64, Entry<T>>,
    /// Lines that may have a pending flush (ADR); duplicates are harmless.
    flushed: Vec<u64>,
    /// Lines that may have pending NT writes.
    nt: Vec<u64>,
    /// eADR: lines that may have cached writes after the last drain point.
    dirty: Vec<u64>,
    by_status: [u64; 4],
}

impl<T> std::fmt::Debug for LineTracker<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineTracker")
            .field("eadr", &self.eadr)
            .field("lines", &self.lines.len())
            .field("by_status", &self.by_status)
            .finish_non_exhaustive()
    }
}

impl<T: Default> LineTracker<T> {
    /// A tracker for a trace with this header.
    pub fn new(header: &Header) -> LineTracker<T> {
        LineTracker {
            eadr: header.persistence == Persistence::Eadr,
            lines: HashMap::new(),
            flushed: Vec::new(),
            nt: Vec::new(),
            dirty: Vec::new(),
            by_status: [0; 4],
        }
    }

    /// Applies one event; for a flush, says what it did.
    pub fn observe(&mut self, ev: &Event) -> Option<FlushEffect> {
        let effect = match &ev.kind {
            EventKind::Store(w) | EventKind::Rmw(w) => {
                self.cached_write(w.line());
                None
            }
            EventKind::NtStore(w) => {
                let line = w.line();
                if self
                    .update(line, true, |c| c.pending_nt += 1)
                    .is_some_and(|c| c.pending_nt == 1)
                {
                    self.nt.push(line);
                }
                None
            }
            EventKind::Clwb(f) | EventKind::ClflushOpt(f) => {
                let effect = self.flush_effect(f.line);
                if !self.eadr && effect == FlushEffect::Useful {
                    self.update(f.line, false, |c| c.flushed = c.unpersisted);
                    self.flushed.push(f.line);
                }
                Some(effect)
            }
            EventKind::Clflush(f) => {
                let effect = self.flush_effect(f.line);
                if !self.eadr {
                    self.update(f.line, false, |c| {
                        c.unpersisted = 0;
                        c.flushed = 0;
                    });
                }
                Some(effect)
            }
            _ => None,
        };
        if ev.kind.is_fence() {
            self.fence();
        }
        if self.eadr && ev.kind.is_drain_point() {
            self.drain();
        }
        effect
    }

    fn cached_write(&mut self, line: u64) {
        if self
            .update(line, true, |c| c.unpersisted += 1)
            .is_some_and(|c| c.unpersisted == 1)
            && self.eadr
        {
            self.dirty.push(line);
        }
    }

    fn flush_effect(&self, line: u64) -> FlushEffect {
        match self.lines.get(&line).map(|e| e.counts) {
            Some(c) if c.unpersisted == 0 => FlushEffect::Unnecessary,
            None => FlushEffect::Unnecessary,
            Some(c) if !self.eadr && c.flushed == c.unpersisted => FlushEffect::Redundant,
            Some(_) => FlushEffect::Useful,
        }
    }

    /// Changes a line's counts (creating it when `create`), keeping the
    /// per-status totals; returns the new counts, `None` when the line is
    /// unknown and not created.
    fn update(
        &mut self,
        line: u64,
        create: bool,
        f: impl FnOnce(&mut LineCounts),
    ) -> Option<LineCounts> {
        let entry = if create {
            self.lines.entry(line).or_insert_with(|| {
                self.by_status[LineStatus::Persisted.index()] += 1;
                Entry {
                    counts: LineCounts::default(),
                    extra: T::default(),
                }
            })
        } else {
            self.lines.get_mut(&line)?
        };
        let before = entry.counts.status();
        f(&mut entry.counts);
        let after = entry.counts;
        self.by_status[before.index()] -= 1;
        self.by_status[after.status().index()] += 1;
        Some(after)
    }

    /// A fence: commits pending flushes (ADR) and NT writes (under eADR it
    /// is also a drain point, which [`LineTracker::observe`] applies).
    fn fence(&mut self) {
        for line in std::mem::take(&mut self.flushed) {
            self.update(line, false, |c| {
                c.unpersisted -= c.flushed;
                c.flushed = 0;
            });
        }
        for line in std::mem::take(&mut self.nt) {
            self.update(line, false, |c| c.pending_nt = 0);
        }
    }

    /// eADR drain point: every cached write so far is persistent.
    fn drain(&mut self) {
        for line in std::mem::take(&mut self.dirty) {
            self.update(line, false, |c| c.unpersisted = 0);
        }
    }

    /// The counts of a line, `None` when it was never written.
    pub fn counts(&self, line: u64) -> Option<LineCounts> {
        self.lines.get(&line).map(|e| e.counts)
    }

    /// The status of a line, `None` when it was never written.
    pub fn status(&self, line: u64) -> Option<LineStatus> {
        self.counts(line).map(|c| c.status())
    }

    /// Number of lines written so far.
    pub fn lines_touched(&self) -> u64 {
        self.lines.len() as u64
    }

    /// Number of lines written so far that have this status.
    pub fn count(&self, status: LineStatus) -> u64 {
        self.by_status[status.index()]
    }

    /// The caller's data of a line, `None` when it was never written.
    pub fn extra_mut(&mut self, line: u64) -> Option<&mut T> {
        self.lines.get_mut(&line).map(|e| &mut e.extra)
    }

    /// Every line written, in no particular order, with its counts and data.
    pub fn lines(&self) -> impl Iterator<Item = (u64, &LineCounts, &T)> {
        self.lines.iter().map(|(l, e)| (*l, &e.counts, &e.extra))
    }
}
