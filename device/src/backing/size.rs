//! Sizes: the units, the limits of `--nvdimm`, and how sizes are parsed and printed.

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
///
/// ```
/// use pmemvm_device::backing::{format_size, parse_size};
///
/// assert_eq!(parse_size("64MiB")?, 64 << 20);
/// assert_eq!(format_size(parse_size("1536M")?), "1536 MiB");
/// assert!(parse_size("1.5G").is_err());
/// # Ok::<(), pmemvm_device::DeviceError>(())
/// ```
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
