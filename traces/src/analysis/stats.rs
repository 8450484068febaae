//! `pmemvm trace stats`: counts by event kind, stores by size, bytes
//! written, lines touched, fences, flush and durability smells, and the same
//! per mark region. One pass, per-line counts only.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::BufRead;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::marks::MarkTracker;
use super::tracker::{FlushEffect, LineStatus, LineTracker};
use crate::error::Result;
use crate::event::{Event, EventKind, KIND_NAMES};
use crate::header::Header;
use crate::reader::TraceReader;

/// A number per event kind, serialized as an object in the order of [`KIND_NAMES`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindCounts([u64; KIND_NAMES.len()]);

impl KindCounts {
    fn index(kind: &EventKind) -> usize {
        KIND_NAMES
            .iter()
            .position(|n| *n == kind.name())
            .unwrap_or_default()
    }

    /// Adds `n` to the kind of `kind`.
    pub fn add(&mut self, kind: &EventKind, n: u64) {
        self.0[Self::index(kind)] += n;
    }

    /// The number for a kind name (0 for an unknown name).
    pub fn get(&self, name: &str) -> u64 {
        KIND_NAMES
            .iter()
            .position(|n| *n == name)
            .map_or(0, |i| self.0[i])
    }

    /// `(kind name, number)` in the order of [`KIND_NAMES`].
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        KIND_NAMES.iter().copied().zip(self.0.iter().copied())
    }
}

impl Serialize for KindCounts {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(KIND_NAMES.len()))?;
        for (name, n) in self.iter() {
            m.serialize_entry(name, &n)?;
        }
        m.end()
    }
}

/// What happened in one part of a trace (a mark region, or outside every region).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// Events (the region's own marks included).
    pub events: u64,
    /// Store-like events (`store`, `ntstore`, `rmw`).
    pub stores: u64,
    /// Bytes they wrote.
    pub bytes: u64,
    /// Flushes (`clwb`, `clflushopt`, `clflush`).
    pub flushes: u64,
    /// Fences (`sfence`, `mfence`, `rmw`).
    pub fences: u64,
    /// Flushes of a line with no cached write left to persist.
    pub unnecessary_flushes: u64,
    /// `clwb`/`clflushopt` of a line an earlier one already covered, with no fence between.
    pub redundant_flushes: u64,
    /// Lines not guaranteed persistent at the end whose last write was here.
    pub lines_not_durable: u64,
}

/// The activity of one mark region name (every `NAME-begin` … `NAME-end`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionStats {
    /// The region name (label without `-begin`).
    pub region: String,
    /// How many times it was opened.
    pub instances: u64,
    /// What happened inside it (innermost region only).
    #[serde(flatten)]
    pub activity: Activity,
}

/// The statistics of a trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Scenario of the header.
    pub scenario: String,
    /// Variant of the header.
    pub variant: String,
    /// `mem-ctrl` (ADR) or `cpu` (eADR).
    pub persistence: &'static str,
    /// `line` or `word`.
    pub atomicity: &'static str,
    /// Number of events.
    pub events: u64,
    /// Events by kind.
    pub kinds: KindCounts,
    /// Store-like events by size in bytes.
    pub store_sizes: BTreeMap<u64, u64>,
    /// Bytes written by kind (`store`, `ntstore`, `rmw`).
    pub bytes_by_kind: KindCounts,
    /// Bytes written in all.
    pub bytes_written: u64,
    /// Distinct lines written.
    pub lines_touched: u64,
    /// Distinct lines flushed (written or not).
    pub lines_flushed: u64,
    /// Fences (`sfence`, `mfence`, `rmw`).
    pub fences: u64,
    /// Flushes (`clwb`, `clflushopt`, `clflush`).
    pub flushes: u64,
    /// Flushes of a line with no cached write left to persist (a performance smell).
    pub unnecessary_flushes: u64,
    /// `clwb`/`clflushopt` of a line already flushed with no fence since (a performance smell).
    pub redundant_flushes: u64,
    /// Writes not guaranteed persistent at the end of the trace (a durability smell).
    pub stores_not_durable: u64,
    /// Lines holding such writes.
    pub lines_not_durable: u64,
    /// Lines written, by their status at the end.
    pub lines_by_status: BTreeMap<&'static str, u64>,
    /// Marks by label.
    pub marks: BTreeMap<String, u64>,
    /// Per region name, in order of first appearance.
    pub regions: Vec<RegionStats>,
    /// What happened outside every region.
    pub outside_regions: Activity,
}

/// Where a line's last write happened: an index into the regions, or outside.
#[derive(Debug, Clone, Copy, Default)]
struct LastWrite(Option<usize>);

/// Builds [`Stats`] one event at a time.
#[derive(Debug)]
pub struct StatsBuilder {
    stats: Stats,
    tracker: LineTracker<LastWrite>,
    marks: MarkTracker,
    region_index: HashMap<String, usize>,
    flushed_lines: std::collections::HashSet<u64>,
}

impl StatsBuilder {
    /// Statistics of a trace with this header, no event yet.
    pub fn new(header: &Header) -> StatsBuilder {
        StatsBuilder {
            stats: Stats {
                scenario: header.scenario.clone(),
                variant: header.variant.clone(),
                persistence: header.persistence.name(),
                atomicity: header.atomicity.name(),
                events: 0,
                kinds: KindCounts::default(),
                store_sizes: BTreeMap::new(),
                bytes_by_kind: KindCounts::default(),
                bytes_written: 0,
                lines_touched: 0,
                lines_flushed: 0,
                fences: 0,
                flushes: 0,
                unnecessary_flushes: 0,
                redundant_flushes: 0,
                stores_not_durable: 0,
                lines_not_durable: 0,
                lines_by_status: BTreeMap::new(),
                marks: BTreeMap::new(),
                regions: Vec::new(),
                outside_regions: Activity::default(),
            },
            tracker: LineTracker::new(header),
            marks: MarkTracker::new(),
            region_index: HashMap::new(),
            flushed_lines: std::collections::HashSet::new(),
        }
    }

    /// The open mark regions after the events so far.
    pub fn marks(&self) -> &MarkTracker {
        &self.marks
    }

    /// Index of the innermost open region in `stats.regions`.
    fn current_region(&self) -> Option<usize> {
        self.marks
            .innermost()
            .and_then(|r| self.region_index.get(&r.name).copied())
    }

    fn activity(&mut self, region: Option<usize>) -> &mut Activity {
        match region {
            Some(i) => &mut self.stats.regions[i].activity,
            None => &mut self.stats.outside_regions,
        }
    }

    /// Counts one event.
    pub fn observe(&mut self, ev: &Event) {
        let s = &mut self.stats;
        s.events += 1;
        s.kinds.add(&ev.kind, 1);
        if let EventKind::Mark(m) = &ev.kind {
            *s.marks.entry(m.label.clone()).or_default() += 1;
        }
        if matches!(self.marks.observe(ev), super::marks::Transition::Opened)
            && let Some(r) = self.marks.innermost()
        {
            let next = self.region_index.len();
            let i = *self.region_index.entry(r.name.clone()).or_insert(next);
            if i == next {
                self.stats.regions.push(RegionStats {
                    region: r.name.clone(),
                    instances: 0,
                    activity: Activity::default(),
                });
            }
            self.stats.regions[i].instances += 1;
        }
        let region = self.current_region();
        let effect = self.tracker.observe(ev);
        let s = &mut self.stats;
        let a = match region {
            Some(i) => &mut s.regions[i].activity,
            None => &mut s.outside_regions,
        };
        a.events += 1;
        if let Some(w) = ev.kind.write() {
            let size = w.size();
            *s.store_sizes.entry(size).or_default() += 1;
            s.bytes_by_kind.add(&ev.kind, size);
            s.bytes_written += size;
            a.stores += 1;
            a.bytes += size;
            if let Some(last) = self.tracker.extra_mut(w.line()) {
                *last = LastWrite(region);
            }
        }
        if ev.kind.is_fence() {
            s.fences += 1;
            a.fences += 1;
        }
        if let Some(f) = ev.kind.flush() {
            s.flushes += 1;
            a.flushes += 1;
            self.flushed_lines.insert(f.line);
            match effect {
                Some(FlushEffect::Unnecessary) => {
                    s.unnecessary_flushes += 1;
                    a.unnecessary_flushes += 1;
                }
                Some(FlushEffect::Redundant) => {
                    s.redundant_flushes += 1;
                    a.redundant_flushes += 1;
                }
                Some(FlushEffect::Useful) | None => {}
            }
        }
    }

    /// The statistics of the events observed.
    pub fn finish(mut self) -> Stats {
        let mut not_durable = Vec::new();
        for (_, counts, last) in self.tracker.lines() {
            if counts.not_durable() > 0 {
                self.stats.stores_not_durable += counts.not_durable();
                self.stats.lines_not_durable += 1;
                not_durable.push(last.0);
            }
        }
        for region in not_durable {
            self.activity(region).lines_not_durable += 1;
        }
        self.stats.lines_touched = self.tracker.lines_touched();
        self.stats.lines_flushed = self.flushed_lines.len() as u64;
        self.stats.lines_by_status = LineStatus::ALL
            .iter()
            .map(|s| (s.name(), self.tracker.count(*s)))
            .collect();
        self.stats
    }
}

/// The statistics of a whole trace, read as a stream.
pub fn compute<R: BufRead>(reader: &mut TraceReader<R>) -> Result<Stats> {
    let mut b = StatsBuilder::new(reader.header());
    super::for_each_event(reader, |ev| {
        b.observe(ev);
        Ok(())
    })?;
    Ok(b.finish())
}

fn row(f: &mut fmt::Formatter<'_>, name: &str, a: &Activity, instances: &str) -> fmt::Result {
    writeln!(
        f,
        "  {name:<24} {instances:>9} {:>8} {:>8} {:>9} {:>8} {:>7} {:>11} {:>9} {:>14}",
        a.events,
        a.stores,
        a.bytes,
        a.flushes,
        a.fences,
        a.unnecessary_flushes,
        a.redundant_flushes,
        a.lines_not_durable
    )
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}/{} ({}, {} atomicity): {} events",
            self.scenario, self.variant, self.persistence, self.atomicity, self.events
        )?;
        writeln!(f, "events by kind:")?;
        for (name, n) in self.kinds.iter().filter(|(_, n)| *n > 0) {
            writeln!(f, "  {name:<11} {n:>10}")?;
        }
        let sizes: Vec<String> = self
            .store_sizes
            .iter()
            .map(|(size, n)| format!("{size} B x{n}"))
            .collect();
        writeln!(
            f,
            "stores by size: {}",
            if sizes.is_empty() {
                "none".to_string()
            } else {
                sizes.join(", ")
            }
        )?;
        let by_kind: Vec<String> = self
            .bytes_by_kind
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        write!(f, "bytes written: {}", self.bytes_written)?;
        if !by_kind.is_empty() {
            write!(f, " ({})", by_kind.join(", "))?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "lines touched: {} (flushed: {})",
            self.lines_touched, self.lines_flushed
        )?;
        writeln!(
            f,
            "fences: {} (sfence {}, mfence {}, rmw {})",
            self.fences,
            self.kinds.get("sfence"),
            self.kinds.get("mfence"),
            self.kinds.get("rmw")
        )?;
        writeln!(
            f,
            "flushes: {} (clwb {}, clflushopt {}, clflush {})",
            self.flushes,
            self.kinds.get("clwb"),
            self.kinds.get("clflushopt"),
            self.kinds.get("clflush")
        )?;
        writeln!(
            f,
            "  of a line with nothing left to persist: {}",
            self.unnecessary_flushes
        )?;
        writeln!(
            f,
            "  redundant (line already flushed, no fence since): {}",
            self.redundant_flushes
        )?;
        writeln!(
            f,
            "writes never guaranteed persistent before the end: {} (in {} lines)",
            self.stores_not_durable, self.lines_not_durable
        )?;
        let statuses: Vec<String> = self
            .lines_by_status
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        writeln!(f, "lines at the end: {}", statuses.join(", "))?;
        if !self.marks.is_empty() {
            let marks: Vec<String> = self
                .marks
                .iter()
                .map(|(l, n)| format!("{l} x{n}"))
                .collect();
            writeln!(f, "marks: {}", marks.join(", "))?;
        }
        if !self.regions.is_empty() {
            writeln!(f, "per mark region (innermost):")?;
            writeln!(
                f,
                "  {:<24} {:>9} {:>8} {:>8} {:>9} {:>8} {:>7} {:>11} {:>9} {:>14}",
                "region",
                "instances",
                "events",
                "stores",
                "bytes",
                "flushes",
                "fences",
                "unnecessary",
                "redundant",
                "not-durable-ln"
            )?;
            for r in &self.regions {
                row(f, &r.region, &r.activity, &r.instances.to_string())?;
            }
            row(f, "(outside regions)", &self.outside_regions, "-")?;
        }
        Ok(())
    }
}
