//! The recorded persistent-memory instructions, marks and promises, for C
//! (`pmemvm.h`). Each is the Rust SDK's ([`pmemvm_sdk::pmem`]): the
//! instruction runs in the `.pmem_api` section after its record, so a C
//! guest has no flush, fence or non-temporal store of its own.
//! `pmemvm/intrin.h` maps the compiler's intrinsics (`_mm_clwb`, ...) to
//! these.

use core::ffi::{c_char, c_void};
use pmemvm_abi::NONE;
use pmemvm_sdk::pmem::{self, MarkFields};

/// `clwb` of the line holding `p`.
#[unsafe(no_mangle)]
pub extern "C" fn pmemvm_clwb(p: *const c_void) {
    pmem::clwb(p.cast());
}

/// `clflushopt` of the line holding `p`.
#[unsafe(no_mangle)]
pub extern "C" fn pmemvm_clflushopt(p: *const c_void) {
    pmem::clflushopt(p.cast());
}

/// `clflush` of the line holding `p`.
#[unsafe(no_mangle)]
pub extern "C" fn pmemvm_clflush(p: *const c_void) {
    pmem::clflush(p.cast());
}

/// `sfence`.
#[unsafe(no_mangle)]
pub extern "C" fn pmemvm_sfence() {
    pmem::sfence();
}

/// `mfence`.
#[unsafe(no_mangle)]
pub extern "C" fn pmemvm_mfence() {
    pmem::mfence();
}

/// `movnti` of 4 bytes.
///
/// # Safety
/// `p` is valid for an aligned 4-byte write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmemvm_stream32(p: *mut u32, v: u32) {
    // SAFETY: the caller guarantees `p`.
    unsafe { pmem::movnti_u32(p, v) };
}

/// `movnti` of 8 bytes.
///
/// # Safety
/// `p` is valid for an aligned 8-byte write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmemvm_stream64(p: *mut u64, v: u64) {
    // SAFETY: the caller guarantees `p`.
    unsafe { pmem::movnti_u64(p, v) };
}

/// `xchg` of 8 bytes (a locked read-modify-write: a full fence); returns
/// the old value.
///
/// # Safety
/// `p` is valid for an aligned 8-byte write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmemvm_xchg64(p: *mut u64, v: u64) -> u64 {
    // SAFETY: the caller guarantees `p`.
    unsafe { pmem::xchg_u64(p, v) }
}

/// The NVDIMM's device offset of `[addr, addr + len)`.
///
/// # Panics
/// When the range is not inside the NVDIMM.
fn device_range(addr: *const c_void, len: u64, what: &str) -> u64 {
    let d = pmem::init().expect("the SDK maps the NVDIMM");
    let at = addr as u64;
    match at.checked_sub(d.base) {
        Some(off) if off.checked_add(len).is_some_and(|end| end <= d.size) => off,
        _ => panic!(
            "{what} of {len} bytes at {at:#x} is outside the NVDIMM ({:#x}, {:#x} bytes)",
            d.base, d.size
        ),
    }
}

/// Puts a mark `label` in the trace: `op` numbers the operation
/// (`PMEMVM_NONE`: none), `[addr, addr + len)` is the part of the NVDIMM
/// it concerns (`addr` null: none).
///
/// # Safety
/// `label` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmemvm_mark(label: *const c_char, op: u64, addr: *const c_void, len: u64) {
    // SAFETY: the caller guarantees `label`.
    let label = unsafe { crate::owned_str(label) };
    let range = (!addr.is_null()).then(|| (device_range(addr, len, "a mark's range"), len));
    pmem::mark(
        &label,
        MarkFields {
            op: (op != NONE).then_some(op),
            range,
            ..MarkFields::default()
        },
    );
}

/// Promises `[addr, addr + len)` of the NVDIMM durable from now on, as
/// operation `op` (see the Rust SDK's `Region::promise`).
#[unsafe(no_mangle)]
pub extern "C" fn pmemvm_promise(addr: *const c_void, len: u64, op: u64) {
    let at = device_range(addr, len, "a promise");
    pmem::promise(1, at, len, op, (at, len));
}
