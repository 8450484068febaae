//! `pmem-smoke`: every kind of persistent-memory event once, at known
//! device offsets, so a test can check the exact trace; and a promise that
//! verify mode checks.
//!
//! Variants: `correct`, and `no-fence`, which forgets the `sfence` between
//! the flushes and the promise (so the promise can be broken); `memfns`
//! checks the runtime's `memmove` and `memset` in RAM (overlaps both ways)
//! and then records copies and fills into the NVDIMM through `memcpy`,
//! `memmove` and `memset` instead of the event sequence.

use core::hint::black_box;
use pmemvm_abi::Mode;
use pmemvm_sdk::pmem::{self, MarkFields};
use pmemvm_sdk::{BootInfo, println, report};

/// Offsets (from the NVDIMM base) the scenario writes to.
const SETUP_BYTES: u64 = 0x200;

fn at<T>(base: u64, off: u64) -> *mut T {
    (base + off) as *mut T
}

/// The promised device range and what it must hold.
const PROMISED: (u64, u64) = (0, 0xc0);

fn expected(off: u64) -> u8 {
    match off {
        0x00 => 0x11,
        0x40 | 0x41 => 0x22,
        0x80..=0x83 => 0x33,
        _ => 0xaa,
    }
}

/// Checks the promised range after a crash.
fn verify(base: u64) -> u32 {
    let promised = report::verify_info().is_some_and(|(_, p)| !p.is_empty());
    for off in PROMISED.0..PROMISED.0 + PROMISED.1 {
        // SAFETY: inside the mapped NVDIMM.
        let found = unsafe { at::<u8>(base, off).read_volatile() };
        if promised && found != expected(off) {
            let msg = alloc::format!(
                "file 1 offset {off:#x} (device offset {off:#x}): promised {:#04x}, found {found:#04x}",
                expected(off)
            );
            report::fail("promised-data", &msg);
            return 0;
        }
    }
    report::pass("");
    0
}

/// Checks `memmove` (overlapping both ways, every alignment) and `memset`
/// in RAM against byte-by-byte references; true when all agree.
fn mem_functions_correct() -> bool {
    const LEN: usize = 64;
    let orig: [u8; LEN] = core::array::from_fn(|i| i as u8 + 1);
    for n in 0..=40 {
        for s in 0..16 {
            for d in 0..16 {
                let mut buf = orig;
                // SAFETY: s + n and d + n are at most 56 <= LEN; `copy` is memmove.
                unsafe {
                    core::ptr::copy(buf.as_ptr().add(s), buf.as_mut_ptr().add(d), black_box(n))
                };
                let moved = (0..LEN).all(|k| {
                    let want = if (d..d + n).contains(&k) {
                        orig[k - d + s]
                    } else {
                        orig[k]
                    };
                    buf[k] == want
                });
                if !moved {
                    println!("pmem-smoke: memmove of {n} bytes from {s} to {d} is wrong: {buf:?}");
                    return false;
                }
            }
            let mut buf = orig;
            // SAFETY: s + n <= 56 <= LEN.
            unsafe { core::ptr::write_bytes(buf.as_mut_ptr().add(s), 0xee, black_box(n)) };
            if !(0..LEN).all(|k| {
                buf[k]
                    == if (s..s + n).contains(&k) {
                        0xee
                    } else {
                        orig[k]
                    }
            }) {
                println!("pmem-smoke: memset of {n} bytes at {s} is wrong: {buf:?}");
                return false;
            }
        }
    }
    true
}

/// Variant `memfns`: after checking the functions in RAM, a 256-byte
/// `memcpy` to device offset 0x200, a 64-byte `memset` at 0x300, a
/// 20-byte `memcpy` to the unaligned 0x343 and an overlapping 16-byte
/// `memmove` from 0x400 to 0x401. The lengths go through `black_box` so
/// that the compiler calls the functions instead of inlining the copies.
fn mem_functions(b: u64) -> u32 {
    if !mem_functions_correct() {
        return 1;
    }
    let record: [u8; 256] = core::array::from_fn(|i| i as u8);
    pmem::mark("memfns", MarkFields::default());
    // SAFETY: every range lies in the mapped NVDIMM; the copies' sources
    // are RAM, except the memmove, which `copy` allows to overlap.
    unsafe {
        core::ptr::copy_nonoverlapping(record.as_ptr(), at(b, 0x200), black_box(256));
        core::ptr::write_bytes(at::<u8>(b, 0x300), 0x5a, black_box(64));
        core::ptr::copy_nonoverlapping(record.as_ptr(), at(b, 0x343), black_box(20));
        core::ptr::copy(at::<u8>(b, 0x400), at(b, 0x401), black_box(16));
    }
    0
}

/// Stores of 1, 2, 4, 8 and 16 bytes, a store across a line, `movnti`,
/// each flush, each fence, an `xchg`, and marks.
pub fn run(info: &'static BootInfo) -> u32 {
    let dev = match pmem::init() {
        Ok(d) => d,
        Err(e) => {
            println!("pmem-smoke: no NVDIMM: {e:?}");
            return 1;
        }
    };
    let b = dev.base;
    let (fence, memfns) = match info.variant() {
        "correct" => (true, false),
        "no-fence" => (false, false),
        "memfns" => (true, true),
        other => {
            println!("pmem-smoke: unknown variant `{other}` (correct, no-fence, memfns)");
            return 2;
        }
    };
    if info.mode == Mode::Verify as u32 {
        return verify(b);
    }
    // Untraced setup: a known pattern in the region the scenario uses.
    // SAFETY: the NVDIMM is mapped and these offsets lie inside it.
    unsafe { pmem::copy_cached(at(b, 0), &[0xaa; SETUP_BYTES as usize]) };
    pmem::setup_done();
    if memfns {
        return mem_functions(b);
    }
    pmem::mark(
        "smoke-begin",
        MarkFields {
            op: Some(1),
            range: Some((0, SETUP_BYTES)),
            ..MarkFields::default()
        },
    );
    // SAFETY: every address below lies in the mapped NVDIMM, aligned for its type.
    unsafe {
        at::<u8>(b, 0x00).write_volatile(0x11);
        at::<u16>(b, 0x40).write_volatile(0x2222);
        at::<u32>(b, 0x80).write_volatile(0x3333_3333);
        at::<u64>(b, 0xc0).write_volatile(0x4444_4444_4444_4444);
        let sixteen = [0x55u8; 16];
        core::arch::asm!("movups xmm0, [{src}]", "movups [{dst}], xmm0", src = in(reg) sixteen.as_ptr(), dst = in(reg) at::<u8>(b, 0x100), out("xmm0") _);
        at::<u64>(b, 0x13c).write_unaligned(0x6666_6666_6666_6666);
        pmem::movnti_u64(at(b, 0x180), 0x7777_7777_7777_7777);
    }
    pmem::clwb(at(b, 0x00));
    pmem::clflushopt(at(b, 0x40));
    pmem::clflush(at(b, 0x80));
    if fence {
        pmem::sfence();
    }
    pmem::promise(1, PROMISED.0, PROMISED.1, 1, PROMISED);
    // SAFETY: aligned and inside the NVDIMM.
    let old = unsafe { pmem::xchg_u64(at(b, 0x1c0), 0x8888_8888_8888_8888) };
    pmem::mfence();
    pmem::mark("smoke-end", MarkFields::default());
    println!(
        "pmem-smoke: NVDIMM at {:#x}, {} MiB, {}; xchg read {old:#x}",
        dev.base,
        dev.size >> 20,
        if dev.eadr() { "eADR" } else { "ADR" }
    );
    u32::from(old != 0xaaaa_aaaa_aaaa_aaaa)
}
