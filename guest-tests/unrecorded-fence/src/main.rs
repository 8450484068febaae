//! A test guest built on the pmemvm runtime, like a user's: it executes one
//! `sfence` of its own (inline assembly in [`unrecorded_sfence`]) outside the
//! recorded persistent-memory API, which `pmemvm lint` must find and `run`,
//! `crashtest` and `verify` must warn about. Otherwise it is correct: its
//! one scenario, `unrecorded-fence`, stores a word to the NVDIMM, writes it
//! back and fences through the API, promises it and checks the promise in
//! verify mode.

#![no_std]
#![no_main]

extern crate alloc;

use pmemvm_abi::Mode;
use pmemvm_sdk::pmem::{self, MarkFields};
use pmemvm_sdk::{BootInfo, println, report};

/// The scenario's name.
const SCENARIO: &str = "unrecorded-fence";
/// The word the scenario stores at device offset 0, and promises.
const VALUE: u64 = 0x5eed_f00d_5eed_f00d;

/// An `sfence` the VMM never hears of (what an `_mm_sfence()` in a user's
/// code compiles to).
#[inline(never)]
fn unrecorded_sfence() {
    // SAFETY: `sfence` only orders stores; it touches no memory or register.
    unsafe { core::arch::asm!("sfence", options(nostack, preserves_flags)) };
}

fn run(info: &'static BootInfo) -> u32 {
    let dev = match pmem::init() {
        Ok(d) => d,
        Err(e) => {
            println!("{SCENARIO}: no NVDIMM: {e:?}");
            return 1;
        }
    };
    if info.variant() != "correct" {
        println!("{SCENARIO}: unknown variant `{}` (correct)", info.variant());
        return 2;
    }
    let word = dev.base as *mut u64;
    if info.mode == Mode::Verify as u32 {
        let promised = report::verify_info().is_some_and(|(_, p)| !p.is_empty());
        // SAFETY: the first word of the mapped NVDIMM.
        let found = unsafe { word.read_volatile() };
        if promised && found != VALUE {
            let msg = alloc::format!(
                "file 1 offset 0x0 (device offset 0x0): promised {VALUE:#x}, found {found:#x}"
            );
            report::fail("promised-data", &msg);
        } else {
            report::pass("");
        }
        return 0;
    }
    pmem::setup_done();
    pmem::mark(
        "store",
        MarkFields {
            op: Some(1),
            range: Some((0, 8)),
            ..MarkFields::default()
        },
    );
    // SAFETY: the first word of the mapped NVDIMM.
    unsafe { word.write_volatile(VALUE) };
    pmem::clwb(word as *const u8);
    unrecorded_sfence();
    pmem::sfence();
    pmem::promise(1, 0, 8, 1, (0, 8));
    println!("{SCENARIO}: stored, flushed, fenced and promised {VALUE:#x}");
    0
}

fn main(info: &'static BootInfo) -> u32 {
    match Mode::from_raw(info.mode) {
        Some(Mode::List) => {
            pmemvm_sdk::report_scenario(
                SCENARIO,
                "stores, flushes and fences a word through the API, plus one unrecorded sfence",
                &[("correct", "the only variant")],
            );
            0
        }
        Some(Mode::Run | Mode::Verify) if info.scenario() == SCENARIO => run(info),
        _ => {
            println!(
                "unknown scenario `{}` or mode {}",
                info.scenario(),
                info.mode
            );
            2
        }
    }
}

pmemvm_sdk::entry!(main);
