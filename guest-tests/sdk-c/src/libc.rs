//! The Rust part of the C guests' libc: the heap (`malloc`, `calloc`,
//! `realloc`, `free` over the SDK's allocator), random numbers seeded from
//! `--seed` (`rand`, `srand`, `pmemvm_random`), `exit` and `abort`, and
//! the console that `printf` writes to. The rest (strings, `printf`,
//! `qsort`, ...) is C, in `c/libc.c`.

use alloc::alloc::{Layout, alloc, dealloc};
use core::ffi::{c_char, c_int, c_uint, c_void};
use pmemvm_sdk::{Global, boot_info, console, termination};

/// Bytes before each block: its size (16, to keep 16-byte alignment).
const HEADER: usize = 16;

/// The layout of a block of `size` bytes with its header.
fn layout(size: usize) -> Option<Layout> {
    Layout::from_size_align(size.checked_add(HEADER)?, HEADER).ok()
}

/// `malloc`: 16-byte aligned; null when the heap is exhausted.
#[unsafe(no_mangle)]
pub extern "C" fn malloc(size: usize) -> *mut c_void {
    let Some(l) = layout(size) else {
        return core::ptr::null_mut();
    };
    // SAFETY: the layout is never zero-sized (the header).
    let p = unsafe { alloc(l) };
    if p.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: the block has HEADER bytes before the caller's.
    unsafe {
        p.cast::<usize>().write(size);
        p.add(HEADER).cast()
    }
}

/// The size `malloc` was asked for the block at `p`.
///
/// # Safety
/// `p` came from [`malloc`] and was not freed.
unsafe fn block_size(p: *mut c_void) -> usize {
    // SAFETY: the caller guarantees the header is there.
    unsafe { p.cast::<u8>().sub(HEADER).cast::<usize>().read() }
}

/// `free`.
///
/// # Safety
/// `p` null or from `malloc`, `calloc` or `realloc`, not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn free(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    // SAFETY: the caller guarantees `p`; the layout is malloc's.
    unsafe {
        let size = block_size(p);
        let l = layout(size).expect("malloc made it");
        dealloc(p.cast::<u8>().sub(HEADER), l);
    }
}

/// `calloc`: zeroed; null on overflow.
#[unsafe(no_mangle)]
pub extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    let Some(total) = n.checked_mul(size) else {
        return core::ptr::null_mut();
    };
    let p = malloc(total);
    if !p.is_null() {
        // SAFETY: a fresh block of `total` bytes.
        unsafe { core::ptr::write_bytes(p.cast::<u8>(), 0, total) };
    }
    p
}

/// `realloc`: `realloc(NULL, n)` is `malloc(n)`; `realloc(p, 0)` frees
/// and returns null.
///
/// # Safety
/// As [`free`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    if p.is_null() {
        return malloc(size);
    }
    if size == 0 {
        // SAFETY: the caller's guarantees.
        unsafe { free(p) };
        return core::ptr::null_mut();
    }
    let q = malloc(size);
    if !q.is_null() {
        // SAFETY: both blocks hold at least the bytes copied.
        unsafe {
            let keep = block_size(p).min(size);
            core::ptr::copy_nonoverlapping(p.cast::<u8>(), q.cast::<u8>(), keep);
            free(p);
        }
    }
    q
}

/// The random generator's state: `None` until first used (then `--seed`).
static RANDOM: Global<Option<u64>> = Global::new(None);

/// The next of a sequence of 64-bit numbers determined by `--seed` (or by
/// the last `srand`): SplitMix64.
#[unsafe(no_mangle)]
pub extern "C" fn pmemvm_random() -> u64 {
    // SAFETY: single vCPU, no concurrent access.
    let state = unsafe { &mut *RANDOM.get() };
    let s = state.get_or_insert_with(|| boot_info().seed);
    *s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut x = *s;
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// `rand`: from 0 to `RAND_MAX` (2^31 - 1), the same sequence for the
/// same `--seed`.
#[unsafe(no_mangle)]
pub extern "C" fn rand() -> c_int {
    (pmemvm_random() >> 33) as c_int
}

/// `srand`: restarts the sequence from `seed`.
#[unsafe(no_mangle)]
pub extern "C" fn srand(seed: c_uint) {
    // SAFETY: single vCPU, no concurrent access.
    unsafe { *RANDOM.get() = Some(u64::from(seed)) };
}

/// `exit`: ends the run with `status` (console flushed).
#[unsafe(no_mangle)]
pub extern "C" fn exit(status: c_int) -> ! {
    termination::exit(status as u32)
}

/// `abort`: ends the run with status 134, saying so.
#[unsafe(no_mangle)]
pub extern "C" fn abort() -> ! {
    console::write_bytes(b"abort() called\n");
    termination::exit(134)
}

/// Writes `len` bytes to the console (line-buffered).
///
/// # Safety
/// `buf` readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmemvm_write(buf: *const c_char, len: usize) {
    // SAFETY: the caller guarantees `buf`.
    console::write_bytes(unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), len) });
}
