//! Per-line state: the certain content, and per unit the cached history
//! above the lower bound, the pending flush and the pending NT writes.

use std::collections::VecDeque;
use std::ops::Range;

/// One write, in line coordinates: `data[off..off + len]` holds its bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Write {
    /// Its sequence number.
    pub seq: u64,
    /// First byte within the line.
    pub off: u8,
    /// Length in bytes (1..=64).
    pub len: u8,
    /// The bytes, at their line positions.
    pub data: [u8; 64],
}

impl Write {
    /// A write of `bytes` at line offset `off` (the caller checked that it fits).
    pub fn new(seq: u64, off: usize, bytes: &[u8]) -> Write {
        let mut data = [0u8; 64];
        data[off..off + bytes.len()].copy_from_slice(bytes);
        Write {
            seq,
            off: off as u8,
            len: bytes.len() as u8,
            data,
        }
    }

    /// The bytes of the line it writes.
    pub fn range(&self) -> Range<usize> {
        self.off as usize..self.off as usize + self.len as usize
    }
}

/// The content every image of a line has before the uncertain writes are
/// laid over it, with per byte the sequence number of the write that set it
/// (0 = initial media). Rule 8: a byte takes the present write with the
/// highest sequence number, so an uncertain write only shows on bytes whose
/// certain write is older.
#[derive(Clone, Debug)]
pub(crate) struct Base {
    /// The bytes.
    pub bytes: [u8; 64],
    /// Per byte, the sequence number of the write that set it.
    pub seq: [u64; 64],
}

impl Base {
    /// Initial media content.
    pub fn new(bytes: [u8; 64]) -> Base {
        Base {
            bytes,
            seq: [0; 64],
        }
    }

    /// Makes a write certain.
    pub fn merge(&mut self, w: &Write) {
        for b in w.range() {
            if self.seq[b] < w.seq {
                self.seq[b] = w.seq;
                self.bytes[b] = w.data[b];
            }
        }
    }

    /// Lays an uncertain write over `content` (which starts as `self.bytes`),
    /// where it is younger than the certain content. Writes must be laid in
    /// sequence order.
    pub fn overlay(&self, content: &mut [u8; 64], w: &Write) {
        for b in w.range() {
            if self.seq[b] < w.seq {
                content[b] = w.data[b];
            }
        }
    }
}

/// A pending NT write.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NtWrite {
    /// The write.
    pub write: Write,
    /// eADR: the sequence number of the youngest older cached write to the
    /// same line (0 if none); the NT write can be present only if that one is.
    pub req: u64,
}

/// A `clwb`/`clflushopt` waiting for a fence.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PendingFlush {
    /// The snapshot index the fence will raise the lower bound to.
    pub index: u64,
    /// Sequence number of the (latest) flush.
    pub seq: u64,
}

/// One atomicity unit (a line, or a word in word mode).
#[derive(Clone, Debug, Default)]
pub(crate) struct Unit {
    /// Index of the lower-bound snapshot: number of cached writes folded into the base.
    pub lb_index: u64,
    /// Sequence number of the last cached write folded into the base (0 = none).
    pub lb_seq: u64,
    /// Sequence number of the event that last raised the lower bound (0 = none).
    pub persisted_by: u64,
    /// The cached writes above the lower bound, oldest first.
    pub hist: VecDeque<Write>,
    /// NT writes not committed yet, oldest first.
    pub nt: Vec<NtWrite>,
    /// ADR: a flush waiting for a fence.
    pub flush: Option<PendingFlush>,
}

impl Unit {
    /// Index of the latest snapshot.
    pub fn latest_index(&self) -> u64 {
        self.lb_index + self.hist.len() as u64
    }

    /// Sequence number of the latest cached write (0 = none in the run).
    pub fn latest_seq(&self) -> u64 {
        self.hist.back().map_or(self.lb_seq, |w| w.seq)
    }

    /// Whether a crash image can pick anything else than the minimal state.
    pub fn has_choice(&self) -> bool {
        !self.hist.is_empty() || !self.nt.is_empty()
    }

    /// Raises the lower bound to snapshot `index`, folding the writes below into `base`.
    pub fn raise(&mut self, base: &mut Base, index: u64, by: u64) {
        if index <= self.lb_index {
            return;
        }
        while self.lb_index < index {
            let Some(w) = self.hist.pop_front() else {
                break;
            };
            base.merge(&w);
            self.lb_seq = w.seq;
            self.lb_index += 1;
        }
        self.persisted_by = by;
    }

    /// Commits every pending NT write into `base`.
    pub fn commit_nt(&mut self, base: &mut Base) {
        for nt in self.nt.drain(..) {
            base.merge(&nt.write);
        }
    }
}

/// A touched line.
#[derive(Clone, Debug)]
pub(crate) struct Line {
    /// The content certain in every image.
    pub base: Base,
    /// Its units: 1 in line mode, 8 in word mode.
    pub units: Vec<Unit>,
    /// Sequence number of the latest cached write to any of its units (0 = none).
    pub last_cached_seq: u64,
}

impl Line {
    /// A line with media content `content` and `units` units.
    pub fn new(content: [u8; 64], units: usize) -> Line {
        Line {
            base: Base::new(content),
            units: vec![Unit::default(); units],
            last_cached_seq: 0,
        }
    }
}
