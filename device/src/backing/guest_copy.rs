//! The guest's copy of the media: a private mapping, made and unmapped by
//! vm-memory, that the VMM registers as a KVM memslot.

use std::io;

use vm_memory::mmap::MmapRegionError;
use vm_memory::{FileOffset, MmapRegion};

/// A private, writable mapping of the guest-visible media, unmapped on drop.
///
/// Its host address ([`GuestCopy::as_ptr`]) and length are what the VMM
/// registers as a KVM memslot.
///
/// # Sharing the memory with a guest
///
/// Registering the memslot is the VMM's `unsafe` act, and it comes with an
/// obligation: once registered, the guest writes this memory whenever a vCPU
/// runs on the slot, behind Rust's back, while [`GuestCopy::as_slice`] and
/// [`GuestCopy::as_mut_slice`] hand out ordinary references to it. So no vCPU
/// may run on the slot while such a reference is alive: the copy is looked
/// at only while the guest is stopped. (In pmemvm, the vCPU thread owns the
/// copy and looks at it between two `KVM_RUN`s.) Without a registered slot,
/// the copy is plain memory and these methods are the usual borrows.
///
/// # Example
///
/// ```
/// use pmemvm_device::backing::{Backing, MIB};
///
/// let mut copy = Backing::temporary(2 * MIB)?.map_guest_copy()?;
/// assert_eq!(copy.len() as u64, 2 * MIB);
/// assert_eq!(copy.as_ptr() as usize % 4096, 0); // page-aligned, as a memslot needs
/// copy.as_mut_slice()[0] = 1; // no memslot registered: plain memory
/// assert_eq!(copy.as_slice()[..2], [1, 0]);
/// # Ok::<(), pmemvm_device::DeviceError>(())
/// ```
#[derive(Debug)]
pub struct GuestCopy {
    region: MmapRegion,
}

impl GuestCopy {
    /// Maps `len` bytes of `file` (anonymous zeros without one) privately
    /// (`MAP_PRIVATE`: copy-on-write, never written back) and without a swap
    /// reservation (`MAP_NORESERVE`).
    pub(crate) fn map_private(file: Option<FileOffset>, len: usize) -> io::Result<GuestCopy> {
        let anonymous = file.is_none();
        let mut flags = libc::MAP_PRIVATE | libc::MAP_NORESERVE;
        if anonymous {
            flags |= libc::MAP_ANONYMOUS;
        }
        let region = map_rw(file, len, flags)?;
        if anonymous {
            // Anonymous memory may be backed by 2-MiB pages, which lets KVM map
            // the guest's 2-MiB NVDIMM pages with one entry each: far fewer
            // faults after a reused verify VM drops its mappings. Advice only.
            // SAFETY: the range is exactly the mapping just made, which
            // `region` owns; advice does not change its content.
            unsafe { libc::madvise(region.as_ptr().cast(), len, libc::MADV_HUGEPAGE) };
        }
        Ok(GuestCopy { region })
    }

    /// Host address of the mapping (page-aligned), for registering it as a
    /// KVM memslot: see [the contract that comes with it](GuestCopy#sharing-the-memory-with-a-guest).
    pub fn as_ptr(&self) -> *mut u8 {
        self.region.as_ptr()
    }

    /// Length in bytes (the guest-visible size).
    pub fn len(&self) -> usize {
        self.region.size()
    }

    /// Whether the mapping is empty (never, for a valid backing).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The content, while no guest runs on it.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the region maps `len` readable bytes for as long as `self`
        // lives; no `&mut` to them exists while `&self` is borrowed, and by
        // the type's contract no guest writes them while the slice lives.
        unsafe { std::slice::from_raw_parts(self.region.as_ptr(), self.len()) }
    }

    /// The content, writable, while no guest runs on it.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: the region maps `len` writable bytes for as long as `self`
        // lives; `&mut self` makes this the only reference, and by the type's
        // contract no guest touches them while the slice lives.
        unsafe { std::slice::from_raw_parts_mut(self.region.as_ptr(), self.len()) }
    }
}

/// Maps `len` bytes of `file` (or anonymous memory, with `MAP_ANONYMOUS` in
/// `flags`), readable and writable, where the kernel chooses.
pub(crate) fn map_rw(
    file: Option<FileOffset>,
    len: usize,
    flags: libc::c_int,
) -> io::Result<MmapRegion> {
    MmapRegion::build(file, len, libc::PROT_READ | libc::PROT_WRITE, flags).map_err(|e| match e {
        MmapRegionError::Mmap(e) => e,
        other => io::Error::other(other),
    })
}
