//! Deterministic workloads on the mini DAX file system: a [`Plan`] (files
//! created by the setup, then a list of operations) that record mode
//! executes ([`exec`]: each [`operation`] in turn, or as a race [`script`]
//! orders them) and verify mode regenerates without executing,
//! replaying only its effect on file contents ([`model`]) to know every
//! value a promised byte may hold ([`oracle`]).
//!
//! The id of an operation is its position in the plan plus one; the marks
//! of record mode carry it, and verify mode is told the largest id started
//! before the crash point.

pub mod exec;
pub mod model;
pub mod operation;
pub mod oracle;
pub mod rng;
pub mod script;

use crate::dax::mkfs::FileSpec;
use crate::dax::variant::{self, Variant};
use alloc::vec::Vec;
use pmemvm_abi::Mode;
use pmemvm_sdk::report::Finding;
use pmemvm_sdk::{BootInfo, println};

/// One user-visible operation.
#[derive(Debug, Clone)]
pub enum Op {
    /// `pwrite(ino, data, off)`.
    Write {
        /// File.
        ino: u64,
        /// Offset.
        off: u64,
        /// Bytes.
        data: Vec<u8>,
    },
    /// `pread`, checked against the model.
    Read {
        /// File.
        ino: u64,
        /// Offset.
        off: u64,
        /// Length.
        len: u64,
    },
    /// `mmap(MAP_SHARED)`; `map` names the mapping in later operations.
    Mmap {
        /// Mapping name.
        map: u64,
        /// File.
        ino: u64,
        /// First file page.
        pgoff: u64,
        /// Length in pages.
        pages: u64,
        /// Huge (PMD) faults allowed.
        huge: bool,
    },
    /// `munmap`.
    Munmap {
        /// Mapping name.
        map: u64,
    },
    /// Stores through a mapping, at byte `off` of the mapping.
    Store {
        /// Mapping name.
        map: u64,
        /// Offset in the mapping.
        off: u64,
        /// Bytes.
        data: Vec<u8>,
    },
    /// Loads through a mapping, checked against the model.
    Load {
        /// Mapping name.
        map: u64,
        /// Offset in the mapping.
        off: u64,
        /// Length.
        len: u64,
    },
    /// `msync(MS_SYNC)` of bytes `[off, off + len)` of a mapping.
    Msync {
        /// Mapping name.
        map: u64,
        /// Offset in the mapping.
        off: u64,
        /// Length.
        len: u64,
    },
    /// `fsync`.
    Fsync {
        /// File.
        ino: u64,
    },
    /// `fdatasync`.
    Fdatasync {
        /// File.
        ino: u64,
    },
    /// `sync`.
    Sync,
    /// `truncate`.
    Truncate {
        /// File.
        ino: u64,
        /// New size.
        size: u64,
    },
    /// `fallocate(PUNCH_HOLE | KEEP_SIZE)`.
    Punch {
        /// File.
        ino: u64,
        /// Offset.
        off: u64,
        /// Length.
        len: u64,
    },
    /// `fadvise(DONTNEED)`: invalidate the whole mapping.
    Invalidate {
        /// File.
        ino: u64,
    },
}

impl Op {
    /// `mmap` of `pages` pages of `ino` from page `pgoff` as mapping `map`.
    pub fn mmap(map: u64, ino: u64, pgoff: u64, pages: u64, huge: bool) -> Op {
        Op::Mmap {
            map,
            ino,
            pgoff,
            pages,
            huge,
        }
    }

    /// A store of `data` at byte `off` of mapping `map`.
    pub fn store(map: u64, off: u64, data: Vec<u8>) -> Op {
        Op::Store { map, off, data }
    }

    /// Name used in marks (`<name>-begin`, `<name>-end`).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Write { .. } => "pwrite",
            Op::Read { .. } => "pread",
            Op::Mmap { .. } => "mmap",
            Op::Munmap { .. } => "munmap",
            Op::Store { .. } => "mmap-store",
            Op::Load { .. } => "mmap-load",
            Op::Msync { .. } => "msync",
            Op::Fsync { .. } => "fsync",
            Op::Fdatasync { .. } => "fdatasync",
            Op::Sync => "sync",
            Op::Truncate { .. } => "truncate",
            Op::Punch { .. } => "punch",
            Op::Invalidate { .. } => "invalidate",
        }
    }
}

/// A workload: the files the setup creates, then the operations.
pub struct Plan {
    /// Files, preallocated and filled with [`pattern`] by the setup.
    pub files: Vec<FileSpec>,
    /// Operations in the order they start; the id of `ops[i]` is `i + 1`.
    pub ops: Vec<Op>,
    /// A race script ([`script`]); empty: the operations run one after
    /// another in the main flow.
    pub script: Vec<script::Step>,
}

/// An operation starting or completing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Operation `id` starts.
    Begin(u64),
    /// Operation `id` completes.
    End(u64),
}

impl Plan {
    /// A plan whose operations run one after another.
    pub fn sequential(files: Vec<FileSpec>, ops: Vec<Op>) -> Plan {
        Plan {
            files,
            ops,
            script: Vec::new(),
        }
    }

    /// The order in which operations start and complete. For a race
    /// script it is the script's nominal order, in which an operation ends
    /// no earlier than it really does (it may finish early when its yield
    /// point is not on its path or when it runs while another task waits
    /// for an entry lock), so the oracle is never stricter than the run.
    pub fn events(&self) -> Vec<Event> {
        if self.script.is_empty() {
            return (1..=self.ops.len() as u64)
                .flat_map(|id| [Event::Begin(id), Event::End(id)])
                .collect();
        }
        script::events(&self.script)
    }
}

/// The 8 bytes at 8-aligned offset `off` of preallocated file `ino`.
pub fn pattern(ino: u64, off: u64) -> u64 {
    rng::mix((ino << 40) ^ (off / 8))
}

/// A check run after each operation in record mode (id, operation).
pub type Hook<'a> = &'a mut dyn FnMut(u64, &Op) -> Result<(), Finding>;

/// The variant of this boot, or `None` after printing the valid ones.
pub fn variant(info: &BootInfo) -> Option<Variant> {
    let v = Variant::parse(info.variant());
    if v.is_none() {
        println!("unknown variant `{}`; valid variants:", info.variant());
        for (name, _, description) in variant::ALL {
            println!("  {name}: {description}");
        }
    }
    v
}

/// Runs `plan` in the boot's mode; returns the exit status.
pub fn run(info: &'static BootInfo, plan: &Plan, hook: Hook) -> u32 {
    let Some(variant) = variant(info) else {
        return 2;
    };
    if info.mode == Mode::Verify as u32 {
        oracle::verify(plan, variant)
    } else {
        exec::record(info.scenario(), plan, variant, hook)
    }
}
