//! The promises pmemvm checks by itself, on every crash image, with no code
//! in the guest's recovery.
//!
//! A promise (`pmemvm_sdk::pmem::promise`, a `promise` trace event) declares
//! the *current* bytes of its device ranges durable from then on. A crash
//! image at a point keeps every promise made before the point when each
//! promised byte holds the value it had at the promise, or the value of a
//! later write to it made before the point (any of them: a value the byte
//! held at some instant since the promise). Only values count, not which
//! write made them, so a doubt never fails an image: there are no false
//! alarms, only images no execution of the program could leave.
//!
//! It is exact and cheap:
//! * of two promises covering a byte the later one is the stricter (the
//!   values held since it are a subset of those held since the earlier
//!   one), so each byte remembers its latest promise and the values it has
//!   held since, nothing else;
//! * a byte that holds its latest content keeps its promise, so only the
//!   lines where an image differs from the latest content (the maximal
//!   image: the lines it lost, which the crash test computes anyway) are
//!   looked at;
//! * a line the run had not touched at the promise holds its initial media
//!   then, and any value it can hold later is the initial one or a later
//!   write's: it cannot break the promise, and is not tracked.
//!
//! Under eADR a promise is a drain point: everything written before it is
//! durable, so no promise breaks there. Word atomicity, non-temporal stores
//! and locked read-modify-writes change which images exist, not what a
//! promise means: the check reads the image's bytes.

use crate::guest_report::Verdict;
use pmemvm_device::crash::Image;
use pmemvm_device::model::{LINE_SIZE, Model};
use pmemvm_traces::{DeviceRange, Event, EventKind, Write};
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

/// The promises made so far in a run, byte by byte: follows the trace's
/// events and tells which promise a crash image breaks.
#[derive(Debug, Clone, Default)]
pub struct PromiseChecker {
    /// Every promise, in the order made.
    made: Vec<Made>,
    /// The promised bytes of the lines touched at their promise, by line
    /// offset.
    lines: HashMap<u64, Covered>,
}

/// A promise, as messages name it.
#[derive(Debug, Clone)]
struct Made {
    seq: u64,
    ranges: Vec<DeviceRange>,
}

/// The promised bytes of one line.
#[derive(Debug, Clone)]
struct Covered {
    /// Per byte, 1 + the index of its latest promise (0: none).
    by: [u32; 64],
    /// Per byte, its value at that promise.
    promised: [u8; 64],
    /// The values each promised byte has held since its promise, as
    /// `byte << 8 | value`, ascending.
    held: Vec<u16>,
}

impl Default for Covered {
    fn default() -> Covered {
        Covered {
            by: [0; 64],
            promised: [0; 64],
            held: Vec::new(),
        }
    }
}

fn key(byte: usize, value: u8) -> u16 {
    ((byte as u16) << 8) | u16::from(value)
}

impl Covered {
    /// Promise `index` covers `bytes`, whose values are now `content`'s.
    fn promise(&mut self, index: u32, bytes: Range<usize>, content: &[u8; 64]) {
        self.held.retain(|&k| !bytes.contains(&usize::from(k >> 8)));
        for b in bytes {
            self.by[b] = index;
            self.promised[b] = content[b];
            self.held.push(key(b, content[b]));
        }
        self.held.sort_unstable();
    }

    /// Byte `b` now holds `value`.
    fn hold(&mut self, b: usize, value: u8) {
        let k = key(b, value);
        if let Err(at) = self.held.binary_search(&k) {
            self.held.insert(at, k);
        }
    }

    /// True when byte `b` has held `value` since its promise.
    fn has_held(&self, b: usize, value: u8) -> bool {
        self.held.binary_search(&key(b, value)).is_ok()
    }

    /// How many values byte `b` has held since its promise.
    fn values(&self, b: usize) -> usize {
        let from = self.held.partition_point(|&k| k < key(b, 0));
        let to = self.held.partition_point(|&k| k <= key(b, u8::MAX));
        to - from
    }
}

/// A promise a crash image broke: the first byte, in address order, that
/// holds a value it never held since its latest promise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    /// Sequence number of the promise.
    pub promise: u64,
    /// Its device range holding the byte.
    pub range: DeviceRange,
    /// Device offset of the byte.
    pub byte: u64,
    /// What the image holds there.
    pub held: u8,
    /// Its value at the promise.
    pub promised: u8,
    /// How many other values later writes gave it before the crash point
    /// (each would have kept the promise too).
    pub later_values: usize,
    /// How many promised bytes of its line the image broke.
    pub broken_in_line: usize,
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = self.byte & !(LINE_SIZE - 1);
        write!(
            f,
            "promise seq {} (device range {:#x}+{:#x}) broken at device offset {:#x}: it holds {:#04x}, promised {:#04x}",
            self.promise, self.range.offset, self.range.len, self.byte, self.held, self.promised
        )?;
        if self.later_values > 0 {
            write!(
                f,
                " (or one of the {} value(s) written to it since)",
                self.later_values
            )?;
        }
        write!(
            f,
            "; {} promised byte(s) of line {line:#x} broken",
            self.broken_in_line
        )
    }
}

impl Breach {
    /// The failed verdict it makes, with the check [`Verdict::PROMISE`].
    pub fn verdict(&self) -> Verdict {
        Verdict {
            passed: false,
            check: Verdict::PROMISE.into(),
            message: self.to_string(),
        }
    }
}

/// The verdict on a crash image from the guest's own and pmemvm's check
/// of the promises: the guest's when it failed (its check names what its
/// recovery found, the more specific), else the broken promise's, else
/// the pass.
pub fn judge(guest: Verdict, breach: Option<&Breach>) -> Verdict {
    match breach {
        Some(b) if guest.passed => b.verdict(),
        _ => guest,
    }
}

impl PromiseChecker {
    /// Notes event `ev`, which `model` has just applied.
    pub fn observe(&mut self, ev: &Event, model: &Model) {
        match &ev.kind {
            EventKind::Promise(p) => self.promise(ev.seq, &p.ranges, model),
            kind => {
                if let Some(w) = kind.write() {
                    self.write(w);
                }
            }
        }
    }

    /// The first promise `image` breaks, if any. `lost` lists the lines
    /// where the image differs from the latest content (the maximal image:
    /// [`Image::differing_lines`]), ascending; the others keep every promise.
    pub fn check(&self, image: &Image, lost: &[u64]) -> Option<Breach> {
        lost.iter().find_map(|line| {
            let covered = self.lines.get(line)?;
            let content = image.lines.get(line)?;
            let mut broken =
                (0..64).filter(|&b| covered.by[b] != 0 && !covered.has_held(b, content[b]));
            let first = broken.next()?;
            let made = &self.made[covered.by[first] as usize - 1];
            let byte = line + first as u64;
            Some(Breach {
                promise: made.seq,
                range: made
                    .ranges
                    .iter()
                    .find(|r| r.contains(byte))
                    .copied()
                    .unwrap_or(DeviceRange {
                        offset: byte,
                        len: 1,
                    }),
                byte,
                held: content[first],
                promised: covered.promised[first],
                later_values: covered.values(first) - 1,
                broken_in_line: 1 + broken.count(),
            })
        })
    }

    /// A promise of `ranges`: the touched lines' bytes there are promised
    /// as they are now (the others cannot break it). A range is scanned
    /// line by line, or through the touched lines when it has more lines
    /// than they are.
    fn promise(&mut self, seq: u64, ranges: &[DeviceRange], model: &Model) {
        self.made.push(Made {
            seq,
            ranges: ranges.to_vec(),
        });
        let Ok(index) = u32::try_from(self.made.len()) else {
            return;
        };
        let size = model.config().size;
        for r in ranges {
            let (start, end) = (r.offset.min(size), r.offset.saturating_add(r.len).min(size));
            let first = start & !(LINE_SIZE - 1);
            let lines: Box<dyn Iterator<Item = u64>> =
                if (end.saturating_sub(first) / LINE_SIZE) as usize > model.touched_count() {
                    Box::new(
                        model
                            .touched_lines()
                            .filter(move |l| (first..end).contains(l)),
                    )
                } else {
                    Box::new((first..end).step_by(LINE_SIZE as usize))
                };
            for line in lines {
                if let Some(content) = model.latest_line(line) {
                    let bytes = (start.max(line) - line) as usize
                        ..(end.min(line + LINE_SIZE) - line) as usize;
                    self.lines
                        .entry(line)
                        .or_default()
                        .promise(index, bytes, &content);
                }
            }
        }
    }

    /// A write: the promised bytes it covers have held its values.
    fn write(&mut self, w: &Write) {
        let Some(covered) = self.lines.get_mut(&w.line()) else {
            return;
        };
        let first = (w.offset - w.line()) as usize;
        for (b, &value) in (first..64).zip(&w.data) {
            if covered.by[b] != 0 {
                covered.hold(b, value);
            }
        }
    }
}
