//! Files given on the command line: input traces must be regular files (a
//! FIFO would block forever), and [`OutputFile`] writes every output file
//! (traces, reports, exports) the same way.

use std::fs::{self, File, FileType, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Result, TraceError};

/// What a file that is not a regular file is, for messages: `directory`,
/// `FIFO`, `character device`...
pub fn file_kind(t: &FileType) -> &'static str {
    if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_socket() {
        "socket"
    } else if t.is_file() {
        "regular file"
    } else {
        "special file"
    }
}

/// Symbolic links followed at most when resolving an output path (Linux's
/// `MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

/// Counter of the temporary files of this process, for unique names.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Tries at most this many temporary names before giving up.
const TEMP_ATTEMPTS: u32 = 100;

/// An output file being written. A regular file (or a new one) is written
/// through a uniquely named temporary file beside it (created with
/// `O_EXCL`), synced and renamed over it by [`commit`](Self::commit), so it
/// is never seen partial; dropped uncommitted, the temporary file is removed
/// and the target is untouched. A symbolic link is followed (its target is
/// written, the link stays). Anything else that exists and is not a
/// directory (a character device such as `/dev/null`, a FIFO) is written in
/// place. A directory is refused.
#[derive(Debug)]
pub struct OutputFile {
    file: File,
    /// Where the content ends up (symbolic links resolved).
    target: PathBuf,
    /// The temporary file, until it is renamed; `None` when writing in place.
    tmp: Option<PathBuf>,
}

/// What an output path is, once its symbolic links are resolved.
enum Target {
    /// Written in place: it exists and is neither a regular file nor a directory.
    InPlace(PathBuf),
    /// Written through a temporary file renamed over it: a regular file
    /// (with its permissions) or nothing yet.
    Replace(PathBuf, Option<Permissions>),
}

/// An error about the output file `path`.
fn output_error(path: &Path, reason: impl Into<String>) -> TraceError {
    TraceError::Output {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Follows `path`'s symbolic links (also a dangling one: the file is
/// created where it points) and says how to write what it names.
fn resolve(path: &Path) -> Result<Target> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let meta = match fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Target::Replace(p, None)),
            Err(e) => return Err(TraceError::io(path, e)),
        };
        let t = meta.file_type();
        if t.is_symlink() {
            let link = fs::read_link(&p).map_err(|e| TraceError::io(path, e))?;
            p = p.parent().unwrap_or(Path::new("")).join(link);
        } else if t.is_dir() {
            return Err(output_error(
                path,
                "is a directory; give the path of a file",
            ));
        } else if t.is_file() {
            return Ok(Target::Replace(p, Some(meta.permissions())));
        } else {
            return Ok(Target::InPlace(p));
        }
    }
    Err(output_error(path, "too many levels of symbolic links"))
}

/// Creates a new, uniquely named temporary file beside `target` (`O_EXCL`:
/// never an existing file or link). `path` is the name given, for errors.
fn create_temp(path: &Path, target: &Path) -> Result<(File, PathBuf)> {
    let name = target
        .file_name()
        .ok_or_else(|| output_error(path, "does not name a file"))?
        .to_string_lossy()
        .into_owned();
    let dir = dir_of(target);
    if !dir.is_dir() {
        return Err(output_error(
            path,
            format!("the directory {} does not exist", dir.display()),
        ));
    }
    for _ in 0..TEMP_ATTEMPTS {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = target.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((file, tmp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(output_error(
                    path,
                    format!("cannot create a file in {}: {e}", dir.display()),
                ));
            }
        }
    }
    Err(output_error(
        path,
        format!("no free temporary name in {}", dir.display()),
    ))
}

/// The directory a file is in (`.` for a bare name).
fn dir_of(file: &Path) -> &Path {
    match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Checks, before any work, that [`OutputFile::create`] can write `path`:
/// not a directory, and its directory exists and is writable (a temporary
/// file is created there and removed). Nothing is left behind.
pub fn check_output(path: &Path) -> Result<()> {
    match resolve(path)? {
        Target::InPlace(_) => Ok(()),
        Target::Replace(target, _) => {
            let (file, tmp) = create_temp(path, &target)?;
            drop(file);
            fs::remove_file(&tmp).map_err(|e| TraceError::io(&tmp, e))
        }
    }
}

/// Writes `bytes` to the output file `path` (see [`OutputFile`]).
pub fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut out = OutputFile::create(path)?;
    out.write_all(bytes).map_err(|e| TraceError::io(path, e))?;
    out.commit()
}

impl OutputFile {
    /// Starts writing the output file `path`.
    pub fn create(path: &Path) -> Result<OutputFile> {
        match resolve(path)? {
            Target::InPlace(target) => {
                let file = OpenOptions::new()
                    .write(true)
                    .open(&target)
                    .map_err(|e| TraceError::io(path, e))?;
                Ok(OutputFile {
                    file,
                    target,
                    tmp: None,
                })
            }
            Target::Replace(target, permissions) => {
                let (file, tmp) = create_temp(path, &target)?;
                let out = OutputFile {
                    file,
                    target,
                    tmp: Some(tmp),
                };
                if let (Some(p), Some(tmp)) = (permissions, &out.tmp) {
                    fs::set_permissions(tmp, p).map_err(|e| TraceError::io(tmp, e))?;
                }
                Ok(out)
            }
        }
    }

    /// Completes the file: syncs the temporary file, renames it over the
    /// target and syncs the directory (in place: nothing more to do).
    pub fn commit(mut self) -> Result<()> {
        let Some(tmp) = self.tmp.clone() else {
            return Ok(());
        };
        self.file.sync_all().map_err(|e| TraceError::io(&tmp, e))?;
        fs::rename(&tmp, &self.target).map_err(|e| TraceError::io(&self.target, e))?;
        self.tmp = None;
        let dir = dir_of(&self.target);
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| TraceError::io(dir, e))
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if let Some(tmp) = &self.tmp
            && let Err(e) = fs::remove_file(tmp)
        {
            log::warn!("cannot remove temporary file {}: {e}", tmp.display());
        }
    }
}
