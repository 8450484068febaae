//! `generic-080`: the DAX analogue of xfstests generic/080. A read fault
//! maps a page read-only; the first store through it must go through
//! `pfn_mkwrite`, which tags the entry DIRTY and updates mtime. Record mode
//! checks that mtime changed; the fsync then promises the stored byte.

use crate::dax;
use crate::dax::mkfs::FileSpec;
use crate::workload::{self, Op, Plan};
use alloc::format;
use alloc::vec;
use pmemvm_sdk::BootInfo;
use pmemvm_sdk::report::Finding;

/// The workload.
pub fn plan() -> Plan {
    Plan::sequential(
        vec![FileSpec::new(1, 4, 4)],
        vec![
            Op::Mmap {
                map: 0,
                ino: 1,
                pgoff: 0,
                pages: 4,
                huge: false,
            },
            Op::Load {
                map: 0,
                off: 0,
                len: 1,
            },
            Op::Store {
                map: 0,
                off: 0,
                data: b"B".to_vec(),
            },
            Op::Fsync { ino: 1 },
            Op::Munmap { map: 0 },
        ],
    )
}

/// The mtime of inode 1.
fn mtime() -> u64 {
    // SAFETY: used for this read alone.
    unsafe { dax::fs() }.inode(1).cur.mtime
}

/// Runs it (record or verify mode).
pub fn run(info: &'static BootInfo) -> u32 {
    let mut before = 0;
    let mut hook = |_: u64, op: &Op| match op {
        Op::Load { .. } => {
            before = mtime();
            Ok(())
        }
        Op::Store { .. } if mtime() == before => Err(Finding::new(
            "mtime-updated",
            format!(
                "generic-080: mtime of inode 1 is still {before} after a store through a read-faulted mapping"
            ),
        )),
        _ => Ok(()),
    };
    workload::run(info, &plan(), &mut hook)
}
