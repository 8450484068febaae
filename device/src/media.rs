//! A crash test's base media, shared by every verify VM without copying.
//!
//! The media lives in a memory file (`memfd`). Each verify VM maps it
//! privately: its pages are shared until the guest (or the VMM applying a
//! crash image) writes one, which then gets a private copy. Making a verify
//! VM therefore costs no copy of the whole device.

use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Arc;

use vm_memory::{FileOffset, MmapRegion, VolatileMemory};

use crate::backing::{GuestCopy, map_rw};
use crate::error::DeviceError;

/// Initial media in a memory file, readable through a shared mapping.
///
/// # Example
///
/// ```
/// use pmemvm_device::media::SharedMedia;
///
/// let media = SharedMedia::from_bytes(&[7; 8192])?;
/// let mut guest = media.map_private()?; // copy-on-write
/// guest.as_mut_slice()[0] = 1;
/// assert_eq!(guest.as_slice()[..2], [1, 7]);
/// assert_eq!(media.as_slice()[0], 7); // the base is never written
/// # Ok::<(), pmemvm_device::DeviceError>(())
/// ```
#[derive(Debug)]
pub struct SharedMedia {
    /// The memory file, never resized.
    file: Arc<File>,
    /// A `MAP_SHARED` mapping of all of it, written only by the constructor
    /// (the guests' mappings are private: their writes never reach it).
    region: MmapRegion,
}

/// A [`DeviceError::Io`] on the memory file, in step `what`.
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
        let file = Arc::new(File::from(unsafe { OwnedFd::from_raw_fd(raw) }));
        file.set_len(len as u64)
            .map_err(|e| error("ftruncate", e))?;
        let shared = FileOffset::from_arc(file.clone(), 0);
        let region = map_rw(Some(shared), len, libc::MAP_SHARED).map_err(|e| error("mmap", e))?;
        Ok(SharedMedia { file, region })
    }

    /// A copy of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<SharedMedia, DeviceError> {
        let media = SharedMedia::zeroed(bytes.len())?;
        media.region.as_volatile_slice().copy_from(bytes);
        Ok(media)
    }

    /// The content.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the region maps `len` readable bytes for as long as `self`
        // lives, and nothing writes them after construction (the memory file
        // is never resized, and the guests' mappings are private).
        unsafe { std::slice::from_raw_parts(self.region.as_ptr(), self.len()) }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.region.size()
    }

    /// Whether it holds no byte.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A private, copy-on-write mapping of the content, for a guest.
    pub fn map_private(&self) -> Result<GuestCopy, DeviceError> {
        let file = FileOffset::from_arc(self.file.clone(), 0);
        GuestCopy::map_private(Some(file), self.len()).map_err(|e| error("private mmap", e))
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
