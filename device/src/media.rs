//! A crash test's base media, shared by every verify VM without copying.
//!
//! The media lives in a memory file (`memfd`). Each verify VM maps it
//! privately: its pages are shared until the guest (or the VMM applying a
//! crash image) writes one, which then gets a private copy. Making a verify
//! VM therefore costs no copy of the whole device.

use crate::backing::{GuestCopy, map_rw};
use crate::error::DeviceError;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

/// Initial media in a memory file, readable through a shared mapping.
#[derive(Debug)]
pub struct SharedMedia {
    fd: OwnedFd,
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the shared mapping is only read through `&self` (it is written
// once, in the constructor, before the value is shared), and the memory file
// is never resized; like an immutable `Box<[u8]>`.
unsafe impl Send for SharedMedia {}
// SAFETY: as above: no mutation through `&self`.
unsafe impl Sync for SharedMedia {}

fn error(what: &str, e: io::Error) -> DeviceError {
    DeviceError::Io {
        path: format!("memory file of the base media ({what})"),
        error: e,
    }
}

impl SharedMedia {
    /// `len` zero bytes (no copy: a fresh memory file reads as zeros).
    pub fn zeroed(len: usize) -> Result<SharedMedia, DeviceError> {
        // SAFETY: a NUL-terminated name and valid flags; the call returns a
        // new descriptor or -1.
        let raw = unsafe { libc::memfd_create(c"pmemvm-media".as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(error("memfd_create", io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a descriptor just returned to us and owned by no
        // one else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let size =
            libc::off_t::try_from(len).map_err(|_| error("size", io::Error::other("too large")))?;
        // SAFETY: `fd` is a valid memory file.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), size) } != 0 {
            return Err(error("ftruncate", io::Error::last_os_error()));
        }
        let ptr = map(&fd, len, libc::MAP_SHARED).map_err(|e| error("mmap", e))?;
        Ok(SharedMedia { fd, ptr, len })
    }

    /// A copy of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<SharedMedia, DeviceError> {
        let media = SharedMedia::zeroed(bytes.len())?;
        // SAFETY: the mapping is `len` writable bytes and nothing else refers
        // to it yet (the value has not been returned).
        unsafe { std::slice::from_raw_parts_mut(media.ptr.as_ptr(), media.len) }
            .copy_from_slice(bytes);
        Ok(media)
    }

    /// The content.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: a live mapping of `len` bytes owned by `self`, never written
        // after construction.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A private, copy-on-write mapping of the content, for a guest.
    pub fn map_private(&self) -> Result<GuestCopy, DeviceError> {
        let ptr = map(&self.fd, self.len, libc::MAP_PRIVATE | libc::MAP_NORESERVE)
            .map_err(|e| error("private mmap", e))?;
        // SAFETY: `ptr` is a fresh mapping of `len` bytes that nothing else
        // refers to; the copy takes it over.
        Ok(unsafe { GuestCopy::from_mapping(ptr, self.len) })
    }
}

/// Maps the `len` bytes of the memory file `fd`, readable and writable.
fn map(fd: &OwnedFd, len: usize, flags: libc::c_int) -> io::Result<NonNull<u8>> {
    // SAFETY: every memory file mapped here was sized to `len` bytes.
    unsafe { map_rw(fd.as_raw_fd(), len, flags) }
}

impl Drop for SharedMedia {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping made in the constructor; no reference
        // to it outlives `self`.
        if unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) } != 0 {
            log::warn!("munmap of the base media: {}", io::Error::last_os_error());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_copies_start_equal_and_stay_apart() {
        let media = SharedMedia::from_bytes(&[7u8; 8192]).unwrap();
        let mut a = media.map_private().unwrap();
        let b = media.map_private().unwrap();
        assert_eq!(a.as_slice(), media.as_slice());
        a.as_mut_slice()[4096] = 1;
        assert_eq!(a.as_slice()[4096], 1);
        assert_eq!(b.as_slice()[4096], 7);
        assert_eq!(media.as_slice()[4096], 7);
    }

    #[test]
    fn zeroed_reads_zero() {
        let media = SharedMedia::zeroed(2 << 20).unwrap();
        assert!(media.as_slice().iter().all(|&b| b == 0));
        assert_eq!(media.len(), 2 << 20);
    }
}
