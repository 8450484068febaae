//! The agent's scenarios.

mod basic;
mod dax_fsync;
mod fsx;
mod generic_080;
mod pmem_gen;
mod pmem_log;
mod pmem_smoke;
mod variants;

use crate::dax::variant;
use alloc::vec::Vec;
use pmemvm_sdk::BootInfo;

/// A scenario's variants, as list mode reports them.
pub enum Variants {
    /// None to choose from (the variant is ignored).
    None,
    /// These: name, one-line description.
    Fixed(&'static [(&'static str, &'static str)]),
    /// The DAX file system's: `correct`, `correct-v410` and every bug.
    Dax,
}

impl Variants {
    /// Name and description of each.
    pub fn list(&self) -> Vec<(&'static str, &'static str)> {
        match self {
            Variants::None => Vec::new(),
            Variants::Fixed(v) => v.to_vec(),
            Variants::Dax => variant::ALL.iter().map(|(n, _, d)| (*n, *d)).collect(),
        }
    }
}

/// A named workload.
pub struct Scenario {
    /// Name used on the command line.
    pub name: &'static str,
    /// One line for `pmemvm scenarios`.
    pub description: &'static str,
    /// Its variants.
    pub variants: Variants,
    /// Runs it; returns the exit status.
    pub run: fn(&'static BootInfo) -> u32,
}

/// Every scenario of the agent.
pub const ALL: &[Scenario] = &[
    Scenario {
        name: "hello",
        description: "prints a line and exits 0",
        variants: Variants::None,
        run: basic::hello,
    },
    Scenario {
        name: "pagefault",
        description: "maps 1000 pages lazily through the page-fault upcall and checks them",
        variants: Variants::None,
        run: basic::pagefault,
    },
    Scenario {
        name: "tasks",
        description: "two tasks suspended inside their fault handlers while the other faults",
        variants: Variants::None,
        run: basic::tasks,
    },
    Scenario {
        name: "dax-fsync",
        description: "mini DAX: every fault, writeback, write(2), truncate, punch and sync path",
        variants: Variants::Dax,
        run: dax_fsync::run,
    },
    Scenario {
        name: "generic-080",
        description: "mini DAX: read fault then store; mtime must change and the store must survive fsync",
        variants: Variants::Dax,
        run: generic_080::run,
    },
    Scenario {
        name: "fsx",
        description: "mini DAX: seeded random pwrite/mmap/msync/truncate/punch/fsync/sync mix over three files",
        variants: Variants::Dax,
        run: fsx::run,
    },
    Scenario {
        name: "pmem-smoke",
        description: "every kind of persistent-memory event once, at known offsets",
        variants: Variants::Fixed(&[
            ("correct", "every event, the promise after its fence"),
            ("no-fence", "no sfence before the promise"),
            (
                "memfns",
                "copies and fills through the runtime's memcpy, memmove and memset instead",
            ),
        ]),
        run: pmem_smoke::run,
    },
    Scenario {
        name: "pmem-log",
        description: "a persistent append-only log: 8 appends of a record and its commit (the tail) on the NVDIMM",
        variants: Variants::Fixed(&[
            (
                "correct",
                "the record persisted (flush, fence) before the tail",
            ),
            (
                "no-fence",
                "no sfence between the record's flushes and the tail store",
            ),
            ("commit-first", "the tail persisted before the record"),
        ]),
        run: pmem_log::run,
    },
    Scenario {
        name: "pmem-gen",
        description: "a program of every persistent-memory event generated from the seed, on 16 lines",
        variants: Variants::Fixed(&[
            (
                "restricted",
                "no line written twice between two fences, nor after its flush before the fence",
            ),
            (
                "free",
                "no rule: lines rewritten, and written after their flush",
            ),
        ]),
        run: pmem_gen::run,
    },
    Scenario {
        name: "bench-pagefault",
        description: "benchmark: faults in SEED pages (at most 1000) through the upcall",
        variants: Variants::None,
        run: basic::bench_pagefault,
    },
    Scenario {
        name: "bench-syscall",
        description: "benchmark: makes SEED system calls (invlpg through ud2)",
        variants: Variants::None,
        run: basic::bench_syscall,
    },
    Scenario {
        name: "idle",
        description: "benchmark: records nothing; in verify mode passes at once (the floor)",
        variants: Variants::None,
        run: basic::idle,
    },
    Scenario {
        name: "bench-pmem",
        description: "benchmark: writes 1 MiB with 8-byte stores",
        variants: Variants::Fixed(&[
            ("traced", "to the NVDIMM while recording"),
            ("setup", "to the NVDIMM in the untraced setup phase"),
            ("ram", "to RAM"),
            ("none", "no stores (the floor)"),
        ]),
        run: basic::bench_pmem,
    },
    Scenario {
        name: "bench-record",
        description: "benchmark: SEED passes of a workload, recorded or (-setup) in the untraced setup phase",
        variants: Variants::Fixed(&[
            (
                "append-64",
                "256 KiB appended as 64-byte records, each persisted",
            ),
            (
                "append-256",
                "256 KiB appended as 256-byte records, each persisted",
            ),
            (
                "append-4k",
                "256 KiB appended as 4 KiB records, each persisted",
            ),
            ("copy-1m", "1 MiB copied from RAM, then persisted once"),
            ("append-64-setup", "append-64 in the untraced setup phase"),
            ("append-256-setup", "append-256 in the untraced setup phase"),
            ("append-4k-setup", "append-4k in the untraced setup phase"),
            ("copy-1m-setup", "copy-1m in the untraced setup phase"),
            ("none", "no stores (the floor)"),
        ]),
        run: basic::bench_record,
    },
    Scenario {
        name: "panic",
        description: "broken on purpose: panics",
        variants: Variants::None,
        run: basic::panic,
    },
    Scenario {
        name: "exception",
        description: "broken on purpose: divides by zero (unhandled #DE)",
        variants: Variants::None,
        run: basic::exception,
    },
    Scenario {
        name: "nested-fault",
        description: "broken on purpose: faults inside its own page-fault handler",
        variants: Variants::None,
        run: basic::nested_fault,
    },
    Scenario {
        name: "spin",
        description: "broken on purpose: spins forever without exits (for --timeout)",
        variants: Variants::None,
        run: basic::spin,
    },
];

/// Every scenario's name, description and variants: [`ALL`], then one
/// per bug variant, named after it.
pub fn list() -> impl Iterator<Item = (&'static str, &'static str, &'static Variants)> {
    ALL.iter()
        .map(|s| (s.name, s.description, &s.variants))
        .chain(
            variants::ALL
                .iter()
                .map(|(n, d, _)| (*n, *d, &Variants::Dax)),
        )
}

/// How to run the scenario called `name`.
pub fn find(name: &str) -> Option<fn(&'static BootInfo) -> u32> {
    match ALL.iter().find(|s| s.name == name) {
        Some(s) => Some(s.run),
        None => variants::ALL
            .iter()
            .any(|(n, _, _)| *n == name)
            .then_some(variants::run_scenario as fn(&'static BootInfo) -> u32),
    }
}
