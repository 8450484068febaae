//! What the files hold after each operation: the effect of a plan on file
//! contents, computed without executing it.
//!
//! The model is sparse: a file is its setup content (the [`pattern`] over
//! its preallocated pages, zeros elsewhere) under an overlay of the
//! operations' [`Change`]s in the order they completed. Contents are only
//! ever painted into small buffers on demand, so verify mode needs no
//! memory in proportion to the file sizes.

use super::{Op, pattern};
use crate::dax::layout::PAGE;
use crate::dax::mkfs::FileSpec;
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

/// Bytes an operation wrote: `data`, or zeros when `None`.
#[derive(Debug, Clone)]
pub struct Change {
    /// File.
    pub ino: u64,
    /// Offset.
    pub off: u64,
    /// Length.
    pub len: u64,
    /// The bytes, or `None` for zeros (punch, truncate).
    pub data: Option<Vec<u8>>,
    /// A truncate: the size becomes `off`.
    pub truncate: bool,
}

impl Change {
    /// The value written at file offset `at`.
    pub fn byte(&self, at: u64) -> u8 {
        self.data
            .as_ref()
            .map_or(0, |d| d[(at - self.off) as usize])
    }

    /// True if it wrote file offset `at` of `ino`.
    pub fn covers(&self, ino: u64, at: u64) -> bool {
        self.ino == ino && (self.off..self.off + self.len).contains(&at)
    }

    /// Marks in `right` the bytes of `found` (file offset `off`) it wrote.
    pub fn explain(&self, off: u64, found: &[u8], right: &mut [bool]) {
        let from = self.off.max(off);
        let to = (self.off + self.len).min(off + found.len() as u64);
        if from >= to {
            return;
        }
        let here = (from - off) as usize..(to - off) as usize;
        let pairs = right[here.clone()].iter_mut().zip(&found[here]);
        match &self.data {
            Some(d) => {
                let mine = &d[(from - self.off) as usize..(to - self.off) as usize];
                for ((r, v), w) in pairs.zip(mine) {
                    *r |= v == w;
                }
            }
            None => {
                for (r, v) in pairs {
                    *r |= *v == 0;
                }
            }
        }
    }

    /// Paints its bytes that fall in `buf` (file offset `off`).
    fn paint(&self, off: u64, buf: &mut [u8]) {
        let from = self.off.max(off);
        let to = (self.off + self.len).min(off + buf.len() as u64);
        if from >= to {
            return;
        }
        let dst = &mut buf[(from - off) as usize..(to - off) as usize];
        match &self.data {
            Some(d) => {
                dst.copy_from_slice(&d[(from - self.off) as usize..(to - self.off) as usize])
            }
            None => dst.fill(0),
        }
    }
}

/// A file's setup content: its size and the extent holding the pattern.
#[derive(Debug, Clone, Copy)]
struct File {
    size: u64,
    filled: u64,
    /// First block of the setup extent.
    first_block: u64,
}

/// The pages of a file that hold their setup content ([`Model::pristine`]),
/// asked in increasing page order.
pub struct Pristine {
    filled_pages: u64,
    first_block: u64,
    /// Page ranges changes touched: disjoint, in order.
    touched: Vec<(u64, u64)>,
    /// The first of `touched` that may still hold a page asked next.
    next: usize,
}

impl Pristine {
    /// The block the setup gave `page`, if the page still holds the setup
    /// pattern there; `page` must not be below the last one asked.
    pub fn block(&mut self, page: u64) -> Option<u64> {
        if page >= self.filled_pages {
            return None;
        }
        while self
            .touched
            .get(self.next)
            .is_some_and(|&(_, end)| end <= page)
        {
            self.next += 1;
        }
        let touched = self
            .touched
            .get(self.next)
            .is_some_and(|&(start, _)| start <= page);
        (!touched).then_some(self.first_block + page)
    }
}

/// File sizes, the overlay of changes and the live mappings.
pub struct Model {
    files: BTreeMap<u64, File>,
    changes: Vec<Change>,
    maps: BTreeMap<u64, (u64, u64)>,
}

/// Paints the setup content of file `ino` (pattern below `filled`, zeros
/// above) at file offset `off` into `buf`, a word at a time.
fn paint_setup(ino: u64, filled: u64, off: u64, buf: &mut [u8]) {
    let word = |at: u64| {
        if at < filled {
            pattern(ino, at).to_le_bytes()
        } else {
            [0; 8]
        }
    };
    // Unaligned head, then whole words, then the tail.
    let head = ((off.next_multiple_of(8) - off) as usize).min(buf.len());
    let (first, rest) = buf.split_at_mut(head);
    for (i, b) in first.iter_mut().enumerate() {
        let at = off + i as u64;
        *b = word(at & !7)[(at % 8) as usize];
    }
    let base = off + head as u64;
    let whole = (rest.len() / 8 * 8) as u64;
    let mut words = rest.chunks_exact_mut(8);
    for (i, w) in words.by_ref().enumerate() {
        w.copy_from_slice(&word(base + 8 * i as u64));
    }
    let tail = words.into_remainder();
    let at = base + whole;
    let last = word(at);
    tail.copy_from_slice(&last[..tail.len()]);
}

impl Model {
    /// The contents the setup creates.
    pub fn new(files: &[FileSpec]) -> Model {
        let files = crate::dax::mkfs::extents(files)
            .map(|(f, first_block)| {
                let filled = (f.allocated * PAGE).min(f.size);
                (
                    f.ino,
                    File {
                        size: f.size,
                        filled,
                        first_block,
                    },
                )
            })
            .collect();
        Model {
            files,
            changes: Vec::new(),
            maps: BTreeMap::new(),
        }
    }

    /// Which pages of `ino` still hold what the setup gave them after the
    /// first `upto` changes: no change wrote, zeroed or truncated any of
    /// their bytes.
    pub fn pristine(&self, ino: u64, upto: usize) -> Pristine {
        let f = self.files.get(&ino).copied().unwrap_or(File {
            size: 0,
            filled: 0,
            first_block: 0,
        });
        let mut touched: Vec<(u64, u64)> = self.changes[..upto]
            .iter()
            .filter(|c| c.ino == ino)
            .map(|c| (c.off / PAGE, (c.off + c.len.max(1)).div_ceil(PAGE)))
            .collect();
        touched.sort_unstable();
        // Merged into disjoint ranges, in order.
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(touched.len());
        for (start, end) in touched {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        Pristine {
            filled_pages: f.filled / PAGE,
            first_block: f.first_block,
            touched: merged,
            next: 0,
        }
    }

    /// Size of `ino`.
    pub fn size(&self, ino: u64) -> u64 {
        self.files.get(&ino).map_or(0, |f| f.size)
    }

    /// The changes applied so far, in order.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// Paints bytes `[off, off + buf.len())` of `ino` as they were after
    /// the first `upto` changes (zeros where nothing was ever written).
    pub fn fill(&self, ino: u64, off: u64, buf: &mut [u8], upto: usize) {
        let filled = self.files.get(&ino).map_or(0, |f| f.filled);
        paint_setup(ino, filled, off, buf);
        for c in self.changes[..upto].iter().filter(|c| c.ino == ino) {
            c.paint(off, buf);
        }
    }

    /// `len` bytes of `ino` at `off` now, zeros past end of file.
    pub fn bytes(&self, ino: u64, off: u64, len: u64) -> Vec<u8> {
        let mut out = vec![0; len as usize];
        self.fill(ino, off, &mut out, self.changes.len());
        out
    }

    /// File and first file page of mapping `map`.
    pub fn map(&self, map: u64) -> Option<(u64, u64)> {
        self.maps.get(&map).copied()
    }

    /// What `op` will write, resolved against the mappings and sizes now;
    /// `mmap` and `munmap` take effect here.
    pub fn change(&mut self, op: &Op) -> Option<Change> {
        let (ino, off, len, data) = match op {
            Op::Write { ino, off, data } => (*ino, *off, data.len() as u64, Some(data.clone())),
            Op::Store { map, off, data } => {
                let (ino, pgoff) = self.map(*map)?;
                (
                    ino,
                    pgoff * PAGE + off,
                    data.len() as u64,
                    Some(data.clone()),
                )
            }
            Op::Truncate { ino, size } => {
                (*ino, *size, self.size(*ino).saturating_sub(*size), None)
            }
            Op::Punch { ino, off, len } => (
                *ino,
                *off,
                (*len).min(self.size(*ino).saturating_sub(*off)),
                None,
            ),
            Op::Mmap {
                map, ino, pgoff, ..
            } => {
                self.maps.insert(*map, (*ino, *pgoff));
                return None;
            }
            Op::Munmap { map } => {
                self.maps.remove(map);
                return None;
            }
            _ => return None,
        };
        Some(Change {
            ino,
            off,
            len,
            data,
            truncate: matches!(op, Op::Truncate { .. }),
        })
    }

    /// Applies a change (the operation that makes it completed).
    pub fn push(&mut self, change: Change) {
        let file = self.files.entry(change.ino).or_insert(File {
            size: 0,
            filled: 0,
            first_block: 0,
        });
        if change.truncate {
            file.size = change.off;
        } else if change.data.is_some() {
            file.size = file.size.max(change.off + change.len);
        }
        self.changes.push(change);
    }

    /// Applies `op` at once; returns the bytes it wrote, if any.
    pub fn apply(&mut self, op: &Op) -> Option<Change> {
        let change = self.change(op)?;
        self.push(change.clone());
        Some(change)
    }
}
