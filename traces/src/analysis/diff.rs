//! `pmemvm trace diff A B`: where two traces of the same scenario diverge
//! (header fields, then the first differing event), then their statistics
//! side by side. Both traces are read as streams, in step.

use std::fmt;
use std::io::BufRead;

use serde::Serialize;

use super::show::{Row, TITLES};
use super::stats::{Stats, StatsBuilder};
use crate::Header;
use crate::error::Result;
use crate::hex::{encode, format_addr};
use crate::reader::TraceReader;

/// A header field that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldDifference {
    /// The field.
    pub field: &'static str,
    /// Its value in A.
    pub a: String,
    /// Its value in B.
    pub b: String,
}

/// The first event that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Divergence {
    /// Its sequence number.
    pub seq: u64,
    /// The event of A (`None`: A ends before it).
    pub a: Option<Row>,
    /// The event of B (`None`: B ends before it).
    pub b: Option<Row>,
}

/// The comparison of two traces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// Name of trace A.
    pub a_name: String,
    /// Name of trace B.
    pub b_name: String,
    /// True when the headers and every event are equal.
    pub identical: bool,
    /// Header fields that differ.
    pub header: Vec<FieldDifference>,
    /// Number of leading events that are equal.
    pub common_events: u64,
    /// The first differing event, if any.
    pub first_difference: Option<Divergence>,
    /// Statistics of A.
    pub a: Stats,
    /// Statistics of B.
    pub b: Stats,
}

fn header_differences(a: &Header, b: &Header) -> Vec<FieldDifference> {
    let fields: [(&'static str, String, String); 9] = [
        ("scenario", a.scenario.clone(), b.scenario.clone()),
        ("variant", a.variant.clone(), b.variant.clone()),
        ("seed", a.seed.to_string(), b.seed.to_string()),
        (
            "persistence",
            a.persistence.name().into(),
            b.persistence.name().into(),
        ),
        (
            "atomicity",
            a.atomicity.name().into(),
            b.atomicity.name().into(),
        ),
        (
            "device.base",
            format_addr(a.device.base),
            format_addr(b.device.base),
        ),
        (
            "device.size",
            a.device.size.to_string(),
            b.device.size.to_string(),
        ),
        (
            "initial_media_sha256",
            encode(&a.initial_media_sha256),
            encode(&b.initial_media_sha256),
        ),
        (
            "tool_version",
            a.tool_version.clone(),
            b.tool_version.clone(),
        ),
    ];
    fields
        .into_iter()
        .filter(|(_, x, y)| x != y)
        .map(|(field, a, b)| FieldDifference { field, a, b })
        .collect()
}

/// Compares two traces, read in step.
pub fn compare<R1: BufRead, R2: BufRead>(
    a: &mut TraceReader<R1>,
    b: &mut TraceReader<R2>,
) -> Result<Diff> {
    let header = header_differences(a.header(), b.header());
    let mut sa = StatsBuilder::new(a.header());
    let mut sb = StatsBuilder::new(b.header());
    let mut common_events = 0;
    let mut first_difference = None;
    loop {
        let ea = a.next_event()?;
        let eb = b.next_event()?;
        if ea.is_none() && eb.is_none() {
            break;
        }
        if let Some(e) = &ea {
            sa.observe(e);
        }
        if let Some(e) = &eb {
            sb.observe(e);
        }
        if first_difference.is_none() {
            if ea == eb {
                common_events += 1;
            } else {
                let seq = common_events + 1;
                first_difference = Some(Divergence {
                    seq,
                    a: ea.map(|e| Row::new(e, sa.marks())),
                    b: eb.map(|e| Row::new(e, sb.marks())),
                });
            }
        }
    }
    Ok(Diff {
        a_name: a.path().display().to_string(),
        b_name: b.path().display().to_string(),
        identical: header.is_empty() && first_difference.is_none(),
        header,
        common_events,
        first_difference,
        a: sa.finish(),
        b: sb.finish(),
    })
}

fn side(f: &mut fmt::Formatter<'_>, name: &str, row: &Option<Row>) -> fmt::Result {
    match row {
        Some(r) => writeln!(f, "  {name} {r}"),
        None => writeln!(f, "  {name} (ends here)"),
    }
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "A: {}", self.a_name)?;
        writeln!(f, "B: {}", self.b_name)?;
        if self.identical {
            return writeln!(f, "identical: same header, same {} events", self.a.events);
        }
        for d in &self.header {
            writeln!(f, "header {}: A {} / B {}", d.field, d.a, d.b)?;
        }
        match &self.first_difference {
            None => writeln!(f, "the events are identical ({})", self.common_events)?,
            Some(d) => {
                writeln!(
                    f,
                    "first difference at seq {} (after {} identical events):",
                    d.seq, self.common_events
                )?;
                writeln!(f, "  - {TITLES}")?;
                side(f, "A", &d.a)?;
                side(f, "B", &d.b)?;
            }
        }
        writeln!(f, "{:<40} {:>12} {:>12}", "counts", "A", "B")?;
        let mut line = |name: &str, a: u64, b: u64| -> fmt::Result {
            let mark = if a == b { "" } else { "  *" };
            writeln!(f, "{name:<40} {a:>12} {b:>12}{mark}")
        };
        line("events", self.a.events, self.b.events)?;
        for ((name, x), (_, y)) in self.a.kinds.iter().zip(self.b.kinds.iter()) {
            if x > 0 || y > 0 {
                line(&format!("  {name}"), x, y)?;
            }
        }
        line("bytes written", self.a.bytes_written, self.b.bytes_written)?;
        line("lines touched", self.a.lines_touched, self.b.lines_touched)?;
        line(
            "unnecessary flushes",
            self.a.unnecessary_flushes,
            self.b.unnecessary_flushes,
        )?;
        line(
            "redundant flushes",
            self.a.redundant_flushes,
            self.b.redundant_flushes,
        )?;
        line(
            "writes never guaranteed persistent",
            self.a.stores_not_durable,
            self.b.stores_not_durable,
        )?;
        line(
            "lines not durable at the end",
            self.a.lines_not_durable,
            self.b.lines_not_durable,
        )
    }
}
