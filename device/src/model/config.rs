//! The model's configuration and the kinds of events it takes.

use std::fmt;
use std::str::FromStr;

use crate::DeviceError;

/// Size of a cache line in bytes.
pub const LINE_SIZE: u64 = 64;
/// Size of a word (the atomicity unit of [`Atomicity::Word`]) in bytes.
pub const WORD_SIZE: u64 = 8;

/// Which caches are in the power-fail-protected domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Persistence {
    /// ADR (QEMU `nvdimm-persistence=mem-ctrl`): the memory controller and the media only.
    Adr,
    /// eADR (QEMU `nvdimm-persistence=cpu`): the CPU caches too.
    Eadr,
}

impl Persistence {
    /// The QEMU `nvdimm-persistence` name: `mem-ctrl` (ADR) or `cpu` (eADR).
    pub fn name(self) -> &'static str {
        match self {
            Persistence::Adr => "mem-ctrl",
            Persistence::Eadr => "cpu",
        }
    }
}

impl fmt::Display for Persistence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Persistence {
    type Err = DeviceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mem-ctrl" => Ok(Persistence::Adr),
            "cpu" => Ok(Persistence::Eadr),
            _ => Err(DeviceError::UnknownName {
                what: "persistence",
                name: s.to_string(),
                expected: "mem-ctrl or cpu",
            }),
        }
    }
}

/// The failure-atomicity unit of cached writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Atomicity {
    /// The 64-byte cache line (line write-back is atomic).
    Line,
    /// Each aligned 8-byte word independently.
    Word,
}

impl Atomicity {
    /// The name used on the command line: `line` or `word`.
    pub fn name(self) -> &'static str {
        match self {
            Atomicity::Line => "line",
            Atomicity::Word => "word",
        }
    }

    /// Size of one unit in bytes (64 or 8).
    pub fn unit_size(self) -> u64 {
        match self {
            Atomicity::Line => LINE_SIZE,
            Atomicity::Word => WORD_SIZE,
        }
    }

    /// Number of units in one line (1 or 8).
    pub fn units_per_line(self) -> usize {
        (LINE_SIZE / self.unit_size()) as usize
    }
}

impl fmt::Display for Atomicity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Atomicity {
    type Err = DeviceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "line" => Ok(Atomicity::Line),
            "word" => Ok(Atomicity::Word),
            _ => Err(DeviceError::UnknownName {
                what: "atomicity",
                name: s.to_string(),
                expected: "line or word",
            }),
        }
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
