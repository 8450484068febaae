//! `pmemvm trace lines FILE --at POINT`: every line written before the
//! point, its state there and the sequence numbers that decide it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use pmemvm_device::model::{CachedStatus, LineState, UnitState};
use pmemvm_traces::CrashPoint;
use pmemvm_traces::analysis::tracker::LineStatus;
use pmemvm_traces::hex::format_addr;
use serde::Serialize;

use crate::error::VmmError;
use crate::replay::replay_to;

/// The status of one unit, in the terms of the trace tools.
pub fn unit_status(u: &UnitState) -> LineStatus {
    match u.status {
        CachedStatus::Dirty => LineStatus::Dirty,
        CachedStatus::FlushedNotFenced => LineStatus::FlushedNotFenced,
        CachedStatus::Persisted if !u.pending_nt.is_empty() => LineStatus::PendingNt,
        CachedStatus::Persisted => LineStatus::Persisted,
    }
}

/// The status of a line: that of its least durable unit.
pub fn line_status(state: &LineState) -> LineStatus {
    state
        .units
        .iter()
        .map(unit_status)
        .max()
        .unwrap_or(LineStatus::Persisted)
}

/// A pending `clwb`/`clflushopt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingFlush {
    /// Sequence number of the flush.
    pub flush: u64,
    /// Sequence number of the latest cached write it covers (0: none of the run's).
    pub store: u64,
}

/// The state of one atomicity unit (the line itself in line atomicity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitReport {
    /// Device offset of the unit.
    #[serde(with = "pmemvm_traces::hex::addr")]
    pub offset: u64,
    /// Its status.
    pub status: LineStatus,
    /// Its latest cached write (0: none).
    pub latest_store: u64,
    /// Its latest cached write that is guaranteed persistent (0: none).
    pub persisted_store: u64,
    /// The clflush, fence or drain point that guaranteed it (0: none).
    pub persisted_by: u64,
    /// The flush waiting for a fence, if any.
    pub flush: Option<PendingFlush>,
    /// Its NT writes waiting for a fence.
    pub pending_nt: Vec<u64>,
}

impl UnitReport {
    fn new(u: &UnitState) -> UnitReport {
        UnitReport {
            offset: u.offset,
            status: unit_status(u),
            latest_store: u.latest_store,
            persisted_store: u.persisted_store,
            persisted_by: u.persisted_by,
            flush: u.flush.map(|f| PendingFlush {
                flush: f.flush,
                store: f.store,
            }),
            pending_nt: u.pending_nt.clone(),
        }
    }

    fn written(&self) -> bool {
        self.latest_store != 0 || !self.pending_nt.is_empty()
    }
}

/// One line written before the point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineReport {
    /// Device offset of the line.
    #[serde(with = "pmemvm_traces::hex::addr")]
    pub line: u64,
    /// Its status (that of its least durable unit).
    pub status: LineStatus,
    /// Its units: one in line atomicity, eight in word atomicity.
    pub units: Vec<UnitReport>,
}

/// Every line written before a crash point, with its state there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinesReport {
    /// The trace.
    pub trace: String,
    /// The crash point.
    pub point: String,
    /// The seq just after which it lies.
    pub seq: u64,
    /// `mem-ctrl` or `cpu`.
    pub persistence: &'static str,
    /// `line` or `word`.
    pub atomicity: &'static str,
    /// Number of lines by status.
    pub counts: BTreeMap<&'static str, u64>,
    /// The lines, ascending.
    pub lines: Vec<LineReport>,
}

/// Replays the trace at `path` to `point` and reports every line written.
pub fn lines_at(path: &Path, point: &CrashPoint) -> Result<LinesReport, VmmError> {
    let r = replay_to(path, point)?;
    let lines: Vec<LineReport> = r
        .model
        .touched_lines()
        .filter_map(|l| r.model.line_state(l))
        .map(|s| LineReport {
            line: s.offset,
            status: line_status(&s),
            units: s.units.iter().map(UnitReport::new).collect(),
        })
        .collect();
    let counts = LineStatus::ALL
        .iter()
        .map(|s| {
            (
                s.name(),
                lines.iter().filter(|l| l.status == *s).count() as u64,
            )
        })
        .collect();
    Ok(LinesReport {
        trace: path.display().to_string(),
        point: point.to_string(),
        seq: r.seq,
        persistence: r.header.persistence.name(),
        atomicity: r.header.atomicity.name(),
        counts,
        lines,
    })
}

fn seq_or_dash(seq: u64) -> String {
    if seq == 0 {
        "-".into()
    } else {
        seq.to_string()
    }
}

fn unit_row(f: &mut fmt::Formatter<'_>, name: &str, u: &UnitReport) -> fmt::Result {
    let flush = u
        .flush
        .as_ref()
        .map_or_else(|| "-".into(), |p| format!("{} ({})", p.flush, p.store));
    let nt = if u.pending_nt.is_empty() {
        "-".into()
    } else {
        u.pending_nt
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    writeln!(
        f,
        "{name:<14} {:<18} {:>8} {:>9} {:>9} {:<15} {nt}",
        u.status.name(),
        seq_or_dash(u.latest_store),
        seq_or_dash(u.persisted_store),
        seq_or_dash(u.persisted_by),
        flush
    )
}

impl fmt::Display for LinesReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts: Vec<String> = self
            .counts
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        writeln!(
            f,
            "{} at {} (just after seq {}), {} / {}: {} lines written ({})",
            self.trace,
            self.point,
            self.seq,
            self.persistence,
            self.atomicity,
            self.lines.len(),
            counts.join(", ")
        )?;
        writeln!(
            f,
            "{:<14} {:<18} {:>8} {:>9} {:>9} {:<15} pending-nt",
            "line", "status", "store", "persisted", "by", "flush (store)"
        )?;
        for l in &self.lines {
            match l.units.as_slice() {
                [one] => unit_row(f, &format_addr(l.line), one)?,
                units => {
                    writeln!(f, "{:<14} {}", format_addr(l.line), l.status.name())?;
                    for u in units.iter().filter(|u| u.written()) {
                        unit_row(f, &format!("  {}", format_addr(u.offset)), u)?;
                    }
                }
            }
        }
        Ok(())
    }
}
