//! `dax-fsync`: one fixed workload through every path of the mini DAX:
//! read, write and write-protect faults, PMD read and write faults, a PTE
//! of another mapping inside a PMD entry, msync starting inside a PMD,
//! `write(2)` over blocks and holes, hole pages and `page_mkwrite`,
//! fdatasync, truncate down and up, hole punch (splitting a PMD entry),
//! invalidate, munmap before fsync, and sync.

use crate::dax::layout::PAGE;
use crate::dax::mkfs::FileSpec;
use crate::workload::{self, Op, Plan};
use alloc::vec;
use alloc::vec::Vec;
use pmemvm_sdk::BootInfo;

fn bytes(tag: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| tag.wrapping_add(i as u8 % 26)).collect()
}

fn store(map: u64, off: u64, tag: u8, len: usize) -> Op {
    Op::store(map, off, bytes(tag, len))
}

/// The workload.
pub fn plan() -> Plan {
    let files = vec![
        FileSpec::new(1, 1024, 1024),
        FileSpec::new(2, 16, 8),
        FileSpec::new(3, 0, 0),
    ];
    let ops = vec![
        Op::mmap(0, 1, 0, 16, false),
        Op::Load {
            map: 0,
            off: 0,
            len: 8,
        },
        store(0, 16, b'A', 8),
        store(0, 5 * PAGE + 100, b'a', 50),
        Op::Load {
            map: 0,
            off: 7 * PAGE,
            len: 8,
        },
        Op::Fsync { ino: 1 },
        Op::mmap(1, 1, 512, 512, true),
        Op::Load {
            map: 1,
            off: PAGE,
            len: 16,
        },
        store(1, 3 * PAGE + 8, b'K', 24),
        Op::mmap(2, 1, 513, 1, false),
        store(2, 64, b'P', 8),
        Op::Msync {
            map: 1,
            off: 2 * PAGE,
            len: 2 * PAGE,
        },
        Op::Write {
            ino: 2,
            off: 100,
            data: bytes(b'w', 200),
        },
        Op::Write {
            ino: 2,
            off: 40000,
            data: bytes(b'W', 5000),
        },
        Op::mmap(3, 2, 0, 16, false),
        Op::Load {
            map: 3,
            off: 12 * PAGE,
            len: 8,
        },
        store(3, 12 * PAGE + 4, b'h', 8),
        store(3, 14 * PAGE, b'H', 16),
        Op::Fdatasync { ino: 2 },
        Op::Read {
            ino: 2,
            off: 0,
            len: 16 * PAGE,
        },
        Op::Truncate {
            ino: 2,
            size: 30000,
        },
        Op::Punch {
            ino: 1,
            off: 2 * PAGE + 100,
            len: PAGE + 4000,
        },
        Op::Punch {
            ino: 1,
            off: 600 * PAGE,
            len: 10 * PAGE,
        },
        store(1, 188 * PAGE, b'S', 8),
        Op::Invalidate { ino: 1 },
        Op::Fsync { ino: 1 },
        store(0, 9 * PAGE, b'M', 8),
        Op::Munmap { map: 0 },
        Op::Fsync { ino: 1 },
        Op::Write {
            ino: 3,
            off: 0,
            data: bytes(b'c', 3000),
        },
        Op::Truncate {
            ino: 3,
            size: 10000,
        },
        Op::mmap(4, 3, 0, 3, false),
        store(4, 2 * PAGE + 10, b'm', 20),
        Op::Msync {
            map: 4,
            off: 0,
            len: 3 * PAGE,
        },
        Op::Load {
            map: 1,
            off: 100 * PAGE,
            len: 64,
        },
        Op::Truncate {
            ino: 2,
            size: 50000,
        },
        Op::Sync,
        Op::Munmap { map: 1 },
        Op::Munmap { map: 2 },
        Op::Munmap { map: 3 },
        Op::Munmap { map: 4 },
    ];
    Plan::sequential(files, ops)
}

/// Runs it (record or verify mode).
pub fn run(info: &'static BootInfo) -> u32 {
    workload::run(info, &plan(), &mut |_, _| Ok(()))
}
