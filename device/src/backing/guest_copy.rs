//! The guest's copy of the media: a private mapping that the VMM registers
//! as a KVM memslot.

use std::io;
use std::ptr::NonNull;

/// A private writable mapping of the guest-visible media, unmapped on drop.
///
/// Its host address and length are what the VMM registers as a KVM memslot.
#[derive(Debug)]
pub struct GuestCopy {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is owned exclusively by this value (no other handle to
// it exists); moving the owner to another thread is sound, like a `Vec<u8>`.
unsafe impl Send for GuestCopy {}
// SAFETY: shared references only give `&[u8]` access; mutation needs `&mut`.
unsafe impl Sync for GuestCopy {}

/// Maps `len` bytes of `fd` (or anonymous memory, with `fd` -1 and
/// `MAP_ANONYMOUS` in `flags`), readable and writable, where the kernel
/// chooses.
///
/// # Safety
/// `fd` must be -1 with `MAP_ANONYMOUS`, or an open file at least `len`
/// bytes long.
pub(crate) unsafe fn map_rw(
    fd: std::os::fd::RawFd,
    len: usize,
    flags: libc::c_int,
) -> io::Result<NonNull<u8>> {
    // SAFETY: a fresh mapping chosen by the kernel (no address hint, no
    // MAP_FIXED), so no existing memory is affected; the caller vouches for
    // `fd` and `len`.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            fd,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(addr.cast()).ok_or_else(|| io::Error::other("mmap returned null"))
}

impl GuestCopy {
    /// Takes over a mapping.
    ///
    /// # Safety
    /// `ptr` must be a readable and writable mapping of exactly `len` bytes
    /// made with `mmap`, referred to by nothing else; the copy unmaps it.
    pub(crate) unsafe fn from_mapping(ptr: NonNull<u8>, len: usize) -> GuestCopy {
        GuestCopy { ptr, len }
    }

    /// Host address of the mapping (page-aligned).
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes (the guest-visible size).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never, for a valid backing).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The content. While the guest runs on it, KVM may change it underneath.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` is a live mapping of `len` readable bytes owned by
        // `self` until drop; no `&mut` to it exists while `&self` is borrowed.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The content, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` is a live mapping of `len` writable bytes owned by
        // `self`; `&mut self` guarantees this is the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for GuestCopy {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly the mapping created in
        // `map_guest_copy`, unmapped once here; no reference to it outlives
        // `self`.
        let rc = unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
        if rc != 0 {
            log::warn!(
                "munmap of the NVDIMM guest copy: {}",
                io::Error::last_os_error()
            );
        }
    }
}
