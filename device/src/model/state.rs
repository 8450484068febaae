//! Per-line introspection for the trace tools.

use super::{LINE_SIZE, Line, Model, Unit};

/// Where the cached writes of a unit stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CachedStatus {
    /// Every cached write is certainly persistent.
    Persisted,
    /// The latest cached write is covered by a `clwb`/`clflushopt` that
    /// waits for a fence (ADR).
    FlushedNotFenced,
    /// The latest cached write may or may not be persistent, and no pending
    /// flush covers it.
    Dirty,
}

/// A `clwb`/`clflushopt` waiting for a fence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlushInfo {
    /// Sequence number of the flush.
    pub flush: u64,
    /// Sequence number of the latest cached write it covers (0 = none of the run's).
    pub store: u64,
}

/// The state of one atomicity unit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UnitState {
    /// Device offset of the unit.
    pub offset: u64,
    /// Summary of its cached writes.
    pub status: CachedStatus,
    /// Sequence number of its latest cached write (0 = none in the run).
    pub latest_store: u64,
    /// Sequence number of its latest certainly persistent cached write (0 = none).
    pub persisted_store: u64,
    /// Sequence number of the event (clflush, fence, drain point) that made
    /// `persisted_store` certain (0 = none).
    pub persisted_by: u64,
    /// The pending flush, if any (ADR).
    pub flush: Option<FlushInfo>,
    /// Sequence numbers of its pending (uncommitted) NT writes.
    pub pending_nt: Vec<u64>,
}

/// The state of one touched line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LineState {
    /// Device offset of the line.
    pub offset: u64,
    /// Its units: one in line mode, eight in word mode.
    pub units: Vec<UnitState>,
}

impl LineState {
    /// True when every unit is persisted and no NT write is pending.
    pub fn is_persistent(&self) -> bool {
        self.units
            .iter()
            .all(|u| u.status == CachedStatus::Persisted && u.pending_nt.is_empty())
    }
}

fn unit_state(offset: u64, unit: &Unit) -> UnitState {
    let flush = unit
        .flush
        .filter(|f| f.index > unit.lb_index)
        .map(|f| FlushInfo {
            flush: f.seq,
            store: unit
                .hist
                .get((f.index - unit.lb_index - 1) as usize)
                .map_or(unit.lb_seq, |w| w.seq),
        });
    let status = if unit.hist.is_empty() {
        CachedStatus::Persisted
    } else if flush.is_some_and(|f| f.store == unit.latest_seq()) {
        CachedStatus::FlushedNotFenced
    } else {
        CachedStatus::Dirty
    };
    UnitState {
        offset,
        status,
        latest_store: unit.latest_seq(),
        persisted_store: unit.lb_seq,
        persisted_by: unit.persisted_by,
        flush,
        pending_nt: unit.nt.iter().map(|n| n.write.seq).collect(),
    }
}

fn line_state(li: u64, line: &Line, unit_size: u64) -> LineState {
    let offset = li * LINE_SIZE;
    LineState {
        offset,
        units: line
            .units
            .iter()
            .enumerate()
            .map(|(ui, u)| unit_state(offset + ui as u64 * unit_size, u))
            .collect(),
    }
}

impl Model {
    /// The state of the line holding `line_offset`, or `None` if it was not touched.
    pub fn line_state(&self, line_offset: u64) -> Option<LineState> {
        let li = line_offset / LINE_SIZE;
        self.lines
            .get(&li)
            .map(|line| line_state(li, line, self.unit_size()))
    }

    /// Number of touched lines.
    pub fn touched_count(&self) -> usize {
        self.lines.len()
    }

    /// Device offsets of the touched lines, ascending.
    pub fn touched_lines(&self) -> impl Iterator<Item = u64> + use<> {
        self.sorted_line_indices()
            .into_iter()
            .map(|li| li * LINE_SIZE)
    }

    /// The states of the lines that are not entirely persistent, ascending.
    pub fn unpersisted_lines(&self) -> Vec<LineState> {
        self.sorted_line_indices()
            .into_iter()
            .filter_map(|li| self.lines.get(&li).map(|l| (li, l)))
            .filter(|(_, l)| l.units.iter().any(|u| u.has_choice()))
            .map(|(li, l)| line_state(li, l, self.unit_size()))
            .collect()
    }
}
