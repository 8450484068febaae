//! PMDK's libpmem (`libpmem.h`): the calls that make sense without files,
//! with PMDK's names, signatures and meaning, over the Rust SDK's recorded
//! API. Where they differ from PMDK (`pmem_map_file` maps the NVDIMM, the
//! copies' choice of instructions, ...) the C chapter of the guide says so.

use core::ffi::{c_char, c_int, c_void};
use pmemvm_sdk::pmem;

/// `PMEM_F_MEM_NODRAIN`: no drain at the end.
pub const PMEM_F_MEM_NODRAIN: u32 = 1 << 0;
/// `PMEM_F_MEM_NONTEMPORAL`: non-temporal stores.
pub const PMEM_F_MEM_NONTEMPORAL: u32 = 1 << 1;
/// `PMEM_F_MEM_TEMPORAL`: cached stores, then flushes.
pub const PMEM_F_MEM_TEMPORAL: u32 = 1 << 2;
/// `PMEM_F_MEM_WC`: write-combining (non-temporal) stores.
pub const PMEM_F_MEM_WC: u32 = 1 << 3;
/// `PMEM_F_MEM_WB`: write-back (cached) stores, then flushes.
pub const PMEM_F_MEM_WB: u32 = 1 << 4;
/// `PMEM_F_MEM_NOFLUSH`: no flush and no drain.
pub const PMEM_F_MEM_NOFLUSH: u32 = 1 << 5;

unsafe extern "C" {
    fn memmove(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void;
    fn memset(dst: *mut c_void, c: c_int, n: usize) -> *mut c_void;
    /// `libc.c`'s.
    static mut errno: c_int;
}

/// `EINVAL`, as `errno.h` has it.
const EINVAL: c_int = 22;

/// `pmem_flush`: `clwb` every line of the range, no fence.
#[unsafe(no_mangle)]
pub extern "C" fn pmem_flush(addr: *const c_void, len: usize) {
    pmem::pmem_flush(addr.cast(), len);
}

/// `pmem_drain`: `sfence`.
#[unsafe(no_mangle)]
pub extern "C" fn pmem_drain() {
    pmem::pmem_drain();
}

/// `pmem_persist`: flush, then drain.
#[unsafe(no_mangle)]
pub extern "C" fn pmem_persist(addr: *const c_void, len: usize) {
    pmem::pmem_persist(addr.cast(), len);
}

/// `pmem_msync`: as `pmem_persist` (there is no file to sync); 0.
#[unsafe(no_mangle)]
pub extern "C" fn pmem_msync(addr: *const c_void, len: usize) -> c_int {
    pmem::pmem_persist(addr.cast(), len);
    0
}

/// `pmem_has_hw_drain`: 0, as PMDK on x86.
#[unsafe(no_mangle)]
pub extern "C" fn pmem_has_hw_drain() -> c_int {
    0
}

/// `pmem_is_pmem`: 1 when the whole range lies in the NVDIMM, else 0.
#[unsafe(no_mangle)]
pub extern "C" fn pmem_is_pmem(addr: *const c_void, len: usize) -> c_int {
    let Ok(d) = pmem::init() else { return 0 };
    let at = addr as u64;
    c_int::from(
        at >= d.base
            && (at - d.base)
                .checked_add(len as u64)
                .is_some_and(|e| e <= d.size),
    )
}

/// Copies (or fills, `src` null) `len` bytes to `dst` as `flags` say.
///
/// # Safety
/// `dst` is valid for `len` bytes, `src` null or readable for `len`.
unsafe fn store(dst: *mut c_void, src: *const c_void, fill: c_int, len: usize, flags: u32) {
    let overlap = !src.is_null()
        && (dst as usize) < (src as usize).wrapping_add(len)
        && (src as usize) < (dst as usize).wrapping_add(len);
    let nontemporal = flags & (PMEM_F_MEM_TEMPORAL | PMEM_F_MEM_WB) == 0
        || flags & (PMEM_F_MEM_NONTEMPORAL | PMEM_F_MEM_WC) != 0;
    if flags & PMEM_F_MEM_NOFLUSH != 0 {
        // SAFETY: the caller's guarantees.
        unsafe { cached(dst, src, fill, len) };
        return;
    }
    if nontemporal && !src.is_null() && !overlap {
        // SAFETY: the caller's guarantees; the ranges do not overlap.
        unsafe { pmem::pmem_memcpy_nodrain(dst.cast(), src.cast(), len) };
    } else {
        // SAFETY: the caller's guarantees.
        unsafe { cached(dst, src, fill, len) };
        pmem::pmem_flush(dst.cast(), len);
    }
    if flags & PMEM_F_MEM_NODRAIN == 0 {
        pmem::pmem_drain();
    }
}

/// Cached stores (8-byte words where aligned): `memmove` or `memset`.
///
/// # Safety
/// As [`store`].
unsafe fn cached(dst: *mut c_void, src: *const c_void, fill: c_int, len: usize) {
    // SAFETY: the caller's guarantees.
    unsafe {
        if src.is_null() {
            memset(dst, fill, len);
        } else {
            memmove(dst, src, len);
        }
    }
}

/// `pmem_memmove(dst, src, len, flags)`.
///
/// # Safety
/// `dst` valid for `len` bytes, `src` readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_memmove(
    dst: *mut c_void,
    src: *const c_void,
    len: usize,
    flags: u32,
) -> *mut c_void {
    // SAFETY: the caller's guarantees.
    unsafe { store(dst, src, 0, len, flags) };
    dst
}

/// `pmem_memcpy(dst, src, len, flags)`.
///
/// # Safety
/// As [`pmem_memmove`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_memcpy(
    dst: *mut c_void,
    src: *const c_void,
    len: usize,
    flags: u32,
) -> *mut c_void {
    // SAFETY: the caller's guarantees.
    unsafe { pmem_memmove(dst, src, len, flags) }
}

/// `pmem_memset(dst, c, len, flags)`.
///
/// # Safety
/// `dst` valid for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_memset(
    dst: *mut c_void,
    c: c_int,
    len: usize,
    flags: u32,
) -> *mut c_void {
    // SAFETY: the caller's guarantees.
    unsafe { store(dst, core::ptr::null(), c, len, flags) };
    dst
}

/// Defines `pmem_<op>_persist` (flags 0) and `pmem_<op>_nodrain`
/// (`PMEM_F_MEM_NODRAIN`) over `pmem_<op>`.
macro_rules! persist_and_nodrain {
    ($(($persist:ident, $nodrain:ident, $base:ident, $arg:ident: $ty:ty)),*) => {$(
        #[doc = concat!("`", stringify!($persist), "`: `", stringify!($base), "` with flags 0.")]
        ///
        /// # Safety
        /// As the function it calls.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $persist(dst: *mut c_void, $arg: $ty, len: usize) -> *mut c_void {
            // SAFETY: the caller's guarantees.
            unsafe { $base(dst, $arg, len, 0) }
        }

        #[doc = concat!("`", stringify!($nodrain), "`: `", stringify!($base), "` with `PMEM_F_MEM_NODRAIN`.")]
        ///
        /// # Safety
        /// As the function it calls.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $nodrain(dst: *mut c_void, $arg: $ty, len: usize) -> *mut c_void {
            // SAFETY: the caller's guarantees.
            unsafe { $base(dst, $arg, len, PMEM_F_MEM_NODRAIN) }
        }
    )*};
}

persist_and_nodrain!(
    (pmem_memcpy_persist, pmem_memcpy_nodrain, pmem_memcpy, src: *const c_void),
    (pmem_memmove_persist, pmem_memmove_nodrain, pmem_memmove, src: *const c_void),
    (pmem_memset_persist, pmem_memset_nodrain, pmem_memset, c: c_int)
);

/// `pmem_map_file`: maps no file but the NVDIMM, from the device offset a
/// path ending in `@OFFSET` gives (decimal or `0x` hexadecimal; no `@`:
/// offset 0), `len` bytes (0: to the end of the device). `flags` and
/// `mode` are ignored. Null and `errno` `EINVAL` when the range is not
/// inside the NVDIMM.
///
/// # Safety
/// `path` a NUL-terminated string; `mapped_lenp` and `is_pmemp` null or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmem_map_file(
    path: *const c_char,
    len: usize,
    _flags: c_int,
    _mode: u32,
    mapped_lenp: *mut usize,
    is_pmemp: *mut c_int,
) -> *mut c_void {
    // SAFETY: the caller guarantees `path`.
    let path = unsafe { crate::owned_str(path) };
    let offset = match path.rsplit_once('@') {
        None => Some(0),
        Some((_, n)) => match n.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => n.parse().ok(),
        },
    };
    let Ok(d) = pmem::init() else {
        return einval();
    };
    let Some(offset) = offset.filter(|&o| o < d.size) else {
        return einval();
    };
    let len = if len == 0 {
        d.size - offset
    } else {
        len as u64
    };
    if len > d.size - offset {
        return einval();
    }
    // SAFETY: the caller guarantees the pointers, when not null.
    unsafe {
        if !mapped_lenp.is_null() {
            *mapped_lenp = len as usize;
        }
        if !is_pmemp.is_null() {
            *is_pmemp = 1;
        }
    }
    (d.base + offset) as *mut c_void
}

/// Null, with `errno` `EINVAL`.
fn einval() -> *mut c_void {
    // SAFETY: single vCPU; `errno` is a plain int of libc.c.
    unsafe { (&raw mut errno).write(EINVAL) };
    core::ptr::null_mut()
}

/// `pmem_unmap`: nothing to undo; 0.
#[unsafe(no_mangle)]
pub extern "C" fn pmem_unmap(_addr: *mut c_void, _len: usize) -> c_int {
    0
}

/// `pmem_errormsg`: the last error, in words (always the one pmemvm has:
/// the only failure is a range outside the NVDIMM).
#[unsafe(no_mangle)]
pub extern "C" fn pmem_errormsg() -> *const c_char {
    c"pmem_map_file: the range is not inside the NVDIMM".as_ptr()
}
