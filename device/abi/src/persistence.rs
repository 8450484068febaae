//! The vocabulary of the persistency model, shared by the device model, the
//! traces and the command line: the cache-line and word sizes, the
//! power-fail-protected domain ([`Persistence`]) and the failure-atomicity
//! unit ([`Atomicity`]), with their names.

use core::fmt;
use core::str::FromStr;

/// Size of a cache line in bytes.
pub const LINE_SIZE: u64 = 64;
/// Size of a word (the atomicity unit of [`Atomicity::Word`]) in bytes.
pub const WORD_SIZE: u64 = 8;

/// Which caches are in the power-fail-protected domain (QEMU's
/// `nvdimm-persistence`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Persistence {
    /// ADR (QEMU `nvdimm-persistence=mem-ctrl`): the memory controller and
    /// the media only; the CPU caches are lost.
    Adr,
    /// eADR (QEMU `nvdimm-persistence=cpu`): the CPU caches too.
    Eadr,
}

impl Persistence {
    /// Both, ADR first.
    pub const ALL: [Persistence; 2] = [Persistence::Adr, Persistence::Eadr];

    /// The QEMU `nvdimm-persistence` name, used in traces and on the
    /// command line: `mem-ctrl` (ADR) or `cpu` (eADR).
    pub fn name(self) -> &'static str {
        match self {
            Persistence::Adr => "mem-ctrl",
            Persistence::Eadr => "cpu",
        }
    }
}

/// The failure-atomicity unit of cached writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Atomicity {
    /// The 64-byte cache line (line write-back is atomic; the default).
    Line,
    /// Each aligned 8-byte word independently.
    Word,
}

impl Atomicity {
    /// Both, line first.
    pub const ALL: [Atomicity; 2] = [Atomicity::Line, Atomicity::Word];

    /// The name used in traces and on the command line: `line` or `word`.
    pub fn name(self) -> &'static str {
        match self {
            Atomicity::Line => "line",
            Atomicity::Word => "word",
        }
    }

    /// Size of one unit in bytes ([`LINE_SIZE`] or [`WORD_SIZE`]). Writes
    /// never cross it.
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

/// `Display` and `FromStr` of a vocabulary enum, both by its `name()` (the
/// value among its `ALL` whose name is given).
macro_rules! by_name {
    ($ty:ident, $what:literal, $expected:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::ALL
                    .into_iter()
                    .find(|v| v.name() == s)
                    .ok_or(UnknownName {
                        what: $what,
                        expected: $expected,
                    })
            }
        }
    };
}

by_name!(Persistence, "persistence", "mem-ctrl or cpu");
by_name!(Atomicity, "atomicity", "line or word");

/// A name that is none of the names of a [`Persistence`] or an
/// [`Atomicity`] (the error of their `FromStr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownName {
    /// What was being named: `persistence` or `atomicity`.
    pub what: &'static str,
    /// The accepted names, e.g. `mem-ctrl or cpu`.
    pub expected: &'static str,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} (expected {})", self.what, self.expected)
    }
}

impl core::error::Error for UnknownName {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Persistence::ALL {
            assert_eq!(p.name().parse::<Persistence>(), Ok(p));
        }
        for a in Atomicity::ALL {
            assert_eq!(a.name().parse::<Atomicity>(), Ok(a));
        }
        assert_eq!(
            "adr".parse::<Persistence>(),
            Err(UnknownName {
                what: "persistence",
                expected: "mem-ctrl or cpu"
            })
        );
        assert!("byte".parse::<Atomicity>().is_err());
    }

    #[test]
    fn unit_sizes() {
        assert_eq!(Atomicity::Line.unit_size(), 64);
        assert_eq!(Atomicity::Word.unit_size(), 8);
        assert_eq!(Atomicity::Line.units_per_line(), 1);
        assert_eq!(Atomicity::Word.units_per_line(), 8);
    }
}
