//! The SDK of pmemvm guests: the `#![no_std]` runtime every guest runs on,
//! the recorded persistent-memory API, and the user's model of a test
//! ([`scenario`]: scenarios with variants, `setup`, `run` and `recover`;
//! [`region`]: the persistent region as a typed view).
//!
//! A guest crate depends on this crate and on `pmemvm-sdk-build` (its
//! one-line build script links it); `pmemvm new DIR` writes one. C guests
//! run on this same runtime through `pmemvm-sdk-c` (`pmemvm new DIR --lang
//! c`).
//! The guide, `guest-tests/sdk/GUIDE.md`, goes from there to a crash test
//! and its report.
//!
//! A guest is a static ELF for the host target, loaded at 1 MiB. The VMM
//! starts it in ring 0 at `_start`, which drops at once to ring 3 (the
//! private `ring0` module holds the few ring-0 stubs); all Rust code runs in
//! ring 3. A guest defines its main function with [`entry!`], which
//! receives the [`boot_info`]: mode, scenario, variant and seed chosen by
//! the VMM. A heap makes `alloc` work.
//!
//! # Modules
//!
//! From the ground up: each uses only modules listed before it (and
//! `ring0` the crate root's ring-3 start and main stack). The crate root,
//! this file, holds those, [`report_scenario`] and the panic handler.
//! * [`io`]: port writes and hypercalls ([`io::hypercall`]) to the VMM;
//! * `global`: [`Global`], the cell that holds a guest's globals;
//! * [`syscall`]: system calls, handled by a ring-0 stub;
//! * `mem`: the C memory functions the compiler calls;
//! * [`clock`]: the logical clock;
//! * [`console`]: line-buffered output, [`print!`] and [`println!`];
//! * [`termination`]: [`termination::exit`] and the report of a fault the
//!   guest cannot handle, both after flushing the console;
//! * `boot`: [`boot_info`], kept from the start of the run;
//! * [`heap`]: the global allocator;
//! * [`fault`]: page faults handed to a Rust handler in ring 3;
//! * [`task`]: cooperative tasks, each with its own stack and fault context;
//! * [`paging`]: the page tables, changed from ring 3;
//! * [`pmem`]: the NVDIMM, and the persistent-memory API the VMM records;
//! * [`report`]: verdicts, findings and the promises of verify mode;
//! * [`region`]: the persistent region as a bounds-checked, typed view;
//! * [`scenario`]: scenarios, their variants and phases, [`scenarios!`];
//! * `ring0`: `_start`, and the ring-0 stubs: the system-call gate, the
//!   page-fault upcall, the report of every other exception.

#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]
// The test build of this crate (made by `clippy --all-targets`) has no
// assembly, so the fields only the assembly reads look unused there.
#![cfg_attr(test, allow(dead_code))]

extern crate alloc;

mod boot;
pub mod clock;
pub mod console;
pub mod fault;
mod global;
pub mod heap;
pub mod io;
#[cfg(not(test))]
mod mem;
pub mod paging;
pub mod pmem;
pub mod region;
pub mod report;
#[cfg(not(test))]
mod ring0;
pub mod scenario;
pub mod syscall;
pub mod task;
pub mod termination;

pub use boot::boot_info;
pub use global::Global;
use pmemvm_abi::{ABI_VERSION, BOOT_MAGIC, hc};

/// Size of the ring-3 stack of the main flow.
pub const STACK_SIZE: usize = 256 * 1024;

/// The ring-3 stack of the main flow (`_start` points RSP at its end).
#[repr(C, align(16))]
pub struct Stack([u8; STACK_SIZE]);

/// The main stack.
#[unsafe(no_mangle)]
pub static STACK: Global<Stack> = Global::new(Stack([0; STACK_SIZE]));

unsafe extern "Rust" {
    fn __pmemvm_guest_main(info: &'static BootInfo) -> u32;
}

/// Ring-3 entry, reached from `_start` with the boot-info address in `rdi`.
#[cfg_attr(test, allow(dead_code))]
pub(crate) extern "C" fn start(info: *const BootInfo) -> ! {
    // SAFETY: the VMM wrote the boot info at this identity-mapped address.
    let info = unsafe { info.read_volatile() };
    if info.magic != BOOT_MAGIC || info.abi_version != ABI_VERSION {
        termination::exit(126);
    }
    boot::keep(info);
    heap::init(info.free_start, info.ram_size);
    task::init();
    if info.mode == pmemvm_abi::Mode::Verify as u32 {
        // Everything before this is the same for every crash image: map the
        // NVDIMM now, so that verifying an image usually leaves the page
        // tables alone (and a reused VM need not make KVM rebuild them).
        let _ = pmem::init();
        io::hypercall(hc::SNAPSHOT, &[]);
    }
    // SAFETY: the guest defines this with `entry!`.
    let status = unsafe { __pmemvm_guest_main(boot_info()) };
    termination::exit(status)
}

/// Reports one scenario to the VMM in list mode, with its variants (name,
/// one-line description).
pub fn report_scenario(name: &str, description: &str, variants: &[(&str, &str)]) {
    let mut text = alloc::string::String::new();
    for (variant, about) in variants {
        text.push_str(variant);
        text.push('\t');
        text.push_str(about);
        text.push('\n');
    }
    io::hypercall(
        hc::SCENARIO,
        &[
            name.as_ptr() as u64,
            name.len() as u64,
            description.as_ptr() as u64,
            description.len() as u64,
            text.as_ptr() as u64,
            text.len() as u64,
        ],
    );
}

/// Defines the guest's main function: `entry!(main)` with
/// `fn main(info: &'static BootInfo) -> u32` (the exit status).
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        fn __pmemvm_guest_main(info: &'static $crate::BootInfo) -> u32 {
            $main(info)
        }
    };
}

pub use pmemvm_abi::{self as abi, BootInfo};

#[cfg(not(test))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("guest panic: {info}");
    termination::exit(101)
}

/// The precompiled `core` refers to it; the guest never unwinds.
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

/// The precompiled `alloc` has landing pads that call it; with
/// `panic = "abort"` nothing ever unwinds, so reaching it is a bug.
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn _Unwind_Resume() -> ! {
    println!("guest bug: _Unwind_Resume called (nothing unwinds in a pmemvm guest)");
    termination::exit(134)
}
