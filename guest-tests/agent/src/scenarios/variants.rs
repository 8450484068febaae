//! One scenario per bug variant: the script of section 8 for it, scaled
//! to real page sizes (a PMD is 512 pages). The files are preallocated and
//! filled with the pattern ("A") in the untraced setup; every script ends
//! with its CRASH step (the `crash` mark). Under its own variant the
//! promises at `mark:crash` are broken; under `correct` (and
//! `correct-v410`) they are kept.

use crate::dax::layout::PAGE;
use crate::dax::mkfs::FileSpec;
use crate::dax::variant::Yp;
use crate::workload::script::{Step, finish, run, until};
use crate::workload::{self, Op, Plan};
use alloc::vec;
use alloc::vec::Vec;
use pmemvm_sdk::BootInfo;

fn store(map: u64, off: u64, data: &[u8]) -> Op {
    Op::store(map, off, data.to_vec())
}

/// Ops run one after another by task 0, then the crash.
fn sequential(files: Vec<FileSpec>, ops: Vec<Op>) -> Plan {
    let mut script: Vec<Step> = ops.iter().map(|_| run(0)).collect();
    script.push(Step::Crash);
    Plan { files, ops, script }
}

/// V1: two fsyncs; the first stops after clearing TOWRITE, the second
/// finds nothing to flush and returns.
fn v1() -> Plan {
    let ops = vec![
        Op::mmap(0, 1, 0, 16, false),
        store(0, 0, b"X"),
        Op::Fsync { ino: 1 },
        Op::Fsync { ino: 1 },
    ];
    let script = vec![
        run(0),
        run(0),
        until(1, Yp::Tagged),
        until(2, Yp::Tagged),
        Step::Resume {
            task: 1,
            until: Some(Yp::Wb),
        },
        finish(2),
        Step::Crash,
    ];
    Plan {
        files: vec![FileSpec::new(1, 16, 16)],
        ops,
        script,
    }
}

/// V2: read fault, then a store through the read-only PTE, then fsync.
fn v2() -> Plan {
    let ops = vec![
        Op::mmap(0, 1, 0, 16, false),
        Op::Load {
            map: 0,
            off: 0,
            len: 1,
        },
        store(0, 0, b"B"),
        Op::Fsync { ino: 1 },
    ];
    sequential(vec![FileSpec::new(1, 16, 16)], ops)
}

/// V3: a PMD write fault at page 513, msync of page 513 only.
fn v3() -> Plan {
    let ops = vec![
        Op::mmap(0, 1, 0, 1024, true),
        store(0, 513 * PAGE, b"X"),
        Op::Msync {
            map: 0,
            off: 513 * PAGE,
            len: PAGE,
        },
    ];
    sequential(vec![FileSpec::new(1, 1024, 1024)], ops)
}

/// V4: scenario A (the radix insert fails once; SIGBUS is retried) on
/// page 3, then scenario B (a store through the PTE while the faulting
/// task is stopped before its radix entry) on page 7.
fn v4() -> Plan {
    let ops = vec![
        Op::mmap(0, 1, 0, 16, false),
        store(0, 3 * PAGE, b"X"),
        Op::Fsync { ino: 1 },
        store(0, 7 * PAGE + 8, b"W"),
        store(0, 7 * PAGE, b"X"),
        Op::Fsync { ino: 1 },
    ];
    let script = vec![
        run(0),
        Step::FailNextInsert,
        run(0),
        run(0),
        until(1, Yp::FaultPte),
        run(2),
        run(3),
        Step::Crash,
    ];
    Plan {
        files: vec![FileSpec::new(1, 16, 16)],
        ops,
        script,
    }
}

/// V5: store, munmap, fsync.
fn v5() -> Plan {
    let ops = vec![
        Op::mmap(0, 1, 0, 16, false),
        store(0, 2 * PAGE, b"X"),
        Op::Munmap { map: 0 },
        Op::Fsync { ino: 1 },
    ];
    sequential(vec![FileSpec::new(1, 16, 16)], ops)
}

/// V6: store, sync.
fn v6() -> Plan {
    let ops = vec![
        Op::mmap(0, 1, 0, 16, false),
        store(0, 5 * PAGE, b"X"),
        Op::Sync,
    ];
    sequential(vec![FileSpec::new(1, 16, 16)], ops)
}

/// V7: store, write(2) to the same page (which invalidates it), fsync.
fn v7() -> Plan {
    let ops = vec![
        Op::mmap(0, 1, 0, 16, false),
        store(0, 0, b"X"),
        Op::Write {
            ino: 1,
            off: 100,
            data: b"Y".to_vec(),
        },
        Op::Fsync { ino: 1 },
    ];
    sequential(vec![FileSpec::new(1, 16, 16)], ops)
}

/// V8: store, fdatasync (only timestamps changed: no commit, no fence).
fn v8() -> Plan {
    let ops = vec![
        Op::mmap(0, 1, 0, 16, false),
        store(0, 4 * PAGE, b"X"),
        Op::Fdatasync { ino: 1 },
    ];
    sequential(vec![FileSpec::new(1, 16, 16)], ops)
}

/// V9: 9a on file 1 (a PMD left writable across fsync) and 9b on file 2
/// (another process's PTE inside the PMD entry left writable).
fn v9() -> Plan {
    let head = 512 * PAGE;
    let ops = vec![
        Op::mmap(0, 1, 0, 1024, true),
        store(0, head, b"X"),
        Op::Fsync { ino: 1 },
        store(0, head + 1, b"Y"),
        Op::Fsync { ino: 1 },
        Op::mmap(1, 2, 0, 1024, true),
        store(1, head, b"X"),
        Op::mmap(2, 2, 513, 1, false),
        store(2, 0, b"Y"),
        Op::Fsync { ino: 2 },
        store(2, 0, b"Z"),
        Op::Fsync { ino: 2 },
    ];
    sequential(
        vec![FileSpec::new(1, 1024, 1024), FileSpec::new(2, 1024, 1024)],
        ops,
    )
}

/// V10: a store stopped between the DIRTY tag and the PTE upgrade while
/// another task's fsync cleans the entry.
fn v10() -> Plan {
    let ops = vec![
        Op::mmap(0, 1, 0, 16, false),
        Op::Load {
            map: 0,
            off: 0,
            len: 1,
        },
        store(0, 0, b"X"),
        Op::Fsync { ino: 1 },
        Op::Fsync { ino: 1 },
    ];
    let script = vec![
        run(0),
        run(0),
        until(1, Yp::Mkwrite),
        run(2),
        finish(1),
        run(3),
        Step::Crash,
    ];
    Plan {
        files: vec![FileSpec::new(1, 16, 16)],
        ops,
        script,
    }
}

/// `metadata_not_committed`: an allocating store into a hole, msync.
fn metadata() -> Plan {
    let ops = vec![
        Op::mmap(0, 1, 0, 8, false),
        store(0, 6 * PAGE, b"X"),
        Op::Msync {
            map: 0,
            off: 6 * PAGE,
            len: PAGE,
        },
    ];
    sequential(vec![FileSpec::new(1, 8, 6)], ops)
}

/// A bug scenario: name (the variant's), description, plan.
pub type BugScenario = (&'static str, &'static str, fn() -> Plan);

/// The bug scenarios.
pub const ALL: &[BugScenario] = &[
    (
        "towrite_clear_before_flush",
        "V1 race: fsync stopped at YP_WB after clearing TOWRITE, a second fsync returns (variants: all)",
        v1,
    ),
    (
        "no_pfn_mkwrite_tracking",
        "V2: read fault, store through the read-only PTE, fsync (variants: all)",
        v2,
    ),
    (
        "pmd_lookup_bytes_as_index",
        "V3: PMD write fault at page 513, msync of page 513 (variants: all)",
        v3,
    ),
    (
        "pte_before_radix_entry",
        "V4: failed radix insert retried, and a store while the fault stops at YP_FAULT_PTE (variants: all)",
        v4,
    ),
    (
        "msync_only_vma_flush",
        "V5: store, munmap, fsync (variants: all)",
        v5,
    ),
    ("sync_skips_dax", "V6: store, sync (variants: all)", v6),
    (
        "invalidate_drops_dirty_entry",
        "V7: store, write(2) to the page (invalidate), fsync (variants: all)",
        v7,
    ),
    (
        "missing_fence_after_clwb",
        "V8: store, fdatasync with only timestamps dirty (variants: all)",
        v8,
    ),
    (
        "clean_without_wrprotect",
        "V9: stores through a PMD and another VMA's PTE after a v4.10 fsync cleaned the entry (variants: all)",
        v9,
    ),
    (
        "mkwrite_pte_upgrade_unlocked",
        "V10 race: store stopped at YP_MKWRITE while an fsync cleans the entry, then fsync (variants: all)",
        v10,
    ),
    (
        "metadata_not_committed",
        "allocating store into a hole, msync (variants: all)",
        metadata,
    ),
];

/// Runs the scenario of the boot (record or verify mode).
pub fn run_scenario(info: &'static BootInfo) -> u32 {
    match ALL.iter().find(|(name, _, _)| *name == info.scenario()) {
        Some((_, _, plan)) => workload::run(info, &plan(), &mut |_, _| Ok(())),
        None => 2,
    }
}
