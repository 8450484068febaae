//! `pmem-smoke`: every kind of persistent-memory event once, at known
//! device offsets, so a test can check the exact trace.

use pmemvm_rt::pmem::{self, MarkFields};
use pmemvm_rt::{BootInfo, println};

/// Offsets (from the NVDIMM base) the scenario writes to.
const SETUP_BYTES: u64 = 0x200;

fn at<T>(base: u64, off: u64) -> *mut T {
    (base + off) as *mut T
}

/// Stores of 1, 2, 4, 8 and 16 bytes, a store across a line, `movnti`,
/// each flush, each fence, an `xchg`, and marks.
pub fn run(_: &'static BootInfo) -> u32 {
    let dev = match pmem::init() {
        Ok(d) => d,
        Err(e) => {
            println!("pmem-smoke: no NVDIMM: {e:?}");
            return 1;
        }
    };
    let b = dev.base;
    // Untraced setup: a known pattern in the region the scenario uses.
    // SAFETY: the NVDIMM is mapped and these offsets lie inside it.
    unsafe { pmem::copy_cached(at(b, 0), &[0xaa; SETUP_BYTES as usize]) };
    pmem::setup_done();
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
    pmem::sfence();
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
