//! `pmemvm trace show`: the events, one per line, with the line they
//! concern and the innermost mark region they happen in; filtered by a
//! range of crash points, a line and event kinds.

use std::fmt;
use std::io::BufRead;

use serde::{Serialize, Serializer};

use super::marks::{self, MarkTracker};
use super::tracker::{LineStatus, LineTracker};
use crate::error::Result;
use crate::event::{Event, EventKind, KIND_NAMES};
use crate::hex::{encode, format_addr};
use crate::reader::TraceReader;

/// Names that stand for several kinds in `--kind`.
pub const KIND_GROUPS: [(&str, &[&str]); 3] = [
    ("writes", &["store", "ntstore", "rmw"]),
    ("flushes", &["clwb", "clflushopt", "clflush"]),
    ("fences", &["sfence", "mfence", "rmw"]),
];

/// A set of event kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSet([bool; KIND_NAMES.len()]);

impl KindSet {
    /// Parses a comma-separated list of kind names and groups
    /// (`writes`, `flushes`, `fences`); the error names an unknown word.
    pub fn parse(text: &str) -> std::result::Result<KindSet, String> {
        let mut set = [false; KIND_NAMES.len()];
        for word in text.split(',').map(str::trim) {
            let names: &[&str] = match KIND_GROUPS.iter().find(|(g, _)| *g == word) {
                Some((_, names)) => names,
                None => std::slice::from_ref(&word),
            };
            for name in names {
                let Some(i) = KIND_NAMES.iter().position(|k| k == name) else {
                    let groups: Vec<&str> = KIND_GROUPS.iter().map(|(g, _)| *g).collect();
                    return Err(format!(
                        "unknown event kind `{word}` (expected one of: {}, or a group: {})",
                        KIND_NAMES.join(", "),
                        groups.join(", ")
                    ));
                };
                set[i] = true;
            }
        }
        Ok(KindSet(set))
    }

    /// True when the set holds the kind of `kind`.
    pub fn contains(&self, kind: &EventKind) -> bool {
        KIND_NAMES
            .iter()
            .position(|n| *n == kind.name())
            .is_some_and(|i| self.0[i])
    }
}

/// Which events to show.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Show events after this seq (the seq of a `--from` point; 0: from the start).
    pub after: u64,
    /// Show events up to this seq included (the seq of a `--to` point).
    pub until: Option<u64>,
    /// Only events concerning this line (device offset of the line): its
    /// writes and flushes, marks whose range overlaps it, and fences while
    /// it holds writes not yet guaranteed persistent.
    pub line: Option<u64>,
    /// Only events of these kinds.
    pub kinds: Option<KindSet>,
}

/// One event as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The event.
    pub event: Event,
    /// The innermost open mark region, described (`fsync op=7`).
    pub region: Option<String>,
}

impl Row {
    /// The event with the region it happens in (from the tracker that has seen it).
    pub fn new(event: Event, marks: &MarkTracker) -> Row {
        Row {
            region: marks.innermost().map(|r| r.describe()),
            event,
        }
    }
}

/// Column titles of the text form of [`Row`].
pub const TITLES: &str = "     seq kind        offset      line        size data                                         rip         region";

fn opt_addr(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), format_addr)
}

fn detail(kind: &EventKind) -> String {
    match kind {
        EventKind::Store(w) | EventKind::NtStore(w) | EventKind::Rmw(w) => encode(&w.data),
        EventKind::Io(io) => format!("port {}", format_addr(u64::from(io.port))),
        EventKind::Mark(m) => {
            let mut s = marks::describe(m);
            if let Some(r) = m.range {
                s.push_str(&format!(" range {}+{}", format_addr(r.offset), r.len));
            }
            s
        }
        EventKind::Promise(p) => format!(
            "file {} offset {} len {} op {} ({} ranges)",
            p.file,
            format_addr(p.offset),
            p.len,
            p.op,
            p.ranges.len()
        ),
        EventKind::PowerFail(pf) => match &pf.image {
            Some(image) => format!("at {} image {image}", pf.point),
            None => format!("at {}", pf.point),
        },
        EventKind::Clwb(_)
        | EventKind::ClflushOpt(_)
        | EventKind::Clflush(_)
        | EventKind::Sfence
        | EventKind::Mfence => String::new(),
    }
}

fn offset_of(kind: &EventKind) -> Option<u64> {
    match kind {
        EventKind::Store(w) | EventKind::NtStore(w) | EventKind::Rmw(w) => Some(w.offset),
        EventKind::Clwb(f) | EventKind::ClflushOpt(f) | EventKind::Clflush(f) => Some(f.offset),
        EventKind::Mark(m) => m.range.map(|r| r.offset),
        _ => None,
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = &self.event.kind;
        let size = k
            .write()
            .map_or_else(|| "-".to_string(), |w| w.size().to_string());
        let rip = k.write().map(|w| w.rip);
        write!(
            f,
            "{:>8} {:<11} {:<11} {:<11} {:>4} {:<44} {:<11} {}",
            self.event.seq,
            k.name(),
            opt_addr(offset_of(k)),
            opt_addr(k.line()),
            size,
            detail(k),
            opt_addr(rip),
            self.region.as_deref().unwrap_or("-")
        )
    }
}

impl Serialize for Row {
    /// The event's trace object without `init`, plus `line` (for writes)
    /// and `region` (null outside every region).
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut v = serde_json::to_value(&self.event).map_err(serde::ser::Error::custom)?;
        if let Some(obj) = v.as_object_mut() {
            obj.remove("init");
            if let Some(w) = self.event.kind.write() {
                obj.insert("line".into(), format_addr(w.line()).into());
            }
            obj.insert(
                "region".into(),
                self.region
                    .clone()
                    .map_or(serde_json::Value::Null, Into::into),
            );
        }
        v.serialize(s)
    }
}

/// Decides, one event at a time, which events [`Filter`] keeps.
#[derive(Debug)]
pub struct Show {
    filter: Filter,
    marks: MarkTracker,
    tracker: Option<LineTracker>,
}

impl Show {
    /// A filter over a trace with this header.
    pub fn new(filter: Filter, header: &crate::Header) -> Show {
        let tracker = filter.line.map(|_| LineTracker::new(header));
        Show {
            filter,
            marks: MarkTracker::new(),
            tracker,
        }
    }

    /// True once every event the filter can keep has gone by.
    pub fn done(&self, seq: u64) -> bool {
        self.filter.until.is_some_and(|u| seq >= u)
    }

    /// Observes the next event; its row when the filter keeps it.
    pub fn row(&mut self, ev: &Event) -> Option<Row> {
        let concerns_line = match (self.filter.line, &mut self.tracker) {
            (Some(line), Some(tracker)) => {
                let pending = tracker
                    .status(line)
                    .is_some_and(|s| s != LineStatus::Persisted);
                tracker.observe(ev);
                match &ev.kind {
                    EventKind::Mark(m) => marks::covers_line(m, line),
                    k if k.line() == Some(line) => true,
                    k => k.is_fence() && pending,
                }
            }
            _ => true,
        };
        self.marks.observe(ev);
        let in_range = ev.seq > self.filter.after && self.filter.until.is_none_or(|u| ev.seq <= u);
        let kind_ok = self.filter.kinds.is_none_or(|k| k.contains(&ev.kind));
        (in_range && kind_ok && concerns_line).then(|| Row::new(ev.clone(), &self.marks))
    }
}

/// Streams the events of `reader` through `filter`, handing each kept row
/// to `emit`; returns the number of rows.
pub fn run<R: BufRead>(
    reader: &mut TraceReader<R>,
    filter: Filter,
    mut emit: impl FnMut(&Row) -> Result<()>,
) -> Result<u64> {
    let mut show = Show::new(filter, reader.header());
    let mut rows = 0;
    while let Some(ev) = reader.next_event()? {
        if let Some(row) = show.row(&ev) {
            emit(&row)?;
            rows += 1;
        }
        if show.done(ev.seq) {
            break;
        }
    }
    Ok(rows)
}
