//! Model-free analysis of traces, all streaming: a trace of millions of
//! events is read one event at a time, keeping per-line summaries only.
//!
//! * [`tracker`]: per-line durability counts (dirty, flushed but not
//!   fenced, pending NT, persisted) following the rules of `PERSISTENCY.md`
//!   at line granularity.
//! * [`marks`]: mark regions (`X-begin` … `X-end`) and mark descriptions.
//! * [`stats`]: `pmemvm trace stats`.
//! * [`show`]: `pmemvm trace show`.
//! * [`diff`]: `pmemvm trace diff`.
//! * [`chrome`]: `pmemvm trace export --format chrome`.

pub mod chrome;
pub mod diff;
pub mod marks;
pub mod show;
pub mod stats;
pub mod tracker;

use std::io::BufRead;
use std::path::Path;

use crate::error::Result;
use crate::point::CrashPoint;
use crate::reader::TraceReader;
use crate::resolver::PointResolver;

/// The seq just after which `point` lies in the trace at `path` (read up
/// to the point only).
pub fn resolve_point(path: &Path, point: &CrashPoint) -> Result<u64> {
    let reader = TraceReader::open(path)?;
    PointResolver::resolve(point.clone(), reader)
}

/// Reads every event of `reader`, handing each to `f`; returns the number of events.
pub fn for_each_event<R: BufRead>(
    reader: &mut TraceReader<R>,
    mut f: impl FnMut(&crate::Event) -> Result<()>,
) -> Result<u64> {
    let mut n = 0;
    while let Some(ev) = reader.next_event()? {
        f(&ev)?;
        n += 1;
    }
    Ok(n)
}
