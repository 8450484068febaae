//! The model's configuration and the kinds of events it takes; the
//! persistence vocabulary is `pmemvm-abi`'s, re-exported.

use std::str::FromStr;

use pmemvm_abi::persistence::UnknownName;
pub use pmemvm_abi::persistence::{Atomicity, LINE_SIZE, Persistence, WORD_SIZE};

use crate::DeviceError;

impl DeviceError {
    /// Reads a [`Persistence`] or [`Atomicity`] name as given on the command
    /// line; an unknown one is [`DeviceError::UnknownName`], which quotes it.
    pub fn parse_name<T: FromStr<Err = UnknownName>>(name: &str) -> Result<T, DeviceError> {
        name.parse()
            .map_err(|e: UnknownName| DeviceError::UnknownName {
                what: e.what,
                name: name.to_string(),
                expected: e.expected,
            })
    }
}

/// What the model models: the device size and the platform's rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModelConfig {
    /// Size of the device in bytes.
    pub size: u64,
    /// ADR or eADR.
    pub persistence: Persistence,
    /// Line or word atomicity.
    pub atomicity: Atomicity,
}

/// A cache-line flush instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlushKind {
    /// `clwb`: needs a later fence.
    Clwb,
    /// `clflushopt`: needs a later fence.
    Clflushopt,
    /// `clflush`: complete on its own (and a drain point under eADR).
    Clflush,
}

/// A fencing instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FenceKind {
    /// `sfence`.
    Sfence,
    /// `mfence`.
    Mfence,
    /// A locked read-modify-write (`xchg`, `lock ...`), as a fence.
    Rmw,
}
