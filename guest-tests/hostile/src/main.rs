//! A test guest, built on the SDK like a user's, that misbehaves on
//! purpose. Each scenario is one kind of misbehaviour, each variant one
//! case; `vmm/tests/hostile_guest.rs` runs them and checks that pmemvm
//! ends each with its documented exit status and a clear message, in
//! bounded memory. In list mode it also floods the VMM with scenarios
//! after its own.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use pmemvm_abi::pmem::{self as ring, Entry, Ring};
use pmemvm_abi::{MarkArgs, NONE, PromiseArgs, hc, layout};
use pmemvm_sdk::io::hypercall;
use pmemvm_sdk::pmem::{self, MarkFields};
use pmemvm_sdk::report::{self, Finding};
use pmemvm_sdk::scenario::{self, Context, Scenario, Variant};
use pmemvm_sdk::{BootInfo, abi::Mode, println, termination};

/// A variant named and described alike.
const fn variant(name: &'static str) -> Variant {
    Variant {
        name,
        description: name,
    }
}

/// Garbage in the event ring.
static RING: Scenario = Scenario {
    name: "ring",
    description: "writes garbage to the event ring",
    variants: &[
        variant("unknown-kind"),
        variant("head-far-ahead"),
        variant("nt-store-elsewhere"),
    ],
    setup: |_| {},
    run: ring_garbage,
    recover: |_| Ok(String::new()),
};

/// Absurd hypercall arguments.
static HYPERCALLS: Scenario = Scenario {
    name: "hypercalls",
    description: "passes absurd hypercall arguments",
    variants: &[
        variant("bad-buffers"),
        variant("promise-outside-device"),
        variant("mark-outside-device"),
    ],
    setup: |_| {},
    run: bad_hypercalls,
    recover: |_| Ok(String::new()),
};

/// Floods.
static FLOODS: Scenario = Scenario {
    name: "floods",
    description: "floods the VMM with marks, findings, console output or unflushed stores",
    variants: &[
        variant("marks"),
        variant("findings"),
        variant("console"),
        variant("unflushed-stores"),
    ],
    setup: |_| {},
    run: flood,
    recover: |_| Ok(String::new()),
};

/// Exits with the status its variant names.
static EXIT: Scenario = Scenario {
    name: "exit",
    description: "exits with the status its variant names",
    variants: &[
        variant("0"),
        variant("1"),
        variant("7"),
        variant("101"),
        variant("134"),
        variant("256"),
    ],
    setup: |_| {},
    run: |ctx| termination::exit(ctx.variant.parse().unwrap_or(255)),
    recover: |_| Ok(String::new()),
};

/// Spins without an exit while recording.
static SPIN: Scenario = Scenario {
    name: "spin",
    description: "spins without exits while recording",
    variants: &[variant("correct")],
    setup: |_| {},
    run: |_| loop {
        core::hint::spin_loop();
    },
    recover: |_| Ok(String::new()),
};

/// Persists and promises a line, then misbehaves in verify mode.
static VERIFY: Scenario = Scenario {
    name: "verify",
    description: "persists and promises a line, then misbehaves while recovering",
    variants: &[
        variant("setup-done"),
        variant("no-verdict"),
        variant("spin"),
    ],
    setup: |_| {},
    run: |ctx| {
        let line = ctx.region.sub(0, pmem::LINE);
        line.write_u64(0, 0x1234);
        line.persist(0, pmem::LINE);
        line.promise(0, 8, 1);
    },
    recover: misbehave_in_recovery,
};

/// Scenarios the guest reports beyond its own in list mode.
const LIST_FLOOD: usize = 5000;

pmemvm_sdk::entry!(main);

fn main(info: &'static BootInfo) -> u32 {
    let status = scenario::main(&[&RING, &HYPERCALLS, &FLOODS, &EXIT, &SPIN, &VERIFY], info);
    if Mode::from_raw(info.mode) == Some(Mode::List) {
        for _ in 0..LIST_FLOOD {
            pmemvm_sdk::report_scenario("flood", "one of many", &[]);
        }
    }
    status
}

/// The event ring, written directly.
fn ring_page() -> *mut Ring {
    layout::PMEM_RING as *mut Ring
}

fn ring_garbage(ctx: &Context) {
    let r = ring_page();
    let base = pmem::device().map_or(0, |d| d.base);
    // SAFETY: the ring page is identity-mapped guest RAM reserved by the
    // ABI; the VMM reads it only while the vCPU is stopped.
    unsafe {
        let head = (*r).head;
        match ctx.variant {
            "unknown-kind" => {
                (*r).entries[(head % ring::ENTRIES) as usize] = Entry {
                    kind: 0xdead,
                    size: 0,
                    addr: base,
                };
                (*r).head = head + 1;
            }
            "head-far-ahead" => (*r).head = head.wrapping_add(1 << 40),
            _ => {
                // Announces an NT store of 8 bytes at the first line, then
                // stores to the second.
                (*r).entries[(head % ring::ENTRIES) as usize] = Entry {
                    kind: ring::NTSTORE,
                    size: 8,
                    addr: base,
                };
                (*r).head = head + 1;
            }
        }
    }
    // The next exit drains the ring: a store to the NVDIMM.
    ctx.region.write_u64(64, 1);
    println!("hostile: the VMM accepted the garbage in the ring");
}

fn bad_hypercalls(ctx: &Context) {
    let size = ctx.region.len();
    match ctx.variant {
        "promise-outside-device" => pmem::promise(1, 0, 8, 1, (size, 64)),
        "mark-outside-device" => pmem::mark(
            "outside",
            MarkFields {
                range: Some((u64::MAX - 8, 64)),
                ..MarkFields::default()
            },
        ),
        _ => {
            let far = 1u64 << 62;
            let label = "a label";
            let long_label = [b'l'; 300];
            let mark = |gpa: u64, len: u64| MarkArgs {
                label_gpa: gpa,
                label_len: len,
                file: NONE,
                page: NONE,
                op: NONE,
                range_offset: NONE,
                range_len: 0,
            };
            let outside = mark(far, 8);
            let huge = mark(label.as_ptr() as u64, u64::MAX);
            let too_long = mark(long_label.as_ptr() as u64, long_label.len() as u64);
            let calls: [(&str, u64, [u64; 6]); 8] = [
                (
                    "console outside RAM",
                    hc::CONSOLE_WRITE,
                    [far, 8, 0, 0, 0, 0],
                ),
                (
                    "console of 2^63 bytes",
                    hc::CONSOLE_WRITE,
                    [0x10_0000, 1 << 63, 0, 0, 0, 0],
                ),
                (
                    "console wrapping around",
                    hc::CONSOLE_WRITE,
                    [u64::MAX - 4, 16, 0, 0, 0, 0],
                ),
                ("mark arguments outside RAM", hc::MARK, [far, 0, 0, 0, 0, 0]),
                (
                    "mark label outside RAM",
                    hc::MARK,
                    [&outside as *const MarkArgs as u64, 0, 0, 0, 0, 0],
                ),
                (
                    "mark label of 2^64-1 bytes",
                    hc::MARK,
                    [&huge as *const MarkArgs as u64, 0, 0, 0, 0, 0],
                ),
                (
                    "mark label of 300 bytes",
                    hc::MARK,
                    [&too_long as *const MarkArgs as u64, 0, 0, 0, 0, 0],
                ),
                (
                    "finding outside RAM",
                    hc::FINDING,
                    [far, 1 << 40, 0, 0, 0, 0],
                ),
            ];
            let promise = PromiseArgs::default();
            let mut wrong = 0;
            for (what, nr, args) in calls {
                let code = hypercall(nr, &args);
                if code != hc::BAD_BUFFER {
                    println!("hostile: {what}: code {code}, not BAD_BUFFER");
                    wrong += 1;
                }
            }
            let code = hypercall(hc::PROMISE, &[far]);
            if code != hc::BAD_BUFFER {
                println!("hostile: promise arguments outside RAM: code {code}");
                wrong += 1;
            }
            let code = hypercall(0xffff_ffff, &[&promise as *const PromiseArgs as u64]);
            if code != hc::UNKNOWN {
                println!("hostile: unknown hypercall: code {code}");
                wrong += 1;
            }
            println!("hostile: {wrong} bad answer(s)");
            termination::exit(if wrong == 0 { 0 } else { 9 });
        }
    }
    println!("hostile: the VMM accepted a range outside the device");
}

fn flood(ctx: &Context) {
    match ctx.variant {
        "marks" => {
            let label = [b'm'; hc::MAX_LABEL_LEN as usize];
            // SAFETY: ASCII.
            let label = unsafe { core::str::from_utf8_unchecked(&label) };
            for _ in 0..20_000 {
                pmem::mark(label, MarkFields::default());
            }
        }
        "findings" => {
            // 1 MiB messages from RAM, far more than the VMM keeps.
            for i in 0..100_000u64 {
                hypercall(
                    hc::FINDING,
                    &[
                        0x10_0000,
                        hc::MAX_BUFFER,
                        (b"flood-a" as *const u8) as u64 + (i % 2),
                        6,
                    ],
                );
            }
            report::finding("last", "the last finding");
            termination::exit(1);
        }
        "console" => {
            // 256 MiB of console output, then a failure.
            for _ in 0..256 {
                hypercall(hc::CONSOLE_WRITE, &[0x10_0000, hc::MAX_BUFFER]);
            }
            println!();
            println!("hostile: the last line of a console flood");
            termination::exit(1);
        }
        _ => {
            // Stores to the same four lines, never flushed.
            for i in 0..50_000u64 {
                ctx.region.write_u64((i % 32) * 8, i);
            }
        }
    }
}

fn misbehave_in_recovery(ctx: &Context) -> Result<String, Finding> {
    match ctx.variant {
        "setup-done" => pmem::setup_done(),
        "no-verdict" => termination::exit(0),
        _ => loop {
            core::hint::spin_loop();
        },
    }
    Ok(String::from("recovered"))
}
