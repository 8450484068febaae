//! Replacing a file whole: a temporary file next to it, renamed over it.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::DeviceError;

/// The directory `path` lives in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Checks, by creating and removing a probe file, that files can be created
/// in the directory of `path`: the new media file is written there.
pub(super) fn check_dir_writable(path: &Path) -> Result<(), DeviceError> {
    let dir = parent_dir(path);
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(DeviceError::backing_file(
                path,
                format!("{} is not a directory", dir.display()),
            ));
        }
        Err(e) => {
            return Err(DeviceError::backing_file(
                path,
                format!("directory {}: {e}", dir.display()),
            ));
        }
    }
    let probe = TempFile::create_next_to(path).map_err(|e| {
        DeviceError::backing_file(
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

/// A file in the directory of its final path, removed when dropped unless
/// renamed into place by [`TempFile::persist`].
pub(super) struct TempFile {
    path: PathBuf,
    file: File,
    keep: bool,
}

impl TempFile {
    /// Creates `.NAME.pmemvm-PID-N.tmp` next to `target`.
    pub(super) fn create_next_to(target: &Path) -> Result<TempFile, DeviceError> {
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
                Err(e) => return Err(DeviceError::io(&path, e)),
            }
        }
    }

    /// Where the file is now.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The file, open for writing.
    pub(super) fn file(&self) -> &File {
        &self.file
    }

    /// Renames the file to `target` and syncs the directory.
    pub(super) fn persist(mut self, target: &Path) -> Result<(), DeviceError> {
        fs::rename(&self.path, target).map_err(|e| DeviceError::io(target, e))?;
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
