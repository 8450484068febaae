//! What the files hold after each operation: the effect of a plan on file
//! contents, computed without executing it.

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
}

impl Change {
    /// The value written at file offset `at`.
    pub fn byte(&self, at: u64) -> u8 {
        self.data
            .as_ref()
            .map_or(0, |d| d[(at - self.off) as usize])
    }
}

/// File contents and live mappings.
pub struct Model {
    files: BTreeMap<u64, Vec<u8>>,
    maps: BTreeMap<u64, (u64, u64)>,
}

impl Model {
    /// The contents the setup creates.
    pub fn new(files: &[FileSpec]) -> Model {
        let files = files
            .iter()
            .map(|f| {
                let mut content = vec![0u8; f.size as usize];
                let filled = (f.allocated * PAGE).min(f.size) as usize;
                for (i, byte) in content[..filled].iter_mut().enumerate() {
                    let word = pattern(f.ino, i as u64 & !7);
                    *byte = (word >> ((i % 8) * 8)) as u8;
                }
                (f.ino, content)
            })
            .collect();
        Model {
            files,
            maps: BTreeMap::new(),
        }
    }

    /// Size of `ino`.
    pub fn size(&self, ino: u64) -> u64 {
        self.files.get(&ino).map_or(0, |f| f.len() as u64)
    }

    /// `len` bytes of `ino` at `off`, zeros past end of file.
    pub fn bytes(&self, ino: u64, off: u64, len: u64) -> Vec<u8> {
        let f = self.files.get(&ino).map_or(&[][..], |f| &f[..]);
        (off..off + len)
            .map(|at| f.get(at as usize).copied().unwrap_or(0))
            .collect()
    }

    /// File and first file page of mapping `map`.
    pub fn map(&self, map: u64) -> Option<(u64, u64)> {
        self.maps.get(&map).copied()
    }

    /// Applies `op`; returns the bytes it wrote, if any.
    pub fn apply(&mut self, op: &Op) -> Option<Change> {
        let change = match op {
            Op::Write { ino, off, data } => Change {
                ino: *ino,
                off: *off,
                len: data.len() as u64,
                data: Some(data.clone()),
            },
            Op::Store { map, off, data } => {
                let (ino, pgoff) = self.map(*map)?;
                Change {
                    ino,
                    off: pgoff * PAGE + off,
                    len: data.len() as u64,
                    data: Some(data.clone()),
                }
            }
            Op::Truncate { ino, size } => {
                let old = self.size(*ino);
                self.files
                    .entry(*ino)
                    .or_default()
                    .resize(*size as usize, 0);
                Change {
                    ino: *ino,
                    off: *size,
                    len: old.saturating_sub(*size),
                    data: None,
                }
            }
            Op::Punch { ino, off, len } => Change {
                ino: *ino,
                off: *off,
                len: (*len).min(self.size(*ino).saturating_sub(*off)),
                data: None,
            },
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
        let file = self.files.entry(change.ino).or_default();
        let end = (change.off + change.len) as usize;
        if end > file.len() && change.data.is_some() {
            file.resize(end, 0);
        }
        for at in change.off..(change.off + change.len).min(file.len() as u64) {
            file[at as usize] = change.byte(at);
        }
        Some(change)
    }
}
