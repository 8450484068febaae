//! A test guest built on the pmemvm SDK, like a user's, whose recovery
//! checks nothing: only pmemvm's own check of the promises can fail its
//! crash images. Its one scenario, `promise-check`, stores a pattern over
//! [`LEN`] bytes of the NVDIMM, writes each line back, fences (variant
//! `correct`) or not (variant `no-fence`), and promises the range. Without
//! the fence the promised lines may still be lost when the power fails, so
//! `pmemvm crashtest` must report one bug, of check `promise`.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use pmemvm_sdk::pmem::{self, MarkFields};
use pmemvm_sdk::println;
use pmemvm_sdk::report::Finding;
use pmemvm_sdk::scenario::{Context, Scenario, Variant};

/// Device offset of the promised range.
const OFFSET: u64 = 0x1000;
/// Its length: four lines.
const LEN: u64 = 4 * pmem::LINE;

/// The scenario.
static PROMISE_CHECK: Scenario = Scenario {
    name: "promise-check",
    description: "stores and flushes four lines, fences or not, promises them",
    variants: &[
        Variant {
            name: "correct",
            description: "the fence before the promise",
        },
        Variant {
            name: "no-fence",
            description: "no fence before the promise",
        },
    ],
    setup: |_| {},
    run,
    recover,
};

pmemvm_sdk::scenarios!(PROMISE_CHECK);

/// Stores, flushes, fences (or not) and promises the range.
fn run(ctx: &Context) {
    pmem::mark(
        "write",
        MarkFields {
            op: Some(1),
            range: Some((OFFSET, LEN)),
            ..MarkFields::default()
        },
    );
    let range = ctx.region.sub(OFFSET, LEN);
    let pattern: [u8; LEN as usize] = core::array::from_fn(|i| 0xa0 ^ i as u8);
    range.write_bytes(0, &pattern);
    range.flush(0, LEN);
    let fence = ctx.variant == "correct";
    if fence {
        range.drain();
    }
    range.promise(0, LEN, 1);
    println!(
        "promise-check: stored and flushed {LEN} bytes at {OFFSET:#x}, {}, promised them",
        if fence { "fenced" } else { "no fence" }
    );
}

/// Checks nothing: pmemvm checks the promise by itself.
fn recover(_: &Context) -> Result<String, Finding> {
    Ok(String::new())
}
