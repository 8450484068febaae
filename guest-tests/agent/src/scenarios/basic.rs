//! Scenarios that exercise the runtime: console, page-fault upcalls, tasks,
//! and deliberately broken guests for the VMM's error paths.

use pmemvm_sdk::fault::{self, Fault};
use pmemvm_sdk::paging::{PAGE_SIZE, PRESENT, PageTables, USER, WRITABLE};
use pmemvm_sdk::task::{self, Status, Task};
use pmemvm_sdk::{BootInfo, Global, println};

/// Lazily mapped region of the page-fault scenarios (PML4 slot 1).
const LAZY_BASE: u64 = 0x80_0000_0000;
/// Pages touched by `pagefault`.
const LAZY_PAGES: u64 = 1000;

/// Faults served so far.
static FAULTS: Global<u64> = Global::new(0);
/// When set, the handler yields (inside the handler) before mapping.
static YIELD_IN_HANDLER: Global<bool> = Global::new(false);

fn pattern(page: u64, word: u64) -> u64 {
    (page << 32) ^ (word.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

#[repr(C, align(4096))]
struct Frame([u64; 512]);

/// Maps a fresh frame filled with the page's pattern.
fn lazy_handler(f: &Fault) -> bool {
    if !(LAZY_BASE..LAZY_BASE + LAZY_PAGES * PAGE_SIZE).contains(&f.addr) {
        return false;
    }
    // SAFETY: single vCPU, cooperative tasks: no concurrent access.
    unsafe { *FAULTS.get() += 1 };
    // SAFETY: as above.
    if unsafe { *YIELD_IN_HANDLER.get() } {
        task::yield_now(f.addr);
    }
    let page = (f.addr - LAZY_BASE) / PAGE_SIZE;
    let frame = alloc::boxed::Box::leak(alloc::boxed::Box::new(Frame([0; 512])));
    for (w, slot) in frame.0.iter_mut().enumerate() {
        *slot = pattern(page, w as u64);
    }
    let phys = frame as *mut Frame as u64;
    PageTables::boot()
        .map_4k(
            LAZY_BASE + page * PAGE_SIZE,
            phys,
            PRESENT | WRITABLE | USER,
        )
        .is_ok()
}

fn faults() -> u64 {
    // SAFETY: single vCPU, no concurrent access.
    unsafe { *FAULTS.get() }
}

fn read(addr: u64) -> u64 {
    // SAFETY: the address lies in the lazily mapped region: the handler maps it on first touch.
    unsafe { (addr as *const u64).read_volatile() }
}

/// Prints a line and exits 0.
pub fn hello(info: &'static BootInfo) -> u32 {
    println!(
        "hello from the pmemvm guest (scenario {}, seed {})",
        info.scenario(),
        info.seed
    );
    0
}

/// Touches 1000 lazily mapped pages, checks their contents and the fault count.
pub fn pagefault(_: &'static BootInfo) -> u32 {
    fault::set_handler(lazy_handler);
    let mut bad = 0;
    for page in 0..LAZY_PAGES {
        let base = LAZY_BASE + page * PAGE_SIZE;
        for word in [0, 1, 511] {
            if read(base + word * 8) != pattern(page, word) {
                bad += 1;
            }
        }
        // SAFETY: the page is mapped writable now.
        unsafe { ((base + 16) as *mut u64).write_volatile(page) };
        if read(base + 16) != page {
            bad += 1;
        }
    }
    println!(
        "pagefault: {} pages, {} faults, {} bad words",
        LAZY_PAGES,
        faults(),
        bad
    );
    if bad == 0 && faults() == LAZY_PAGES {
        0
    } else {
        1
    }
}

/// Two tasks, each suspended inside its own fault handler while the other faults.
pub fn tasks(_: &'static BootInfo) -> u32 {
    fault::set_handler(lazy_handler);
    // SAFETY: single vCPU, no concurrent access.
    unsafe { *YIELD_IN_HANDLER.get() = true };
    let results = alloc::rc::Rc::new(core::cell::Cell::new([0u64; 2]));
    let mut tasks: alloc::vec::Vec<Task> = (0..2u64)
        .map(|i| {
            let results = results.clone();
            Task::new(move || {
                let v = read(LAZY_BASE + (10 + i) * PAGE_SIZE + 8);
                let mut r = results.get();
                r[i as usize] = v;
                results.set(r);
            })
        })
        .collect();
    let first = [tasks[0].resume(), tasks[1].resume()];
    let both_inside = tasks.iter().all(Task::in_fault_handler);
    let finished = [tasks[0].resume(), tasks[1].resume()];
    let ok = first.iter().all(|s| matches!(s, Status::Yielded(_)))
        && both_inside
        && finished.iter().all(|s| *s == Status::Finished)
        && results.get() == [pattern(10, 1), pattern(11, 1)];
    println!(
        "tasks: first {first:?}, both inside handlers {both_inside}, then {finished:?}, ok {ok}"
    );
    if ok { 0 } else { 1 }
}

/// Panics.
pub fn panic(_: &'static BootInfo) -> u32 {
    panic!("deliberate panic of the `panic` scenario")
}

/// Divides by zero in ring 3: an exception no handler takes.
pub fn exception(_: &'static BootInfo) -> u32 {
    // SAFETY: deliberately raises #DE; the VMM ends the run.
    unsafe {
        core::arch::asm!(
            "xor ecx, ecx",
            "xor edx, edx",
            "div ecx",
            out("ecx") _,
            out("edx") _,
            out("eax") _
        )
    };
    0
}

fn nested_handler(f: &Fault) -> bool {
    // Touch another lazy page from inside the handler: a nested fault.
    read(f.addr + PAGE_SIZE) != 0
}

/// Faults inside its own page-fault handler.
pub fn nested_fault(_: &'static BootInfo) -> u32 {
    fault::set_handler(nested_handler);
    read(LAZY_BASE) as u32
}

/// Spins without exits until the watchdog stops it.
pub fn spin(_: &'static BootInfo) -> u32 {
    loop {
        core::hint::spin_loop();
    }
}

/// Faults in `seed` fresh pages through the upcall (for `pmemvm bench`).
pub fn bench_pagefault(info: &'static BootInfo) -> u32 {
    fault::set_handler(lazy_handler);
    let pages = info.seed.min(LAZY_PAGES);
    let sum = (0..pages).fold(0u64, |acc, p| acc ^ read(LAZY_BASE + p * PAGE_SIZE));
    u32::from(faults() != pages || sum == u64::MAX)
}

/// Makes `seed` system calls (`invlpg`) (for `pmemvm bench`).
pub fn bench_syscall(info: &'static BootInfo) -> u32 {
    for i in 0..info.seed {
        pmemvm_sdk::syscall::invlpg(LAZY_BASE + (i % 512) * PAGE_SIZE);
    }
    0
}

/// Bytes `bench-pmem` writes.
const BENCH_BYTES: u64 = 1 << 20;

/// Writes 1 MiB with 8-byte stores, SEED times (for `pmemvm bench pmem`).
/// Variant `traced`: to the NVDIMM while recording; `setup`: to the NVDIMM
/// in the untraced setup phase; `ram`: to guest RAM; `none`: nothing.
pub fn bench_pmem(info: &'static BootInfo) -> u32 {
    let dev = match pmemvm_sdk::pmem::init() {
        Ok(d) => d,
        Err(e) => {
            println!("bench-pmem: no NVDIMM: {e:?}");
            return 1;
        }
    };
    let ram = alloc::vec![0u64; (BENCH_BYTES / 8) as usize];
    let target = match info.variant() {
        "setup" => Some(dev.base),
        "ram" => Some(ram.as_ptr() as u64),
        "traced" | "none" => None,
        other => {
            println!("bench-pmem: unknown variant `{other}` (traced, setup, ram, none)");
            return 2;
        }
    };
    let fill = |base: u64| {
        for pass in 0..info.seed.max(1) {
            for i in 0..BENCH_BYTES / 8 {
                // SAFETY: inside the NVDIMM or the RAM buffer, both BENCH_BYTES long.
                unsafe { ((base + i * 8) as *mut u64).write_volatile(i ^ pass) };
            }
        }
    };
    if let Some(base) = target {
        fill(base);
    }
    pmemvm_sdk::pmem::setup_done();
    if info.variant() == "traced" {
        fill(dev.base);
    }
    0
}

/// Bytes each append workload of `bench-record` writes in one pass.
const APPEND_BYTES: u64 = 256 << 10;
/// Bytes `bench-record`'s copy writes in one pass.
const COPY_BYTES: u64 = 1 << 20;

/// One workload of `bench-record`.
#[derive(Clone, Copy)]
enum RecordWork {
    /// Records of this many bytes appended to a log, each persisted.
    Append(u64),
    /// A 1 MiB copy from RAM, then one persist.
    Copy,
}

/// A word of `bench-record`'s content: word `word` (below 512) of record
/// `record` in pass `pass`. Every byte has its top bit set (so is never 0,
/// and a line written from zeroes changes whole); bytes 0-6 hold the
/// record and the word, 7 bits each, byte 7 the pass modulo 128 (so every
/// word differs from what the pass before left).
fn record_word(pass: u64, record: u64, word: u64) -> u64 {
    let key = (record << 9) | word;
    let low = (0..7).fold(0, |v, i| {
        v | ((0x80 | ((key >> (7 * i)) & 0x7f)) << (8 * i))
    });
    low | ((0x80 | (pass & 0x7f)) << 56)
}

impl RecordWork {
    /// Does the workload once (pass `pass`) on the NVDIMM at `base`,
    /// copying from `source` (the copy's).
    fn run(self, base: u64, pass: u64, source: &[u64]) {
        match self {
            RecordWork::Append(size) => {
                for record in 0..APPEND_BYTES / size {
                    let at = base + record * size;
                    for word in 0..size / 8 {
                        // SAFETY: inside the NVDIMM's first APPEND_BYTES.
                        unsafe {
                            ((at + word * 8) as *mut u64)
                                .write_volatile(record_word(pass, record, word))
                        };
                    }
                    pmemvm_sdk::pmem::pmem_persist(at as *const u8, size as usize);
                }
            }
            RecordWork::Copy => {
                // The source holds pass 0's words: the pass goes in byte 7.
                let mask = (pass & 0x7f) << 56;
                for (i, w) in source.iter().enumerate() {
                    // SAFETY: inside the NVDIMM's first COPY_BYTES.
                    unsafe { ((base + i as u64 * 8) as *mut u64).write_volatile(w ^ mask) };
                }
                pmemvm_sdk::pmem::pmem_persist(base as *const u8, COPY_BYTES as usize);
            }
        }
    }
}

/// The workloads of `pmemvm bench record`, SEED passes of one (for
/// `pmemvm bench record`). Variant `append-64`, `append-256`, `append-4k`:
/// 256 KiB of records of 64 bytes, 256 bytes or 4 KiB written with 8-byte
/// stores to a log at the NVDIMM's start, each persisted (`clwb` of its
/// lines, `sfence`); `copy-1m`: 1 MiB copied from RAM with 8-byte stores,
/// then persisted once. After setup is done (recorded), or, with the
/// suffix `-setup`, before (untraced). `none`: nothing (the floor). No
/// byte written is 0, and every word differs from what the last pass left.
pub fn bench_record(info: &'static BootInfo) -> u32 {
    let dev = match pmemvm_sdk::pmem::init() {
        Ok(d) => d,
        Err(e) => {
            println!("bench-record: no NVDIMM: {e:?}");
            return 1;
        }
    };
    let variant = info.variant();
    let (workload, untraced) = match variant.strip_suffix("-setup") {
        Some(w) => (w, true),
        None => (variant, false),
    };
    let work = match workload {
        "append-64" => Some(RecordWork::Append(64)),
        "append-256" => Some(RecordWork::Append(256)),
        "append-4k" => Some(RecordWork::Append(4096)),
        "copy-1m" => Some(RecordWork::Copy),
        "none" if !untraced => None,
        _ => {
            println!(
                "bench-record: unknown variant `{variant}` (append-64, append-256, append-4k, copy-1m, each also with -setup; none)"
            );
            return 2;
        }
    };
    let source: alloc::vec::Vec<u64> = match work {
        Some(RecordWork::Copy) => (0..COPY_BYTES / 8)
            .map(|i| record_word(0, i / 8, i % 8))
            .collect(),
        _ => alloc::vec::Vec::new(),
    };
    let run = || {
        if let Some(work) = work {
            for pass in 0..info.seed.max(1) {
                work.run(dev.base, pass, &source);
            }
        }
    };
    if untraced {
        run();
    }
    pmemvm_sdk::pmem::setup_done();
    if !untraced {
        run();
    }
    0
}

/// Does nothing: records an empty trace, and in verify mode passes at once
/// (the floor of a verify run, for `pmemvm bench crashtest`).
pub fn idle(info: &'static BootInfo) -> u32 {
    if info.mode == pmemvm_abi::Mode::Verify as u32 {
        pmemvm_sdk::report::pass("");
        return 0;
    }
    if pmemvm_sdk::pmem::init().is_err() {
        return 1;
    }
    pmemvm_sdk::pmem::setup_done();
    0
}
