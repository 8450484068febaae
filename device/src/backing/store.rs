//! The backing store: checks the file up front, supplies the initial media
//! and, with `share=on`, writes the final media back.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vm_memory::FileOffset;

use super::guest_copy::GuestCopy;
use super::options::NvdimmConfig;
use super::size::{GUEST_ALIGN, MIB, format_size};
use super::temp_file::{TempFile, check_dir_writable};
use crate::DeviceError;

/// The NVDIMM's backing store: where the initial media comes from and where
/// (with `share=on`) the final media goes.
///
/// # Example
///
/// A run on a backing file that does not exist yet, with `share=on`: the
/// guest starts on zeros, and the file appears when the media is written back.
///
/// ```
/// use pmemvm_device::backing::{Backing, GIB, NvdimmConfig};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("pm.img");
/// let config: NvdimmConfig = format!("mem-path={},size=4M,share=on", path.display()).parse()?;
/// let backing = Backing::open(&config, GIB)?;
/// assert!(!backing.existed());
///
/// let mut copy = backing.map_guest_copy()?; // what the guest runs on
/// assert!(copy.as_slice().iter().all(|&b| b == 0));
/// copy.as_mut_slice()[..5].copy_from_slice(b"hello");
/// backing.write_media(copy.as_slice())?;
/// assert_eq!(std::fs::read(&path)?[..5], *b"hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Backing {
    /// The file, `None` for [`Backing::temporary`].
    path: Option<PathBuf>,
    /// The existing file, opened read-only: initial content and the bytes
    /// beyond the guest-visible part (shared with the guest copies mapping
    /// it). `None` when the file does not exist.
    file: Option<Arc<File>>,
    /// Permissions of the existing file, given to its replacement.
    permissions: Option<Permissions>,
    /// Size of the file.
    size: u64,
    /// Guest-visible size.
    guest_size: u64,
    /// Whether the media is written back.
    share: bool,
}

impl Backing {
    /// Opens the backing store of `config`, checking everything up front:
    /// the option rules, `size <= max_size` (the VMM's limit: what fits the
    /// guest address space), an existing file's type and exact size, and,
    /// with `share=on`, that the file and its directory are writable. Nothing
    /// is written or created.
    pub fn open(config: &NvdimmConfig, max_size: u64) -> Result<Backing, DeviceError> {
        config.validate()?;
        if config.size > max_size {
            return Err(DeviceError::nvdimm_option(
                "size",
                format!(
                    "{} is larger than the maximum {}: it does not fit the guest address space",
                    format_size(config.size),
                    format_size(max_size)
                ),
            ));
        }
        let path = &config.mem_path;
        let mut backing = Backing {
            path: Some(path.clone()),
            file: None,
            permissions: None,
            size: config.size,
            guest_size: config.guest_size(),
            share: config.share,
        };
        match fs::metadata(path) {
            Ok(meta) => backing.open_existing(config, &meta)?,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                backing.check_missing(config)?
            }
            Err(e) => return Err(DeviceError::io(path, e)),
        }
        Ok(backing)
    }

    /// An NVDIMM of `size` zero bytes (a multiple of 2 MiB) in anonymous
    /// memory, never written anywhere: what runs without `--nvdimm` use.
    pub fn temporary(size: u64) -> Result<Backing, DeviceError> {
        if size == 0 || !size.is_multiple_of(GUEST_ALIGN) {
            return Err(DeviceError::nvdimm_option(
                "size",
                format!("{} is not a positive multiple of 2 MiB", format_size(size)),
            ));
        }
        Ok(Backing {
            path: None,
            file: None,
            permissions: None,
            size,
            guest_size: size,
            share: false,
        })
    }

    /// Checks an existing file and keeps it open.
    fn open_existing(
        &mut self,
        config: &NvdimmConfig,
        meta: &fs::Metadata,
    ) -> Result<(), DeviceError> {
        let path = &config.mem_path;
        if !meta.is_file() {
            return Err(DeviceError::backing_file(path, "not a regular file"));
        }
        if meta.len() != config.size {
            return Err(DeviceError::backing_file(
                path,
                format!(
                    "the file is {} but size={}: an existing backing file must have exactly the given size",
                    format_size(meta.len()),
                    format_size(config.size)
                ),
            ));
        }
        if config.share {
            OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(|e| {
                    DeviceError::backing_file(
                        path,
                        format!("not writable, needed for share=on: {e}"),
                    )
                })?;
            // Renaming over a symbolic link would replace the link: write
            // next to the file it points to instead.
            let target = fs::canonicalize(path).map_err(|e| DeviceError::io(path, e))?;
            check_dir_writable(&target)?;
            self.path = Some(target);
            self.permissions = Some(meta.permissions());
        }
        self.file = Some(Arc::new(
            File::open(path).map_err(|e| DeviceError::io(path, e))?,
        ));
        Ok(())
    }

    /// A missing file: fine with `share=off` (zeros, logged); with `share=on`
    /// the directory must exist and be writable.
    fn check_missing(&self, config: &NvdimmConfig) -> Result<(), DeviceError> {
        let path = &config.mem_path;
        if config.share {
            return check_dir_writable(path);
        }
        log::warn!(
            "{}: does not exist; the NVDIMM starts as {} of zeros and, with share=off, the file is not created",
            path.display(),
            format_size(self.guest_size)
        );
        Ok(())
    }

    /// The guest-visible size: `size - label-size` rounded down to 2 MiB.
    pub fn guest_size(&self) -> u64 {
        self.guest_size
    }

    /// The size of the backing file.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The backing file (`None` for [`Backing::temporary`]); with `share=on`
    /// and an existing file, symbolic links are resolved.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether [`Backing::write_media`] writes to the file (`share=on`).
    pub fn share(&self) -> bool {
        self.share
    }

    /// Whether the backing file existed when opened (the initial media comes
    /// from it rather than being zeros).
    pub fn existed(&self) -> bool {
        self.file.is_some()
    }

    /// Copies the initial guest-visible content into `buf`, which must be
    /// [`Backing::guest_size`] bytes long.
    pub fn read_initial_media(&self, buf: &mut [u8]) -> Result<(), DeviceError> {
        self.check_media_len(buf.len())?;
        match &self.file {
            Some(file) => file.read_exact_at(buf, 0).map_err(|e| self.io_error(e)),
            None => {
                buf.fill(0);
                Ok(())
            }
        }
    }

    /// A private, writable, page-aligned mapping of the initial guest-visible
    /// content, for the VMM to register as a KVM memslot: a `MAP_PRIVATE`
    /// mapping of the file (pages read lazily; writes never reach the file),
    /// or anonymous zeros. The file must not be truncated while mapped.
    pub fn map_guest_copy(&self) -> Result<GuestCopy, DeviceError> {
        let len = usize::try_from(self.guest_size).map_err(|_| {
            DeviceError::nvdimm_option("size", "does not fit the host address space")
        })?;
        let file = self.file.clone().map(|file| FileOffset::from_arc(file, 0));
        GuestCopy::map_private(file, len).map_err(|e| self.io_error(e))
    }

    /// Writes `media` (the guest-visible content, [`Backing::guest_size`]
    /// bytes) to the file with `share=on`; does nothing with `share=off`.
    ///
    /// The new file is written next to the old one and renamed over it, so
    /// the file is either the old one or the complete new one; every byte
    /// beyond the guest-visible part (the label area) is kept as it was (zeros
    /// for a file that did not exist).
    pub fn write_media(&self, media: &[u8]) -> Result<(), DeviceError> {
        self.check_media_len(media.len())?;
        let Some(path) = self.path.as_deref().filter(|_| self.share) else {
            return Ok(());
        };
        let tmp = TempFile::create_next_to(path)?;
        self.fill_new_file(&tmp, media)
            .map_err(|e| DeviceError::Io {
                path: format!(
                    "{} (writing the new media to {})",
                    path.display(),
                    tmp.path().display()
                ),
                error: e,
            })?;
        tmp.persist(path)
    }

    /// Writes the complete new file: the media, then the rest of the old one.
    fn fill_new_file(&self, tmp: &TempFile, media: &[u8]) -> io::Result<()> {
        let mut out = tmp.file();
        out.write_all(media)?;
        match &self.file {
            Some(old) => copy_range(old, out, self.guest_size, self.size)?,
            None => out.set_len(self.size)?,
        }
        if let Some(permissions) = &self.permissions {
            out.set_permissions(permissions.clone())?;
        }
        out.sync_all()
    }

    /// Checks the length of a media buffer.
    fn check_media_len(&self, len: usize) -> Result<(), DeviceError> {
        if len as u64 == self.guest_size {
            return Ok(());
        }
        Err(DeviceError::backing_file(
            self.display_path(),
            format!(
                "media buffer of {len} bytes, but the guest-visible size is {}",
                self.guest_size
            ),
        ))
    }

    /// The path for messages.
    fn display_path(&self) -> &Path {
        self.path
            .as_deref()
            .unwrap_or(Path::new("<temporary NVDIMM>"))
    }

    /// An I/O error on this backing store.
    fn io_error(&self, e: io::Error) -> DeviceError {
        DeviceError::io(self.display_path(), e)
    }
}

/// Copies bytes `start..end` of `from` to the current position of `to`.
fn copy_range(from: &File, mut to: &File, start: u64, end: u64) -> io::Result<()> {
    let mut buf = vec![0u8; (end - start).min(MIB) as usize];
    let mut pos = start;
    while pos < end {
        let n = (end - pos).min(buf.len() as u64) as usize;
        from.read_exact_at(&mut buf[..n], pos)?;
        to.write_all(&buf[..n])?;
        pos += n as u64;
    }
    Ok(())
}
