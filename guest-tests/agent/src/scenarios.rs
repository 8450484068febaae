//! The agent's scenarios.

mod basic;
mod dax_fsync;
mod fsx;
mod generic_080;
mod pmem_log;
mod pmem_smoke;
mod variants;

use pmemvm_sdk::BootInfo;

/// A named workload.
pub struct Scenario {
    /// Name used on the command line.
    pub name: &'static str,
    /// One line for `pmemvm scenarios`.
    pub description: &'static str,
    /// Runs it; returns the exit status.
    pub run: fn(&'static BootInfo) -> u32,
}

/// Every scenario of the agent.
pub const ALL: &[Scenario] = &[
    Scenario {
        name: "hello",
        description: "prints a line and exits 0",
        run: basic::hello,
    },
    Scenario {
        name: "pagefault",
        description: "maps 1000 pages lazily through the page-fault upcall and checks them",
        run: basic::pagefault,
    },
    Scenario {
        name: "tasks",
        description: "two tasks suspended inside their fault handlers while the other faults",
        run: basic::tasks,
    },
    Scenario {
        name: "dax-fsync",
        description: "mini DAX: every fault, writeback, write(2), truncate, punch and sync path (variants: correct, correct-v410 and every bug variant; see the scenarios named after them)",
        run: dax_fsync::run,
    },
    Scenario {
        name: "generic-080",
        description: "mini DAX: read fault then store; mtime must change and the store must survive fsync (variants: correct, correct-v410 and every bug variant; see the scenarios named after them)",
        run: generic_080::run,
    },
    Scenario {
        name: "fsx",
        description: "mini DAX: seeded random pwrite/mmap/msync/truncate/punch/fsync/sync mix over three files (variants: correct, correct-v410 and every bug variant; see the scenarios named after them)",
        run: fsx::run,
    },
    Scenario {
        name: "pmem-smoke",
        description: "every kind of persistent-memory event once, at known offsets (variants: correct; no-fence: no sfence before the promise; memfns: copies and fills through the runtime's memcpy, memmove and memset instead)",
        run: pmem_smoke::run,
    },
    Scenario {
        name: "pmem-log",
        description: "a persistent append-only log: 8 appends of a record and its commit (the tail) on the NVDIMM (variants: correct; no-fence: no sfence between the record's flushes and the tail store; commit-first: the tail persisted before the record)",
        run: pmem_log::run,
    },
    Scenario {
        name: "bench-pagefault",
        description: "benchmark: faults in SEED pages (at most 1000) through the upcall",
        run: basic::bench_pagefault,
    },
    Scenario {
        name: "bench-syscall",
        description: "benchmark: makes SEED system calls (invlpg through ud2)",
        run: basic::bench_syscall,
    },
    Scenario {
        name: "idle",
        description: "benchmark: records nothing; in verify mode passes at once (the floor)",
        run: basic::idle,
    },
    Scenario {
        name: "bench-pmem",
        description: "benchmark: writes 1 MiB with 8-byte stores (variants traced, setup, ram, none)",
        run: basic::bench_pmem,
    },
    Scenario {
        name: "panic",
        description: "broken on purpose: panics",
        run: basic::panic,
    },
    Scenario {
        name: "exception",
        description: "broken on purpose: divides by zero (unhandled #DE)",
        run: basic::exception,
    },
    Scenario {
        name: "nested-fault",
        description: "broken on purpose: faults inside its own page-fault handler",
        run: basic::nested_fault,
    },
    Scenario {
        name: "spin",
        description: "broken on purpose: spins forever without exits (for --timeout)",
        run: basic::spin,
    },
];

/// Every scenario's name and description: [`ALL`], then one per bug
/// variant, named after it.
pub fn list() -> impl Iterator<Item = (&'static str, &'static str)> {
    ALL.iter()
        .map(|s| (s.name, s.description))
        .chain(variants::ALL.iter().map(|(n, d, _)| (*n, *d)))
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
