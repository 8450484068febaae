//! The error type of the device crate.

/// Everything that can go wrong in the device crate.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}
