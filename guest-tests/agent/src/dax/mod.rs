//! A miniature Linux DAX file system on the NVDIMM, faithful to the v4.5
//! fsync/msync machinery (`research/linux-dax-fsync.md`, sections 2, 3, 7).
//!
//! * On the media ([`layout`]): a superblock, a one-transaction metadata
//!   [`journal`], an inode table (size, mtime, ctime, block map) and data
//!   blocks. [`mkfs`] formats and preallocates during the untraced setup.
//! * In memory ([`fs::Fs`]): inodes with their committed and current
//!   metadata, the block [`alloc`]ator with busy blocks, one mapping
//!   [`radix`] tree per inode, and the address space ([`mm`]).
//! * Page faults ([`fault`]) are real CPU faults on the mappings; writeback
//!   ([`writeback`]), `write(2)`/`read(2)` ([`io`]) and truncate, hole punch
//!   and invalidate ([`truncate`]) run the v4.5 algorithms through the
//!   recorded persistent-memory API ([`media`]).
//! * [`variant`] holds the run-time switches and the named yield points.

pub mod alloc;
pub mod check;
pub mod fault;
pub mod fs;
pub mod inode;
pub mod io;
pub mod journal;
pub mod layout;
pub mod marks;
pub mod media;
pub mod mkclean;
pub mod mkfs;
pub mod mm;
pub mod radix;
pub mod truncate;
pub mod variant;
pub mod writeback;

use pmemvm_sdk::Global;

/// The mounted file system (the fault handler reaches it through [`fs`]).
static FS: Global<Option<fs::Fs>> = Global::new(None);

/// Installs `fs` as the mounted file system and registers its fault handler.
pub fn install(fs: fs::Fs) {
    // SAFETY: single vCPU, cooperative tasks: no other reference is live.
    unsafe { *FS.get() = Some(fs) };
    pmemvm_sdk::fault::set_handler(fault::handle);
}

/// The mounted file system.
///
/// The main flow, the tasks of a race script and the page-fault handler
/// ([`fault::handle`]) all use it, one at a time: a task switch happens
/// only at a yield point or a lock wait, the handler runs only at a load or
/// store through a user mapping. Hence the rule of this module: a function
/// that takes an `&Fs` or `&mut Fs` never yields, waits or touches a user
/// mapping; one that does takes no `Fs` and calls `fs` again after each
/// yield.
///
/// # Safety
/// The returned reference must be the only one in use: the caller stops
/// using it, and everything borrowed from it, before anything else can
/// call `fs`, that is before a yield point, a lock wait or an access
/// through a user mapping, and never passes it to a function that does one
/// of these.
///
/// # Panics
/// When nothing is mounted (a bug of the agent).
pub unsafe fn fs() -> &'static mut fs::Fs {
    // SAFETY: single vCPU, cooperative tasks; every earlier reference is no
    // longer used (the caller's contract), so references do not overlap.
    match unsafe { &mut *FS.get() } {
        Some(fs) => fs,
        None => panic!("dax: no file system mounted"),
    }
}
