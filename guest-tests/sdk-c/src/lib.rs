//! The C SDK of pmemvm guests: the Rust SDK's runtime ([`pmemvm_sdk`]) as a
//! static library with a C interface. `pmemvm new DIR --lang c` writes it
//! out (`libpmemvm.a`) with its headers (`c/include`: `pmemvm.h`,
//! `libpmem.h`, `pmemvm/intrin.h` and the libc headers), the C part of its
//! libc (`c/libc.c`: string functions, `printf`, `qsort`, ..., compiled by
//! the project's Makefile because variadic functions must be C) and the
//! SDK's linker script.
//!
//! The same runtime and the same recorded operations as a Rust guest: a C
//! guest registers its scenarios in a table (`PMEMVM_SCENARIOS` in
//! `pmemvm.h`, read here by [`scenario`]), and every flush, fence and
//! non-temporal store goes through [`pmemvm_sdk::pmem`].
//!
//! # Modules
//! * [`scenario`]: the C table of scenarios as the SDK's scenarios, and
//!   the guest's main function;
//! * [`pmem`]: the recorded instructions, marks and promises in C;
//! * [`libpmem`]: PMDK's libpmem calls;
//! * [`libc`]: the Rust part of the libc (heap, random numbers, exit,
//!   console output);
//! * [`task`]: cooperative tasks and yield points in C.

// The test build (made by `clippy --all-targets`) links std, whose panic
// handler clashes with the SDK's: that build is empty.
#![cfg(not(test))]
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod libc;
pub mod libpmem;
pub mod pmem;
pub mod scenario;
pub mod task;

use core::ffi::{CStr, c_char};

/// The C string at `p` as a `'static` string (a name from the guest's
/// read-only tables), or `None` for a null pointer.
///
/// # Panics
/// When the string is not UTF-8 (the guest's panic names `what`).
///
/// # Safety
/// `p` is null or a NUL-terminated string that lives for the whole run.
unsafe fn static_str(p: *const c_char, what: &str) -> Option<&'static str> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees a NUL-terminated string living forever.
    let s = unsafe { CStr::from_ptr(p) };
    match s.to_str() {
        Ok(s) => Some(s),
        Err(_) => panic!("{what} is not UTF-8: {s:?}"),
    }
}

/// The C string at `p` (copied), `""` for a null pointer; invalid UTF-8
/// is replaced.
///
/// # Safety
/// `p` is null or a NUL-terminated string.
unsafe fn owned_str(p: *const c_char) -> alloc::string::String {
    if p.is_null() {
        return alloc::string::String::new();
    }
    // SAFETY: the caller guarantees a NUL-terminated string.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}
