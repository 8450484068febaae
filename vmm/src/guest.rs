//! Which guest ELF a run boots: the bundled guest agent (built by
//! `build.rs` and embedded in `pmemvm`, so users never build or locate it
//! by hand) or a file, read with bounds.

use crate::elf::GuestElf;
use crate::error::VmmError;
use pmemvm_abi::layout;
use pmemvm_device::backing::format_size;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::io::Read;
use std::path::PathBuf;

/// The bundled guest ELF.
pub const BUNDLED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pmemvm-agent.elf"));

/// Name of the bundled guest in messages.
pub const BUNDLED_NAME: &str = "bundled guest";

/// Which guest ELF to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestSource {
    /// The agent embedded in pmemvm.
    Bundled,
    /// A file.
    Path(PathBuf),
}

impl GuestSource {
    /// Reads and checks the ELF.
    pub fn load(&self) -> Result<GuestElf, VmmError> {
        GuestElf::parse(&self.name(), &self.bytes()?)
    }

    /// The ELF's bytes (read from the file, or the bundled ones). A file
    /// must pass [`check`](Self::check) against [`layout::MAX_RAM`]: no guest larger
    /// than the largest RAM can run, and nothing larger is read.
    pub fn bytes(&self) -> Result<Cow<'static, [u8]>, VmmError> {
        let GuestSource::Path(p) = self else {
            return Ok(Cow::Borrowed(BUNDLED));
        };
        let len = self.check(layout::MAX_RAM)?;
        let cannot_read = |e: std::io::Error| self.elf_error(format!("cannot read: {e}"));
        let file = std::fs::File::open(p).map_err(cannot_read)?;
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.take(layout::MAX_RAM + 1)
            .read_to_end(&mut bytes)
            .map_err(cannot_read)?;
        if bytes.len() as u64 > layout::MAX_RAM {
            return Err(self.too_large(bytes.len() as u64, layout::MAX_RAM));
        }
        Ok(Cow::Owned(bytes))
    }

    /// Checks a guest file before anything reads it: a regular file (not a
    /// FIFO, device or directory) of at most `max` bytes (the guest RAM).
    /// Returns its size (0 for the bundled guest, which is always fine).
    pub fn check(&self, max: u64) -> Result<u64, VmmError> {
        let GuestSource::Path(p) = self else {
            return Ok(0);
        };
        let meta = std::fs::metadata(p).map_err(|e| self.elf_error(format!("cannot read: {e}")))?;
        if !meta.is_file() {
            return Err(self.elf_error(format!(
                "not a regular file (a {}); give the path of an ELF file",
                pmemvm_traces::files::file_kind(&meta.file_type())
            )));
        }
        if meta.len() > max {
            return Err(self.too_large(meta.len(), max));
        }
        Ok(meta.len())
    }

    fn too_large(&self, len: u64, max: u64) -> VmmError {
        self.elf_error(format!(
            "{len} bytes, larger than the guest RAM ({}): it cannot be loaded",
            format_size(max)
        ))
    }

    fn elf_error(&self, reason: String) -> VmmError {
        VmmError::Elf {
            path: self.name(),
            reason,
        }
    }

    /// Name of the guest in trace headers: its absolute path, or
    /// [`pmemvm_traces::BUNDLED_GUEST`].
    pub fn trace_name(&self) -> String {
        match self {
            GuestSource::Bundled => pmemvm_traces::BUNDLED_GUEST.into(),
            GuestSource::Path(p) => std::path::absolute(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string(),
        }
    }

    /// SHA-256 of the ELF's bytes.
    pub fn sha256(&self) -> Result<[u8; 32], VmmError> {
        Ok(Sha256::digest(self.bytes()?).into())
    }

    /// Name of the guest in messages: its path, or `bundled guest`.
    pub fn name(&self) -> String {
        match self {
            GuestSource::Bundled => BUNDLED_NAME.into(),
            GuestSource::Path(p) => p.display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_bundled_guest() {
        let elf = GuestElf::parse("bundled", BUNDLED).expect("bundled guest parses");
        assert_eq!(elf.extent().0, pmemvm_abi::layout::LOAD_MIN);
        assert!(
            elf.vectors
                .iter()
                .all(|&v| v >= pmemvm_abi::layout::LOAD_MIN)
        );
    }
}
