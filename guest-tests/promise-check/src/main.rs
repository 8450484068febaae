//! A test guest built on the pmemvm runtime, like a user's, whose recovery
//! checks nothing: only pmemvm's own check of the promises can fail its
//! crash images. Its one scenario, `promise-check`, stores a pattern over
//! [`LEN`] bytes of the NVDIMM, writes each line back, fences (variant
//! `correct`) or not (variant `no-fence`), and promises the range. Without
//! the fence the promised lines may still be lost when the power fails, so
//! `pmemvm crashtest` must report one bug, of check `promise`.

#![no_std]
#![no_main]

use pmemvm_abi::Mode;
use pmemvm_sdk::pmem::{self, MarkFields};
use pmemvm_sdk::{BootInfo, println, report};

/// The scenario's name.
const SCENARIO: &str = "promise-check";
/// Device offset of the promised range.
const OFFSET: u64 = 0x1000;
/// Its length: four lines.
const LEN: usize = 4 * pmem::LINE as usize;

fn run(info: &'static BootInfo) -> u32 {
    let dev = match pmem::init() {
        Ok(d) => d,
        Err(e) => {
            println!("{SCENARIO}: no NVDIMM: {e:?}");
            return 1;
        }
    };
    let fence = match info.variant() {
        "correct" => true,
        "no-fence" => false,
        other => {
            println!("{SCENARIO}: unknown variant `{other}` (correct, no-fence)");
            return 2;
        }
    };
    if info.mode == Mode::Verify as u32 {
        // Recovery checks nothing: pmemvm checks the promise by itself.
        report::pass("");
        return 0;
    }
    pmem::setup_done();
    pmem::mark(
        "write",
        MarkFields {
            op: Some(1),
            range: Some((OFFSET, LEN as u64)),
            ..MarkFields::default()
        },
    );
    let dst = (dev.base + OFFSET) as *mut u8;
    let mut pattern = [0u8; LEN];
    for (i, b) in pattern.iter_mut().enumerate() {
        *b = 0xa0 ^ i as u8;
    }
    // SAFETY: `LEN` bytes at `OFFSET` lie inside the mapped NVDIMM.
    unsafe { pmem::copy_cached(dst, &pattern) };
    pmem::pmem_flush(dst, LEN);
    if fence {
        pmem::pmem_drain();
    }
    pmem::promise(1, 0, LEN as u64, 1, (OFFSET, LEN as u64));
    println!(
        "{SCENARIO}: stored and flushed {LEN} bytes at {OFFSET:#x}, {}, promised them",
        if fence { "fenced" } else { "no fence" }
    );
    0
}

fn main(info: &'static BootInfo) -> u32 {
    match Mode::from_raw(info.mode) {
        Some(Mode::List) => {
            pmemvm_sdk::report_scenario(
                SCENARIO,
                "stores and flushes four lines, fences or not, promises them",
                &[
                    ("correct", "the fence before the promise"),
                    ("no-fence", "no fence before the promise"),
                ],
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
