//! `pmemvm trace export --format chrome`: the Chrome trace-event format
//! (JSON object form) that Perfetto and `chrome://tracing` open.
//!
//! * Process 1 is the guest; thread 1 is its vCPU (traces have one vCPU).
//! * Mark regions (`NAME-begin` … `NAME-end`) are `B`/`E` slices on the
//!   vCPU track; other marks, writes, flushes, fences, port I/O, promises
//!   and the power failure are instant events (`ph: "i"`).
//! * A counter (`ph: "C"`) named `lines` on thread 0 counts the lines written
//!   by status: `dirty`, `flushed-not-fenced`, `pending-nt`, `persisted`.
//! * Timestamps are the events' sequence numbers, in microseconds (`ts` =
//!   seq), so the export is deterministic.
//!
//! The output is written to a temporary file beside the target and renamed
//! into place when complete.

use std::io::{BufRead, BufWriter};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::marks::{self, MarkTracker, Region, Transition};
use super::tracker::{LineStatus, LineTracker};
use crate::error::{Result, TraceError};
use crate::event::{Event, EventKind};
use crate::files::OutputFile;
use crate::hex::{encode, format_addr};
use crate::reader::TraceReader;

/// The process id of the guest in the export.
pub const PID: u64 = 1;
/// The thread id of the (only) vCPU.
pub const VCPU_TID: u64 = 1;
/// The thread id the counter events carry (counters belong to the process).
pub const COUNTER_TID: u64 = 0;
/// The name of the counter of lines by status.
pub const COUNTER_NAME: &str = "lines";

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Trace events read.
    pub events_read: u64,
    /// Chrome trace events written.
    pub events_written: u64,
}

/// Streams Chrome trace events as the members of `traceEvents`.
struct Out<W> {
    w: W,
    name: PathBuf,
    written: u64,
}

impl<W: std::io::Write> Out<W> {
    fn emit(&mut self, v: &Value) -> Result<()> {
        let sep: &[u8] = if self.written == 0 { b"\n" } else { b",\n" };
        self.w
            .write_all(sep)
            .and_then(|()| serde_json::to_writer(&mut self.w, v).map_err(Into::into))
            .map_err(|e| TraceError::io(&self.name, e))?;
        self.written += 1;
        Ok(())
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.w
            .write_all(bytes)
            .map_err(|e| TraceError::io(&self.name, e))
    }
}

fn instant(name: &str, cat: &str, ts: u64, args: Value) -> Value {
    json!({"name": name, "cat": cat, "ph": "i", "s": "t", "ts": ts, "pid": PID, "tid": VCPU_TID, "args": args})
}

fn slice(ph: &str, region: &Region, ts: u64) -> Value {
    let mut args = Map::new();
    args.insert("label".into(), format!("{}-begin", region.name).into());
    args.insert("begin_seq".into(), region.seq.into());
    mark_fields(&region.mark, &mut args);
    json!({"name": region.describe(), "cat": "mark", "ph": ph, "ts": ts, "pid": PID, "tid": VCPU_TID, "args": args})
}

fn mark_fields(m: &crate::Mark, args: &mut Map<String, Value>) {
    for (k, v) in [("file", m.file), ("page", m.page), ("op", m.op)] {
        if let Some(v) = v {
            args.insert(k.into(), v.into());
        }
    }
    if let Some(r) = m.range {
        args.insert(
            "range".into(),
            json!({"offset": format_addr(r.offset), "len": r.len}),
        );
    }
}

/// The instant event of a non-mark event, or of a mark that is not a boundary.
fn instant_of(ev: &Event) -> Value {
    let ts = ev.seq;
    let k = &ev.kind;
    match k {
        EventKind::Store(w) | EventKind::NtStore(w) | EventKind::Rmw(w) => {
            let cat = if k.is_fence() { "write,fence" } else { "write" };
            instant(
                k.name(),
                cat,
                ts,
                json!({"seq": ev.seq, "offset": format_addr(w.offset), "line": format_addr(w.line()),
                       "size": w.size(), "data": encode(&w.data), "rip": format_addr(w.rip)}),
            )
        }
        EventKind::Clwb(f) | EventKind::ClflushOpt(f) | EventKind::Clflush(f) => instant(
            k.name(),
            "flush",
            ts,
            json!({"seq": ev.seq, "offset": format_addr(f.offset), "line": format_addr(f.line)}),
        ),
        EventKind::Sfence | EventKind::Mfence => {
            instant(k.name(), "fence", ts, json!({"seq": ev.seq}))
        }
        EventKind::Io(io) => instant(
            "io",
            "io",
            ts,
            json!({"seq": ev.seq, "port": format_addr(u64::from(io.port))}),
        ),
        EventKind::Mark(m) => {
            let mut args = Map::new();
            args.insert("seq".into(), ev.seq.into());
            args.insert("label".into(), m.label.clone().into());
            mark_fields(m, &mut args);
            instant(&marks::describe(m), "mark", ts, Value::Object(args))
        }
        EventKind::Promise(p) => instant(
            "promise",
            "promise",
            ts,
            json!({"seq": ev.seq, "file": p.file, "offset": format_addr(p.offset), "len": p.len, "op": p.op,
                   "ranges": p.ranges.iter().map(|r| json!({"offset": format_addr(r.offset), "len": r.len})).collect::<Vec<_>>()}),
        ),
        EventKind::PowerFail(pf) => {
            let mut v = instant(
                "power-fail",
                "power-fail",
                ts,
                json!({"seq": ev.seq, "point": pf.point.to_string(), "image": pf.image}),
            );
            v["s"] = "g".into();
            v
        }
    }
}

fn counter(ts: u64, counts: [u64; 4]) -> Value {
    let mut args = Map::new();
    for (s, n) in LineStatus::ALL.iter().zip(counts) {
        args.insert(s.name().into(), n.into());
    }
    json!({"name": COUNTER_NAME, "cat": "lines", "ph": "C", "ts": ts, "pid": PID, "tid": COUNTER_TID, "args": args})
}

/// Writes the Chrome trace of `reader` into `w` (`name` is used in errors).
pub fn write<R: BufRead, W: std::io::Write>(
    reader: &mut TraceReader<R>,
    w: W,
    name: &Path,
) -> Result<Summary> {
    let header = reader.header().clone();
    let mut out = Out {
        w,
        name: name.to_path_buf(),
        written: 0,
    };
    let other = json!({
        "format": "pmemvm-trace chrome export",
        "scenario": header.scenario, "variant": header.variant, "seed": header.seed,
        "persistence": header.persistence.name(), "atomicity": header.atomicity.name(),
        "ts_unit": "one microsecond per event: ts = seq",
    });
    out.raw(b"{\"displayTimeUnit\":\"ns\",\"otherData\":")?;
    serde_json::to_writer(&mut out.w, &other).map_err(|e| TraceError::io(name, e.into()))?;
    out.raw(b",\"traceEvents\":[")?;
    let meta = |n: &str, tid: u64, value: String| json!({"name": n, "ph": "M", "ts": 0, "pid": PID, "tid": tid, "args": {"name": value}});
    out.emit(&meta(
        "process_name",
        COUNTER_TID,
        format!("pmemvm {}/{}", header.scenario, header.variant),
    ))?;
    out.emit(&meta("thread_name", VCPU_TID, "vCPU 0".into()))?;
    let mut tracker: LineTracker = LineTracker::new(&header);
    let mut regions = MarkTracker::new();
    let counts = |t: &LineTracker| LineStatus::ALL.map(|s| t.count(s));
    let mut last_counts = counts(&tracker);
    out.emit(&counter(0, last_counts))?;
    let mut last_ts = 0;
    let mut read = 0;
    while let Some(ev) = reader.next_event()? {
        read += 1;
        let ts = ev.seq;
        last_ts = ts;
        match regions.observe(&ev) {
            Transition::Opened => {
                if let Some(r) = regions.innermost() {
                    out.emit(&slice("B", r, ts))?;
                }
            }
            Transition::Closed {
                region,
                interrupted,
            } => {
                let open = regions.open();
                let reopened = &open[open.len() - interrupted..];
                for r in reopened.iter().rev() {
                    out.emit(&slice("E", r, ts))?;
                }
                out.emit(&slice("E", &region, ts))?;
                for r in reopened {
                    out.emit(&slice("B", r, ts))?;
                }
            }
            Transition::Instant | Transition::None => out.emit(&instant_of(&ev))?,
        }
        tracker.observe(&ev);
        let now = counts(&tracker);
        if now != last_counts {
            out.emit(&counter(ts, now))?;
            last_counts = now;
        }
    }
    for r in regions.open().iter().rev() {
        out.emit(&slice("E", r, last_ts))?;
    }
    out.raw(b"\n]}\n")?;
    out.w.flush().map_err(|e| TraceError::io(name, e))?;
    Ok(Summary {
        events_read: read,
        events_written: out.written,
    })
}

/// Writes the Chrome trace of `reader` to the output file `path` (an
/// [`OutputFile`]: through a temporary file renamed into place when complete).
pub fn export<R: BufRead>(reader: &mut TraceReader<R>, path: &Path) -> Result<Summary> {
    let mut w = BufWriter::with_capacity(1 << 16, OutputFile::create(path)?);
    let summary = write(reader, &mut w, path)?;
    w.into_inner()
        .map_err(|e| TraceError::io(path, e.into_error()))?
        .commit()?;
    Ok(summary)
}
