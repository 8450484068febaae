//! `pmemvm trace why FILE --line ADDR --at POINT`: in words, why a line is or
//! is not guaranteed persistent at a crash point: which store wrote it,
//! which flush and which fence made it durable, or which of them is missing,
//! and which marks cover the line's device range around those events.
//!
//! Two streaming passes: the first replays the trace into the model to the
//! point (the model decides the state and names the deciding events by
//! sequence number), the second collects those events' details and the
//! marks around them, for this one line only.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::path::Path;

use pmemvm_device::model::{CachedStatus, UnitState};
use pmemvm_traces::analysis::marks::{self, MarkTracker, Transition};
use pmemvm_traces::analysis::tracker::LineStatus;
use pmemvm_traces::hex::format_addr;
use pmemvm_traces::{CrashPoint, Event, EventKind, LINE_SIZE, Persistence, TraceReader};
use serde::Serialize;

use super::lines::unit_status;
use crate::error::VmmError;
use crate::guest_code::Symbols;
use crate::replay::replay_to;

/// How many of the marks covering the line are listed (the latest ones).
pub const MARKS_LISTED: usize = 8;

/// A mark, described, with its sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarkRef {
    /// The mark: label and fields, `tag-dirty page=5`.
    pub mark: String,
    /// Its sequence number.
    pub seq: u64,
}

/// An event the explanation names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Its sequence number.
    pub seq: u64,
    /// Its kind.
    pub kind: &'static str,
    /// The guest RIP of a write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rip: Option<String>,
    /// The RIP's `function (file:line)` (and the function it was inlined
    /// into), when the guest's symbols are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// The open mark regions concerning the line at the event (their range
    /// overlaps the line, or they have none), innermost first.
    pub inside: Vec<String>,
    /// The latest mark (not a region boundary) covering the line before the event.
    pub after_mark: Option<MarkRef>,
}

/// The explanation for one atomicity unit (the line itself in line atomicity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitWhy {
    /// Device offset of the unit.
    #[serde(with = "pmemvm_traces::hex::addr")]
    pub offset: u64,
    /// Its status.
    pub status: LineStatus,
    /// The events that decide it, in the order the explanation names them.
    pub steps: Vec<Step>,
    /// The explanation, in words.
    pub text: String,
}

/// Why a line is or is not guaranteed persistent at a crash point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Why {
    /// The trace.
    pub trace: String,
    /// Device offset of the line.
    #[serde(with = "pmemvm_traces::hex::addr")]
    pub line: u64,
    /// The crash point.
    pub point: String,
    /// The seq just after which it lies.
    pub seq: u64,
    /// `mem-ctrl` or `cpu`.
    pub persistence: &'static str,
    /// Whether the line was written before the point.
    pub written: bool,
    /// Whether every image at the point holds its latest content.
    pub persistent: bool,
    /// Per unit written.
    pub units: Vec<UnitWhy>,
    /// The latest marks covering the line's device range up to the point.
    pub marks: Vec<MarkRef>,
    /// How many earlier marks covering it are not listed.
    pub earlier_marks: u64,
    /// The whole explanation, in words.
    pub explanation: String,
}

/// The last NT write to a unit and the fence after it.
#[derive(Debug, Clone)]
struct NtInfo {
    store: Step,
    fence: Option<Step>,
}

/// The second pass: details of the events that decide one line.
struct Collector<'s> {
    line: u64,
    symbols: Option<&'s Symbols>,
    unit_size: u64,
    wanted: HashSet<u64>,
    details: HashMap<u64, Step>,
    marks: MarkTracker,
    last_instant: Option<MarkRef>,
    covering: VecDeque<MarkRef>,
    covering_total: u64,
    nt: BTreeMap<u64, NtInfo>,
    last_flush: Option<Step>,
    flush_before: HashMap<u64, Step>,
}

impl Collector<'_> {
    fn step(&self, ev: &Event) -> Step {
        let rip = ev.kind.write().map(|w| w.rip);
        Step {
            seq: ev.seq,
            kind: ev.kind.name(),
            rip: rip.map(format_addr),
            function: rip
                .zip(self.symbols)
                .and_then(|(rip, s)| s.resolve(rip))
                .map(|r| r.to_string()),
            inside: self
                .marks
                .open()
                .iter()
                .rev()
                .filter(|r| r.concerns_line(self.line))
                .map(|r| r.describe())
                .collect(),
            after_mark: self.last_instant.clone(),
        }
    }

    fn observe(&mut self, ev: &Event) {
        let transition = self.marks.observe(ev);
        if let EventKind::Mark(m) = &ev.kind
            && marks::covers_line(m, self.line)
        {
            let r = MarkRef {
                mark: marks::describe(m),
                seq: ev.seq,
            };
            if transition == Transition::Instant {
                self.last_instant = Some(r.clone());
            }
            self.covering.push_back(r);
            self.covering_total += 1;
            if self.covering.len() > MARKS_LISTED {
                self.covering.pop_front();
            }
        }
        let touches = ev.kind.line() == Some(self.line);
        let awaited = ev.kind.is_fence() && self.nt.values().any(|n| n.fence.is_none());
        let wanted = self.wanted.contains(&ev.seq);
        if !(touches || awaited || wanted) {
            return;
        }
        let step = self.step(ev);
        if wanted {
            self.details.insert(ev.seq, step.clone());
            if ev.kind.is_fence()
                && let Some(f) = &self.last_flush
            {
                self.flush_before.insert(ev.seq, f.clone());
            }
        }
        if ev.kind.is_fence() {
            for n in self.nt.values_mut().filter(|n| n.fence.is_none()) {
                n.fence = Some(step.clone());
            }
        }
        match &ev.kind {
            EventKind::NtStore(w) if touches => {
                let unit = w.offset - w.offset % self.unit_size;
                self.nt.insert(
                    unit,
                    NtInfo {
                        store: step,
                        fence: None,
                    },
                );
            }
            k if touches && k.flush().is_some() => self.last_flush = Some(step),
            _ => {}
        }
    }
}

const NO_FENCE: &str = "no sfence, mfence or rmw followed before the crash point";

/// The marks an explanation has named so far, so that each is named once.
#[derive(Default)]
struct Named {
    /// Sequence numbers of the standalone marks named.
    marks: HashSet<u64>,
    /// The regions named last.
    inside: Vec<String>,
}

/// Builds the sentences of one unit.
struct Writer<'a> {
    c: &'a Collector<'a>,
    eadr: bool,
    last_drain: u64,
    steps: Vec<Step>,
    named: &'a mut Named,
}

impl Writer<'_> {
    /// `store seq 41 (rip 0x10abc log::append (src/log.rs:42)) wrote it
    /// inside mark `fsync op=7` after
    /// mark `fault-wp page=5` (seq 40)`: the event, what it did, and the
    /// marks around it that were not named yet.
    fn name(&mut self, step: &Step, verb: &str) -> String {
        let mut s = format!("{} seq {}", step.kind, step.seq);
        match (&step.rip, &step.function) {
            (Some(rip), Some(function)) => s.push_str(&format!(" (rip {rip} {function})")),
            (Some(rip), None) => s.push_str(&format!(" (rip {rip})")),
            (None, _) => {}
        }
        s.push(' ');
        s.push_str(verb);
        if step.inside != self.named.inside {
            if let Some((inner, outer)) = step.inside.split_first() {
                s.push_str(&format!(" inside mark `{inner}`"));
                if !outer.is_empty() {
                    let outer: Vec<String> = outer.iter().map(|o| format!("`{o}`")).collect();
                    s.push_str(&format!(" (within {})", outer.join(", ")));
                }
            }
            self.named.inside = step.inside.clone();
        }
        if let Some(m) = &step.after_mark
            && self.named.marks.insert(m.seq)
        {
            s.push_str(&format!(" after mark `{}` (seq {})", m.mark, m.seq));
        }
        self.steps.push(step.clone());
        s
    }

    fn seq(&mut self, seq: u64, verb: &str) -> String {
        match self.c.details.get(&seq) {
            Some(step) => self.name(step, verb),
            None => format!("seq {seq} {verb}"),
        }
    }

    fn cached(&mut self, u: &UnitState) -> Option<String> {
        if u.latest_store == 0 {
            return None;
        }
        let store = self.seq(u.latest_store, "wrote it");
        Some(match u.status {
            CachedStatus::Persisted => {
                let by = self.c.details.get(&u.persisted_by).cloned();
                let flush = self.c.flush_before.get(&u.persisted_by).cloned();
                match (by, flush) {
                    (Some(b), _) if self.eadr => format!(
                        "{store}, and {} (eADR: the CPU caches are in the persistence domain)",
                        self.name(&b, "drained it")
                    ),
                    (Some(b), _) if b.kind == "clflush" => format!(
                        "{store}, {} (clflush needs no fence)",
                        self.name(&b, "flushed it")
                    ),
                    (Some(b), Some(fl)) => format!(
                        "{store}, {}, {}",
                        self.name(&fl, "flushed it"),
                        self.name(&b, "committed the flush")
                    ),
                    (Some(b), None) => format!("{store}, {}", self.name(&b, "made it durable")),
                    (None, _) => format!("{store}, made durable at seq {}", u.persisted_by),
                }
            }
            CachedStatus::FlushedNotFenced => {
                let flush = u.flush.map_or(0, |f| f.flush);
                format!("{store}, {}, but {NO_FENCE}", self.seq(flush, "flushed it"))
            }
            CachedStatus::Dirty => {
                let mut s = match u.flush {
                    _ if self.eadr => {
                        let drain = match self.last_drain {
                            0 => "before any drain point".to_string(),
                            d => format!("after the last drain point (seq {d})"),
                        };
                        format!(
                            "{store} {drain}, and no sfence, mfence, rmw, clflush or port I/O (io, mark, promise) followed before the crash point"
                        )
                    }
                    Some(f) => format!(
                        "{store} after {} (that flush covers only up to store seq {}), and no clwb, clflushopt or clflush of the line followed before the crash point",
                        self.seq(f.flush, "flushed the line"),
                        f.store
                    ),
                    None => format!(
                        "{store}, but no clwb, clflushopt or clflush of the line followed before the crash point"
                    ),
                };
                if u.persisted_store != 0 {
                    let by = self
                        .c
                        .details
                        .get(&u.persisted_by)
                        .map_or("seq", |d| d.kind);
                    s.push_str(&format!(
                        "; the line is guaranteed only up to store seq {} (made durable by {by} seq {})",
                        u.persisted_store, u.persisted_by
                    ));
                }
                s
            }
        })
    }

    fn non_temporal(&mut self, u: &UnitState) -> Option<String> {
        let n = self.c.nt.get(&u.offset)?.clone();
        if let Some(&last) = u.pending_nt.iter().max() {
            let more = match u.pending_nt.len() {
                1 => String::new(),
                k => format!(" ({} NT writes pending)", k),
            };
            let store = self.seq(last, "wrote it (non-temporal)");
            return Some(format!("{store}{more}, but {NO_FENCE}"));
        }
        if n.store.seq < u.latest_store {
            return None;
        }
        let fence = n.fence.as_ref()?;
        Some(format!(
            "{}, {}",
            self.name(&n.store, "wrote it (non-temporal)"),
            self.name(fence, "committed it")
        ))
    }
}

/// Explains the state of the line at device offset `line` at `point`,
/// naming the functions of RIPs with `symbols` (the guest's) when given.
pub fn why(
    path: &Path,
    line: u64,
    point: &CrashPoint,
    symbols: Option<&Symbols>,
) -> Result<Why, VmmError> {
    let line = line - line % LINE_SIZE;
    let r = replay_to(path, point)?;
    let state = r.model.line_state(line);
    let eadr = r.header.persistence == Persistence::Eadr;
    let mut wanted = HashSet::new();
    for u in state.iter().flat_map(|s| &s.units) {
        wanted.extend([u.latest_store, u.persisted_store, u.persisted_by]);
        if let Some(f) = u.flush {
            wanted.extend([f.flush, f.store]);
        }
        wanted.extend(u.pending_nt.iter().max());
    }
    wanted.remove(&0);
    let mut c = Collector {
        line,
        symbols,
        unit_size: r.header.atomicity.unit_size(),
        wanted,
        details: HashMap::new(),
        marks: MarkTracker::new(),
        last_instant: None,
        covering: VecDeque::new(),
        covering_total: 0,
        nt: BTreeMap::new(),
        last_flush: None,
        flush_before: HashMap::new(),
    };
    let mut reader = TraceReader::open(path)?;
    while let Some(ev) = reader.next_event()? {
        if ev.seq > r.seq {
            break;
        }
        c.observe(&ev);
    }
    let point_text = point.to_string();
    let mut named = Named::default();
    let mut units = Vec::new();
    for u in state.iter().flat_map(|s| &s.units) {
        let mut w = Writer {
            c: &c,
            eadr,
            last_drain: r.model.last_drain(),
            steps: Vec::new(),
            named: &mut named,
        };
        let clauses: Vec<String> = [w.cached(u), w.non_temporal(u)]
            .into_iter()
            .flatten()
            .collect();
        if clauses.is_empty() {
            continue;
        }
        units.push(UnitWhy {
            offset: u.offset,
            status: unit_status(u),
            steps: w.steps,
            text: clauses.join("; "),
        });
    }
    let persistent = state.as_ref().is_none_or(|s| s.is_persistent());
    let at = format!("at {point_text} (just after seq {})", r.seq);
    let mut explanation = match &state {
        None => format!(
            "line {} was not written before the crash point: every image {at} holds its initial content",
            format_addr(line)
        ),
        Some(_) => {
            let verdict = if persistent { "is" } else { "is NOT" };
            let word_mode = units.len() > 1 || units.iter().any(|u| u.offset != line);
            let body: Vec<String> = units
                .iter()
                .map(|u| {
                    if word_mode {
                        format!("word {}: {}", format_addr(u.offset), u.text)
                    } else {
                        u.text.clone()
                    }
                })
                .collect();
            format!(
                "line {} {verdict} guaranteed persistent {at}: {}",
                format_addr(line),
                body.join("; ")
            )
        }
    };
    explanation.push('.');
    let marks: Vec<MarkRef> = c.covering.iter().cloned().collect();
    let earlier_marks = c.covering_total - marks.len() as u64;
    if marks.is_empty() {
        explanation.push_str("\nNo mark covers the line's device range before the crash point.");
    } else {
        let list: Vec<String> = marks
            .iter()
            .map(|m| format!("`{}` (seq {})", m.mark, m.seq))
            .collect();
        let earlier = match earlier_marks {
            0 => String::new(),
            n => format!(" (and {n} earlier)"),
        };
        explanation.push_str(&format!(
            "\nMarks covering the line's device range before the crash point{earlier}: {}.",
            list.join(", ")
        ));
    }
    Ok(Why {
        trace: path.display().to_string(),
        line,
        point: point_text,
        seq: r.seq,
        persistence: r.header.persistence.name(),
        written: state.is_some(),
        persistent,
        units,
        marks,
        earlier_marks,
        explanation,
    })
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.explanation)
    }
}
