//! The error type of the device crate.

use std::io;
use std::path::Path;

/// Everything that can go wrong in the device crate.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// An I/O error on a named file. (The underlying error is part of the
    /// message, so it is not also the error's `source`: printed with its
    /// chain, the message would name it twice.)
    #[error("{path}: {error}")]
    Io {
        /// The file concerned.
        path: String,
        /// The underlying error.
        error: io::Error,
    },
    /// A size string (`64M`, `1G`, ...) that cannot be parsed.
    #[error("size `{}`: {reason}", pmemvm_abi::shown::Shown(input))]
    BadSize {
        /// The string as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A bad, missing, duplicate or inconsistent `--nvdimm` option (the
    /// command line names the `--nvdimm` value before it).
    #[error("{}: {reason}", pmemvm_abi::shown::Shown(option))]
    BadNvdimmOption {
        /// The option concerned (`size`, `label-size`, ...), or the whole string.
        option: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A backing file that cannot be used as it is.
    #[error("{path}: {reason}")]
    BadBackingFile {
        /// The file concerned.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    // --- persistency model and crash images (model.rs, crash.rs) ---
    /// A write or flush outside the device.
    #[error("access of {len} bytes at {offset:#x} is outside the device ({size:#x} bytes)")]
    OutOfRange {
        /// Device offset of the access.
        offset: u64,
        /// Length of the access in bytes.
        len: u64,
        /// Size of the device.
        size: u64,
    },
    /// A write that is empty or crosses an atomicity unit (split it with `Model::split`).
    #[error("write of {len} bytes at {offset:#x} is empty or crosses a {unit}-byte unit")]
    NotOneUnit {
        /// Device offset of the write.
        offset: u64,
        /// Length of the write in bytes.
        len: u64,
        /// Size of the atomicity unit (64 or 8).
        unit: u64,
    },
    /// A write to a line whose media content was not given with `Model::init_line`.
    #[error("line {line:#x} written before init_line")]
    LineNotInitialised {
        /// Device offset of the line.
        line: u64,
    },
    /// An event whose sequence number does not increase.
    #[error("sequence number {seq} is not greater than the previous one ({prev})")]
    SeqNotIncreasing {
        /// The offending sequence number.
        seq: u64,
        /// The previous sequence number.
        prev: u64,
    },
    /// A name (persistence, atomicity) that is not one of the known ones.
    #[error("unknown {what} {name:?} (expected {expected})")]
    UnknownName {
        /// What was being named.
        what: &'static str,
        /// The name given.
        name: String,
        /// The accepted names.
        expected: &'static str,
    },
    /// An image spec that does not follow the grammar.
    #[error("bad image spec {spec:?}: {reason}")]
    BadImageSpec {
        /// The text given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An explicit image spec that the model does not allow at this point.
    #[error("image {spec} is not allowed here: {reason}")]
    ImageNotAllowed {
        /// The spec, as text.
        spec: String,
        /// Why it is not allowed.
        reason: String,
    },
}

impl DeviceError {
    /// A [`DeviceError::Io`] on `path`.
    pub(crate) fn io(path: &Path, error: io::Error) -> DeviceError {
        DeviceError::Io {
            path: path.display().to_string(),
            error,
        }
    }

    /// A [`DeviceError::BadNvdimmOption`].
    pub(crate) fn nvdimm_option(option: &str, reason: impl Into<String>) -> DeviceError {
        DeviceError::BadNvdimmOption {
            option: option.to_string(),
            reason: reason.into(),
        }
    }

    /// A [`DeviceError::BadBackingFile`] on `path`.
    pub(crate) fn backing_file(path: &Path, reason: impl Into<String>) -> DeviceError {
        DeviceError::BadBackingFile {
            path: path.display().to_string(),
            reason: reason.into(),
        }
    }
}
