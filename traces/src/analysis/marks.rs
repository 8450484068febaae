//! Marks as the tools read them: a label ending in `-begin` opens a region
//! named by the rest of the label, the next `-end` with that name closes
//! it; any other mark (and an `-end` with no open region) stands on its own.
//! A mark is described by its label and fields: `tag-dirty page=5`.

use std::fmt::Write as _;

use serde::Serialize;

use crate::event::{Event, EventKind, Mark};
use pmemvm_abi::persistence::LINE_SIZE;

/// What a mark label says about regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary<'a> {
    /// `NAME-begin`: opens region NAME.
    Begin(&'a str),
    /// `NAME-end`: closes region NAME.
    End(&'a str),
    /// Any other label.
    Instant,
}

/// Reads a label: `fsync-begin` opens `fsync`, `fsync-end` closes it.
pub fn boundary(label: &str) -> Boundary<'_> {
    match (label.strip_suffix("-begin"), label.strip_suffix("-end")) {
        (Some(name), _) if !name.is_empty() => Boundary::Begin(name),
        (_, Some(name)) if !name.is_empty() => Boundary::End(name),
        _ => Boundary::Instant,
    }
}

/// The structured fields of a mark as text: ` file=3 page=5 op=7` (each
/// preceded by a space; empty when there are none).
pub fn fields(m: &Mark) -> String {
    let mut s = String::new();
    for (name, v) in [("file", m.file), ("page", m.page), ("op", m.op)] {
        if let Some(v) = v {
            let _ = write!(s, " {name}={v}");
        }
    }
    s
}

/// A mark as text: its label and fields, `tag-dirty page=5`.
pub fn describe(m: &Mark) -> String {
    format!("{}{}", m.label, fields(m))
}

/// True when the mark's range overlaps the line at device offset `line`.
pub fn covers_line(m: &Mark, line: u64) -> bool {
    m.range.is_some_and(|r| r.overlaps(line, LINE_SIZE))
}

/// An open region: the `-begin` mark that opened it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Region {
    /// The region's name (the label without `-begin`).
    pub name: String,
    /// Sequence number of the `-begin` mark.
    pub seq: u64,
    /// The `-begin` mark.
    #[serde(skip)]
    pub mark: Mark,
}

impl Region {
    /// The region as text: its name and the fields of its `-begin` mark, `fsync op=7`.
    pub fn describe(&self) -> String {
        format!("{}{}", self.name, fields(&self.mark))
    }

    /// True when the region concerns the line at device offset `line`: its
    /// range overlaps it, or it has no range (an operation of the whole guest).
    pub fn concerns_line(&self, line: u64) -> bool {
        self.mark.range.is_none() || covers_line(&self.mark, line)
    }
}

/// What a mark did to the open regions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// Not a mark.
    None,
    /// A region opened; it is now the innermost.
    Opened,
    /// A region closed. The `interrupted` innermost regions were opened
    /// inside it and are still open: they are on top of the stack again,
    /// so that regions stay nested (a slice view closes and reopens them).
    Closed {
        /// The region closed.
        region: Region,
        /// How many regions opened inside it remain open (now the innermost).
        interrupted: usize,
    },
    /// A mark that opens or closes nothing.
    Instant,
}

/// The regions open at each point of a trace, fed one event at a time.
/// Holds only the open regions.
#[derive(Debug, Clone, Default)]
pub struct MarkTracker {
    open: Vec<Region>,
}

impl MarkTracker {
    /// No region open.
    pub fn new() -> MarkTracker {
        MarkTracker::default()
    }

    /// Applies one event.
    pub fn observe(&mut self, ev: &Event) -> Transition {
        let EventKind::Mark(m) = &ev.kind else {
            return Transition::None;
        };
        match boundary(&m.label) {
            Boundary::Begin(name) => {
                self.open.push(Region {
                    name: name.to_string(),
                    seq: ev.seq,
                    mark: m.clone(),
                });
                Transition::Opened
            }
            Boundary::End(name) => {
                // The innermost open region of that name; with an `op`, the
                // one of that operation when there is one.
                let same_op = |r: &Region| m.op.is_none() || r.mark.op == m.op;
                let found = self
                    .open
                    .iter()
                    .rposition(|r| r.name == name && same_op(r))
                    .or_else(|| self.open.iter().rposition(|r| r.name == name));
                match found {
                    Some(i) => {
                        let region = self.open.remove(i);
                        Transition::Closed {
                            region,
                            interrupted: self.open.len() - i,
                        }
                    }
                    None => Transition::Instant,
                }
            }
            Boundary::Instant => Transition::Instant,
        }
    }

    /// The open regions, outermost first.
    pub fn open(&self) -> &[Region] {
        &self.open
    }

    /// The innermost open region.
    pub fn innermost(&self) -> Option<&Region> {
        self.open.last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(seq: u64, label: &str, op: Option<u64>) -> Event {
        Event::new(
            seq,
            EventKind::Mark(Mark {
                op,
                ..Mark::new(label)
            }),
        )
    }

    #[test]
    fn boundaries() {
        assert_eq!(boundary("fsync-begin"), Boundary::Begin("fsync"));
        assert_eq!(boundary("fsync-end"), Boundary::End("fsync"));
        assert_eq!(boundary("-begin"), Boundary::Instant);
        assert_eq!(boundary("tag-dirty"), Boundary::Instant);
    }

    #[test]
    fn regions_nest_and_close_by_name_and_op() {
        let mut t = MarkTracker::new();
        assert_eq!(
            t.observe(&mark(1, "write-begin", Some(1))),
            Transition::Opened
        );
        assert_eq!(
            t.observe(&mark(2, "write-begin", Some(2))),
            Transition::Opened
        );
        assert_eq!(t.observe(&mark(3, "fsync-begin", None)), Transition::Opened);
        // Closing op 1 interrupts op 2's region and the fsync region.
        let Transition::Closed {
            region,
            interrupted,
        } = t.observe(&mark(4, "write-end", Some(1)))
        else {
            panic!("not closed");
        };
        assert_eq!((region.seq, interrupted), (1, 2));
        assert_eq!(t.innermost().map(|r| r.describe()), Some("fsync".into()));
        assert_eq!(t.observe(&mark(5, "other-end", None)), Transition::Instant);
        assert_eq!(t.observe(&mark(6, "tag-dirty", None)), Transition::Instant);
        assert_eq!(t.open().len(), 2);
    }
}
