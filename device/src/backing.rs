//! The backing file of the NVDIMM, with QEMU `memory-backend-file` semantics.
//!
//! `--nvdimm mem-path=FILE,size=SIZE[,label-size=SIZE][,share=on|off]`:
//!
//! * The file is `size` bytes. With `label-size`, the last `label-size` bytes
//!   are the label area (at least 128 KiB), which the guest never sees; the
//!   guest sees `size - label-size` rounded down to 2 MiB, from offset 0.
//! * `share=off` (the default) never writes to the file: it only supplies the
//!   initial content. A missing file means an NVDIMM of zeros, and the file
//!   is not created.
//! * `share=on` writes the media back with [`Backing::write_media`], through a
//!   temporary file in the same directory and a rename, so the file is never
//!   partially written; everything outside the guest-visible part (the label
//!   area included) is kept byte for byte. A missing file is created then,
//!   not before, so a failed run leaves nothing behind.
//!
//! Without `--nvdimm`, [`Backing::temporary`] gives an NVDIMM of zeros in
//! anonymous memory ([`DEFAULT_SIZE`]), which leaves nothing behind.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::DeviceError;

/// One KiB.
pub const KIB: u64 = 1 << 10;
/// One MiB.
pub const MIB: u64 = 1 << 20;
/// One GiB.
pub const GIB: u64 = 1 << 30;
/// Host and guest page size: `size` must be a multiple of it.
pub const PAGE_SIZE: u64 = 4 * KIB;
/// Alignment of the guest-visible size (and the smallest guest-visible size).
pub const GUEST_ALIGN: u64 = 2 * MIB;
/// Smallest label area (QEMU's `MIN_NAMESPACE_LABEL_SIZE`).
pub const MIN_LABEL_SIZE: u64 = 128 * KIB;
/// Size of the NVDIMM when no `--nvdimm` is given.
pub const DEFAULT_SIZE: u64 = 64 * MIB;

/// Parses a size: a decimal number with an optional binary unit `K`, `M`,
/// `G`, `T`, `P`, `E` (any case), optionally followed by `B` or `iB`, or a
/// bare `B`: `4096`, `128K`, `64M`, `64MiB`, `1G`, `2T`.
pub fn parse_size(s: &str) -> Result<u64, DeviceError> {
    let bad = |reason: String| DeviceError::BadSize {
        input: s.to_string(),
        reason,
    };
    if s.is_empty() {
        return Err(bad(
            "empty; expected a number such as `4096`, `128K`, `64M` or `1G`".into(),
        ));
    }
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = s.split_at(digits);
    if number.is_empty() {
        return Err(bad(
            "expected a number such as `4096`, `128K`, `64M` or `1G`".into(),
        ));
    }
    if unit.starts_with('.') {
        return Err(bad(
            "fractions are not supported; use a smaller unit (`1536M`, not `1.5G`)".into(),
        ));
    }
    let shift = unit_shift(unit).ok_or_else(|| bad(format!("unknown unit `{unit}`")))?;
    let too_large = || bad("too large: does not fit in 64 bits".into());
    let value: u64 = number.parse().map_err(|_| too_large())?;
    value.checked_mul(1u64 << shift).ok_or_else(too_large)
}

/// The power of two a unit suffix stands for, or `None` for an unknown unit.
fn unit_shift(unit: &str) -> Option<u32> {
    let lower = unit.to_ascii_lowercase();
    let mut chars = lower.chars();
    let shift = match chars.next() {
        None => return Some(0),
        Some('b') => return (lower == "b").then_some(0),
        Some('k') => 10,
        Some('m') => 20,
        Some('g') => 30,
        Some('t') => 40,
        Some('p') => 50,
        Some('e') => 60,
        Some(_) => return None,
    };
    matches!(chars.as_str(), "" | "b" | "ib").then_some(shift)
}

/// A size for messages: `64 MiB`, `128 KiB`, or `12345 bytes`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 4] = [(1 << 40, "TiB"), (GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")];
    for (unit, name) in UNITS {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return format!("{} {name}", bytes / unit);
        }
    }
    format!("{bytes} bytes")
}

/// `--nvdimm mem-path=FILE,size=SIZE[,label-size=SIZE][,share=on|off]`.
///
/// Parsed with [`FromStr`]; as in QEMU, `,,` stands for a comma inside a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NvdimmConfig {
    /// The backing file (`mem-path`).
    pub mem_path: PathBuf,
    /// Size of the file in bytes (`size`).
    pub size: u64,
    /// Size of the label area at the end of the file (`label-size`), if any.
    pub label_size: Option<u64>,
    /// Whether the media is written back to the file (`share=on`).
    pub share: bool,
}

/// The option names of `--nvdimm`.
const OPTIONS: [&str; 4] = ["mem-path", "size", "label-size", "share"];

impl FromStr for NvdimmConfig {
    type Err = DeviceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut values: [Option<String>; 4] = Default::default();
        for part in split_options(s) {
            if part.is_empty() {
                return Err(option_error(
                    s,
                    "empty option (a stray comma? `,,` is a literal comma)",
                ));
            }
            let (key, value) = part.split_once('=').ok_or_else(|| {
                option_error(&part, "expected `key=value` (mem-path=FILE,size=SIZE[,label-size=SIZE][,share=on|off])")
            })?;
            let slot = OPTIONS.iter().position(|&o| o == key).ok_or_else(|| {
                option_error(
                    key,
                    "unknown option; the options are mem-path, size, label-size and share",
                )
            })?;
            if values[slot].is_some() {
                return Err(option_error(key, "given more than once"));
            }
            if value.is_empty() {
                return Err(option_error(key, "empty value"));
            }
            values[slot] = Some(value.to_string());
        }
        let [mem_path, size, label_size, share] = values;
        let config = NvdimmConfig {
            mem_path: PathBuf::from(
                mem_path.ok_or_else(|| option_error("mem-path", "missing (mem-path=FILE)"))?,
            ),
            size: option_size(
                "size",
                &size.ok_or_else(|| option_error("size", "missing (size=SIZE)"))?,
            )?,
            label_size: label_size
                .map(|l| option_size("label-size", &l))
                .transpose()?,
            share: share.map(|v| parse_share(&v)).transpose()?.unwrap_or(false),
        };
        config.validate()?;
        Ok(config)
    }
}

/// Splits `a=1,b=2` at single commas; `,,` is a literal comma.
fn split_options(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != ',' {
            current.push(c);
        } else if chars.next_if_eq(&',').is_some() {
            current.push(',');
        } else {
            parts.push(std::mem::take(&mut current));
        }
    }
    parts.push(current);
    parts
}

/// A [`DeviceError::BadNvdimmOption`].
fn option_error(option: &str, reason: impl Into<String>) -> DeviceError {
    DeviceError::BadNvdimmOption {
        option: option.to_string(),
        reason: reason.into(),
    }
}

/// A size option, its parse error naming the option.
fn option_size(option: &str, value: &str) -> Result<u64, DeviceError> {
    parse_size(value).map_err(|e| option_error(option, e.to_string()))
}

/// `share=on|off`.
fn parse_share(value: &str) -> Result<bool, DeviceError> {
    match value {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(option_error(
            "share",
            format!("`{value}`: expected `on` or `off`"),
        )),
    }
}

impl NvdimmConfig {
    /// The label area size (0 without `label-size`).
    pub fn label_bytes(&self) -> u64 {
        self.label_size.unwrap_or(0)
    }

    /// What the guest sees: `size - label-size`, rounded down to 2 MiB.
    pub fn guest_size(&self) -> u64 {
        self.size.saturating_sub(self.label_bytes()) / GUEST_ALIGN * GUEST_ALIGN
    }

    /// Checks the rules that do not depend on the file: `size` a multiple of
    /// the page size (and of 2 MiB without a label area), `label-size` at
    /// least 128 KiB, at least 2 MiB left for the guest.
    pub fn validate(&self) -> Result<(), DeviceError> {
        if self.mem_path.as_os_str().is_empty() {
            return Err(option_error("mem-path", "empty value"));
        }
        if !self.size.is_multiple_of(PAGE_SIZE) {
            return Err(option_error(
                "size",
                format!(
                    "{} is not a multiple of the page size (4 KiB)",
                    format_size(self.size)
                ),
            ));
        }
        if let Some(label) = self.label_size {
            if label < MIN_LABEL_SIZE {
                return Err(option_error(
                    "label-size",
                    format!("{} is less than the minimum, 128 KiB", format_size(label)),
                ));
            }
        } else if !self.size.is_multiple_of(GUEST_ALIGN) {
            return Err(option_error(
                "size",
                format!("{} is not a multiple of 2 MiB", format_size(self.size)),
            ));
        }
        if self.guest_size() < GUEST_ALIGN {
            return Err(option_error(
                "size",
                format!(
                    "{} with a label area of {} leaves less than 2 MiB for the guest",
                    format_size(self.size),
                    format_size(self.label_bytes())
                ),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for NvdimmConfig {
    /// The option string, in the form [`FromStr`] accepts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.mem_path.to_string_lossy().replace(',', ",,");
        write!(f, "mem-path={path},size={}", self.size)?;
        if let Some(label) = self.label_size {
            write!(f, ",label-size={label}")?;
        }
        write!(f, ",share={}", if self.share { "on" } else { "off" })
    }
}

/// The NVDIMM's backing store: where the initial media comes from and where
/// (with `share=on`) the final media goes.
#[derive(Debug)]
pub struct Backing {
    /// The file, `None` for [`Backing::temporary`].
    path: Option<PathBuf>,
    /// The existing file, opened read-only: initial content and the bytes
    /// beyond the guest-visible part. `None` when the file does not exist.
    file: Option<File>,
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
            return Err(option_error(
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
            Err(e) => return Err(io_error(path, e)),
        }
        Ok(backing)
    }

    /// An NVDIMM of `size` zero bytes (a multiple of 2 MiB) in anonymous
    /// memory, never written anywhere: what runs without `--nvdimm` use.
    pub fn temporary(size: u64) -> Result<Backing, DeviceError> {
        if size == 0 || !size.is_multiple_of(GUEST_ALIGN) {
            return Err(option_error(
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
            return Err(file_error(path, "not a regular file"));
        }
        if meta.len() != config.size {
            return Err(file_error(
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
                .map_err(|e| file_error(path, format!("not writable, needed for share=on: {e}")))?;
            // Renaming over a symbolic link would replace the link: write
            // next to the file it points to instead.
            let target = fs::canonicalize(path).map_err(|e| io_error(path, e))?;
            check_dir_writable(&target)?;
            self.path = Some(target);
            self.permissions = Some(meta.permissions());
        }
        self.file = Some(File::open(path).map_err(|e| io_error(path, e))?);
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
        let len = usize::try_from(self.guest_size)
            .map_err(|_| option_error("size", "does not fit the host address space"))?;
        let mut flags = libc::MAP_PRIVATE | libc::MAP_NORESERVE;
        let fd = match &self.file {
            Some(file) => std::os::fd::AsRawFd::as_raw_fd(file),
            None => {
                flags |= libc::MAP_ANONYMOUS;
                -1
            }
        };
        // SAFETY: `fd` is either -1 with MAP_ANONYMOUS or an open file at
        // least `len` bytes long (its size was checked when opened).
        let ptr = unsafe { map_rw(fd, len, flags) }.map_err(|e| self.io_error(e))?;
        let addr = ptr.as_ptr().cast::<libc::c_void>();
        if self.file.is_none() {
            // Anonymous memory may be backed by 2-MiB pages, which lets KVM map
            // the guest's 2-MiB NVDIMM pages with one entry each: far fewer
            // faults after a reused verify VM drops its mappings. Advice only.
            // SAFETY: `addr` is the mapping just made, `len` bytes long.
            unsafe { libc::madvise(addr, len, libc::MADV_HUGEPAGE) };
        }
        Ok(GuestCopy { ptr, len })
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
                    tmp.path.display()
                ),
                error: e,
            })?;
        tmp.persist(path)
    }

    /// Writes the complete new file: the media, then the rest of the old one.
    fn fill_new_file(&self, tmp: &TempFile, media: &[u8]) -> io::Result<()> {
        let mut out = &tmp.file;
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
        Err(file_error(
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
        io_error(self.display_path(), e)
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

/// The directory `path` lives in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Checks, by creating and removing a probe file, that files can be created
/// in the directory of `path`: the new media file is written there.
fn check_dir_writable(path: &Path) -> Result<(), DeviceError> {
    let dir = parent_dir(path);
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(file_error(
                path,
                format!("{} is not a directory", dir.display()),
            ));
        }
        Err(e) => {
            return Err(file_error(
                path,
                format!("directory {}: {e}", dir.display()),
            ));
        }
    }
    let probe = TempFile::create_next_to(path).map_err(|e| {
        file_error(
            path,
            format!(
                "cannot create files in {}, needed for share=on: {e}",
                dir.display()
            ),
        )
    })?;
    drop(probe);
    Ok(())
}

/// A [`DeviceError::Io`] on `path`.
fn io_error(path: &Path, error: io::Error) -> DeviceError {
    DeviceError::Io {
        path: path.display().to_string(),
        error,
    }
}

/// A [`DeviceError::BadBackingFile`] on `path`.
fn file_error(path: &Path, reason: impl Into<String>) -> DeviceError {
    DeviceError::BadBackingFile {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// A file in the directory of its final path, removed when dropped unless
/// renamed into place by [`TempFile::persist`].
struct TempFile {
    path: PathBuf,
    file: File,
    keep: bool,
}

impl TempFile {
    /// Creates `.NAME.pmemvm-PID-N.tmp` next to `target`.
    fn create_next_to(target: &Path) -> Result<TempFile, DeviceError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = parent_dir(target);
        let name = target.file_name().unwrap_or(target.as_os_str());
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let mut tmp_name = OsString::from(".");
            tmp_name.push(name);
            tmp_name.push(format!(".pmemvm-{}-{n}.tmp", std::process::id()));
            let path = dir.join(tmp_name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    return Ok(TempFile {
                        path,
                        file,
                        keep: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_error(&path, e)),
            }
        }
    }

    /// Renames the file to `target` and syncs the directory.
    fn persist(mut self, target: &Path) -> Result<(), DeviceError> {
        fs::rename(&self.path, target).map_err(|e| io_error(target, e))?;
        self.keep = true;
        if let Err(e) = File::open(parent_dir(target)).and_then(|d| d.sync_all()) {
            log::warn!(
                "{}: syncing the directory after the rename: {e}",
                target.display()
            );
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

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
