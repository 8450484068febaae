//! `pmem-gen`: a program generated from the seed, of every kind of
//! persistent-memory event on a small region, for the test that recording
//! by epochs and by stores give the same crash images.
//!
//! Variants: `restricted` writes no line twice between two fences, nor
//! after its flush before the fence, and makes no NT store (the programs
//! for which both recording modes must give exactly the same images at
//! every point the `epochs` mode offers; an epoch's NT stores are recorded
//! as cached stores written back at the next fence, which loses images);
//! `free` has no such rule (there the `epochs` images must be a subset of
//! the `stores` images). Verify mode passes at once: the test compares
//! images, it checks nothing.

use crate::workload::rng::Rng;
use pmemvm_abi::Mode;
use pmemvm_sdk::pmem::{self, MarkFields};
use pmemvm_sdk::{BootInfo, println, report};

/// Lines of the region the program writes (from device offset 0).
const LINES: u64 = 16;
/// Operations per program.
const OPS: u64 = 400;

/// Lines written and flushed since the last fence, as bit sets.
#[derive(Default)]
struct Epoch {
    written: u64,
    flushed: u64,
}

impl Epoch {
    /// Whether the `restricted` rule lets `line` be written now.
    fn may_write(&self, line: u64) -> bool {
        (self.written | self.flushed) & (1 << line) == 0
    }
}

/// Runs the program of `info.seed`.
pub fn run(info: &'static BootInfo) -> u32 {
    let restricted = match info.variant() {
        "restricted" => true,
        "free" => false,
        other => {
            println!("pmem-gen: unknown variant `{other}` (restricted, free)");
            return 2;
        }
    };
    if info.mode == Mode::Verify as u32 {
        report::pass("");
        return 0;
    }
    let dev = match pmem::init() {
        Ok(d) => d,
        Err(e) => {
            println!("pmem-gen: no NVDIMM: {e:?}");
            return 1;
        }
    };
    let b = dev.base;
    let mut rng = Rng::new(info.seed);
    // Untraced setup: a pattern, so that the first writes change something.
    // SAFETY: the region lies in the mapped NVDIMM.
    unsafe { pmem::copy_cached(b as *mut u8, &rng.bytes(LINES * 64)) };
    pmem::setup_done();
    let mut epoch = Epoch::default();
    for op in 0..OPS {
        let line = rng.range(0, LINES);
        let word = b + line * 64 + rng.range(0, 8) * 8;
        let value = rng.next() | 1;
        let kind = rng.range(0, 100);
        let write = kind < 55;
        let nt = (43..=49).contains(&kind);
        if restricted && (nt || (write && !epoch.may_write(line))) {
            continue;
        }
        // SAFETY: every address lies in the region, aligned for its type.
        unsafe {
            match kind {
                0..=34 => (word as *mut u64).write_volatile(value),
                35..=39 => ((word + rng.range(0, 2) * 4) as *mut u32).write_volatile(value as u32),
                40..=42 => ((word + rng.range(0, 8)) as *mut u8).write_volatile(value as u8),
                43..=49 => pmem::movnti_u64(word as *mut u64, value),
                50..=54 => {
                    pmem::xchg_u64(word as *mut u64, value);
                }
                55..=69 => pmem::clwb(word as *const u8),
                70..=76 => pmem::clflushopt(word as *const u8),
                77..=81 => pmem::clflush(word as *const u8),
                82..=92 => pmem::sfence(),
                93..=95 => pmem::mfence(),
                _ => pmem::mark(
                    "gen",
                    MarkFields {
                        op: Some(op),
                        ..MarkFields::default()
                    },
                ),
            }
        }
        match kind {
            0..=54 => epoch.written |= 1 << line,
            55..=81 => epoch.flushed |= 1 << line,
            82..=95 => epoch = Epoch::default(),
            _ => {}
        }
    }
    0
}
