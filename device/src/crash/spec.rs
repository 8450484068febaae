//! How a crash image is named.
//!
//! ```text
//! spec   := "minimal" | "maximal" | "random:" SEED | "units:" [unit (";" unit)*]
//! unit   := OFF "=" SEQ ["/" NT ("," NT)*]
//! OFF    := "0x" hex digits      device offset of a unit (line, or word in word mode)
//! SEED, SEQ, NT := decimal digits (u64)
//! ```

use std::fmt;
use std::str::FromStr;

use crate::DeviceError;

/// The name of a crash image. `Display` and `FromStr` round-trip.
///
/// # Example
///
/// ```
/// use pmemvm_device::crash::{ImageSpec, UnitChoice};
///
/// let spec: ImageSpec = "units:0x40=3/5,7;0x80=0".parse()?;
/// let ImageSpec::Units(units) = &spec else { unreachable!() };
/// assert_eq!(units[0], UnitChoice { offset: 0x40, upto: 3, nt: vec![5, 7] });
/// assert_eq!(spec.to_string(), "units:0x40=3/5,7;0x80=0");
/// assert_eq!("random:7".parse::<ImageSpec>()?, ImageSpec::Random(7));
/// assert!("units:64=3".parse::<ImageSpec>().is_err()); // offsets are hex
/// # Ok::<(), pmemvm_device::DeviceError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ImageSpec {
    /// Every unit at its lower bound, no pending NT write (`minimal`).
    Minimal,
    /// Every unit at its latest write, every pending NT write (`maximal`).
    Maximal,
    /// A seeded random allowed image (`random:SEED`); see [`crate::model::Model::random_spec`].
    Random(u64),
    /// Explicit per-unit choices (`units:OFF=SEQ[/NT,...];...`); units not
    /// named take their minimal state.
    Units(Vec<UnitChoice>),
}

/// The state one unit takes in an explicit spec.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UnitChoice {
    /// Device offset of the unit (a line, or an 8-byte word in word mode).
    pub offset: u64,
    /// Sequence number of the last cached write of the unit that is present
    /// (0 = none of the run's cached writes). Must be the unit's lower bound
    /// or one of its cached writes above it.
    pub upto: u64,
    /// Sequence numbers of the unit's pending NT writes that landed.
    pub nt: Vec<u64>,
}

impl fmt::Display for UnitChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}={}", self.offset, self.upto)?;
        for (i, nt) in self.nt.iter().enumerate() {
            f.write_str(if i == 0 { "/" } else { "," })?;
            write!(f, "{nt}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ImageSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageSpec::Minimal => f.write_str("minimal"),
            ImageSpec::Maximal => f.write_str("maximal"),
            ImageSpec::Random(seed) => write!(f, "random:{seed}"),
            ImageSpec::Units(units) => {
                f.write_str("units:")?;
                for (i, u) in units.iter().enumerate() {
                    if i > 0 {
                        f.write_str(";")?;
                    }
                    write!(f, "{u}")?;
                }
                Ok(())
            }
        }
    }
}

fn decimal(s: &str, what: &str) -> Result<u64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} {s:?} is not a decimal number"));
    }
    s.parse::<u64>().map_err(|e| format!("{what} {s:?}: {e}"))
}

fn hex(s: &str) -> Result<u64, String> {
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| format!("offset {s:?} must be hex with a 0x prefix"))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("offset {s:?} is not a hex number"));
    }
    u64::from_str_radix(digits, 16).map_err(|e| format!("offset {s:?}: {e}"))
}

fn parse_unit(s: &str) -> Result<UnitChoice, String> {
    let (off, rest) = s
        .split_once('=')
        .ok_or_else(|| format!("unit {s:?} is not OFF=SEQ[/NT,...]"))?;
    let (upto, nts) = match rest.split_once('/') {
        Some((upto, nts)) => (upto, Some(nts)),
        None => (rest, None),
    };
    let nt = match nts {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|n| decimal(n, "NT sequence number"))
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(UnitChoice {
        offset: hex(off)?,
        upto: decimal(upto, "sequence number")?,
        nt,
    })
}

fn parse(s: &str) -> Result<ImageSpec, String> {
    match s {
        "minimal" => return Ok(ImageSpec::Minimal),
        "maximal" => return Ok(ImageSpec::Maximal),
        _ => {}
    }
    if let Some(seed) = s.strip_prefix("random:") {
        return Ok(ImageSpec::Random(decimal(seed, "seed")?));
    }
    if let Some(list) = s.strip_prefix("units:") {
        if list.is_empty() {
            return Ok(ImageSpec::Units(Vec::new()));
        }
        return list
            .split(';')
            .map(parse_unit)
            .collect::<Result<Vec<_>, _>>()
            .map(ImageSpec::Units);
    }
    Err("expected minimal, maximal, random:SEED or units:OFF=SEQ[/NT,...];...".to_string())
}

impl FromStr for ImageSpec {
    type Err = DeviceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s).map_err(|reason| DeviceError::BadImageSpec {
            spec: s.to_string(),
            reason,
        })
    }
}
