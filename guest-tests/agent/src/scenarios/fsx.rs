//! `fsx`: a seeded random mix of pwrite, pread, mmap stores and loads
//! (including huge mappings), msync, munmap, truncate, hole punch,
//! invalidate, fsync, fdatasync and sync over three files (the analogue of
//! xfstests generic/455). The seed is the boot's seed.
//!
//! Like a program, it tends to keep using the mapping it used last and to
//! msync the range it just stored to; half of the mappings of the first
//! file are huge (a whole PMD), so that huge-page paths get exercised.

use crate::dax::layout::{PAGE, PMD_PAGES, pages_for};
use crate::dax::mkfs::FileSpec;
use crate::workload::model::Model;
use crate::workload::rng::Rng;
use crate::workload::{self, Op, Plan};
use alloc::vec;
use alloc::vec::Vec;
use pmemvm_sdk::BootInfo;

/// Operations per run.
const OPS: usize = 60;
/// Largest size of each file (index ino - 1).
const CAP: [u64; 3] = [4 << 20, 512 << 10, 256 << 10];

struct Gen {
    rng: Rng,
    model: Model,
    maps: Vec<(u64, u64, u64, u64)>,
    next_map: u64,
    /// The mapping used last, and the range of the last store through it.
    last: Option<(u64, Option<(u64, u64)>)>,
    ops: Vec<Op>,
}

impl Gen {
    fn push(&mut self, op: Op) {
        self.model.apply(&op);
        self.ops.push(op);
    }

    fn ino(&mut self) -> u64 {
        self.rng.range(1, 4)
    }

    fn size(&self, ino: u64) -> u64 {
        self.model.size(ino)
    }

    /// A new mapping; huge ones map a whole PMD of file 1.
    fn mmap(&mut self) {
        let ino = self.ino();
        let (pgoff, pages, huge) = if ino == 1 && self.rng.range(0, 2) == 0 {
            (self.rng.range(0, 2) * PMD_PAGES, PMD_PAGES, true)
        } else {
            let eof = pages_for(self.size(ino)).max(1);
            (self.rng.range(0, eof), self.rng.range(1, 17), false)
        };
        let map = self.next_map;
        self.next_map += 1;
        self.maps.push((map, ino, pgoff, pages));
        self.push(Op::mmap(map, ino, pgoff, pages, huge));
    }

    /// A live mapping and a byte range `(off in mapping, len)` of at most
    /// `max` bytes inside both the mapping and the file, if any.
    fn mapped_range(&mut self, max: u64) -> Option<(u64, u64, u64)> {
        if self.maps.is_empty() || self.rng.range(0, 4) == 0 {
            self.mmap();
        }
        let live = |m: u64| self.maps.iter().position(|e| e.0 == m);
        let again = self.last.and_then(|(m, _)| live(m));
        let (map, ino, pgoff, pages) = match again {
            Some(i) if self.rng.range(0, 2) == 0 => self.maps[i],
            _ => self.maps[self.rng.range(0, self.maps.len() as u64) as usize],
        };
        let end = (pages * PAGE).min(self.size(ino).saturating_sub(pgoff * PAGE));
        if end == 0 {
            return None;
        }
        let off = self.rng.range(0, end);
        let len = self.rng.range(1, max + 1).min(end - off);
        Some((map, off, len))
    }

    fn step(&mut self) {
        let ino = self.ino();
        let size = self.size(ino);
        match self.rng.range(0, 100) {
            0..14 => {
                let cap = CAP[ino as usize - 1];
                let off = self.rng.range(0, (size + 8 * PAGE).min(cap));
                let len = self.rng.range(1, 2049).min(cap - off);
                let data = self.rng.bytes(len);
                self.push(Op::Write { ino, off, data });
            }
            14..34 => {
                if let Some((map, off, len)) = self.mapped_range(128) {
                    let data = self.rng.bytes(len);
                    self.last = Some((map, Some((off, len))));
                    self.push(Op::store(map, off, data));
                }
            }
            34..44 => {
                if let Some((map, off, len)) = self.mapped_range(256) {
                    self.last = Some((map, None));
                    self.push(Op::Load { map, off, len });
                }
            }
            44..52 => {
                // The last store's range, while its mapping lives and the
                // file still covers it.
                let stored = match self.last {
                    Some((map, Some((off, len)))) => self
                        .maps
                        .iter()
                        .find(|e| e.0 == map)
                        .filter(|&&(_, ino, pgoff, _)| pgoff * PAGE + off + len <= self.size(ino))
                        .map(|_| (map, off, len)),
                    _ => None,
                };
                let range = match stored {
                    Some(r) if self.rng.range(0, 2) == 0 => Some(r),
                    _ => self.mapped_range(8 * PAGE),
                };
                if let Some((map, off, len)) = range {
                    self.push(Op::Msync { map, off, len });
                }
            }
            52..57 if !self.maps.is_empty() => {
                let (map, ..) = self
                    .maps
                    .remove(self.rng.range(0, self.maps.len() as u64) as usize);
                self.push(Op::Munmap { map });
            }
            57..63 => {
                let cap = CAP[ino as usize - 1];
                let size = self.rng.range(size / 2, (size + 4 * PAGE).min(cap));
                self.push(Op::Truncate { ino, size });
            }
            63..69 => {
                let off = self.rng.range(0, size.max(1));
                let len = self.rng.range(1, 3 * PAGE);
                self.push(Op::Punch { ino, off, len });
            }
            69..79 => self.push(Op::Fsync { ino }),
            79..83 => self.push(Op::Fdatasync { ino }),
            83..87 => self.push(Op::Sync),
            87..91 => self.push(Op::Invalidate { ino }),
            _ => {
                let off = self.rng.range(0, size.max(1));
                let len = self.rng.range(1, 2 * PAGE);
                self.push(Op::Read { ino, off, len });
            }
        }
    }
}

/// The workload of `seed`.
pub fn plan(seed: u64) -> Plan {
    let files = vec![
        FileSpec::new(1, 1024, 1024),
        FileSpec::new(2, 64, 48),
        FileSpec::new(3, 16, 0),
    ];
    let mut g = Gen {
        rng: Rng::new(seed),
        model: Model::new(&files),
        maps: Vec::new(),
        next_map: 0,
        last: None,
        ops: Vec::new(),
    };
    while g.ops.len() < OPS {
        g.step();
    }
    g.push(Op::Sync);
    Plan::sequential(files, g.ops)
}

/// Runs it (record or verify mode).
pub fn run(info: &'static BootInfo) -> u32 {
    workload::run(info, &plan(info.seed), &mut |_, _| Ok(()))
}
