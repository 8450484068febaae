//! Lowercase hex, the way traces spell bytes and addresses.
//!
//! * Byte strings (`data`, `init`, hashes): two lowercase hex digits per byte,
//!   in memory order, no prefix: `[0xde, 0xad]` is `"dead"`.
//! * Addresses, offsets and ports: `0x` followed by lowercase hex digits, no
//!   leading zeros (`0x0` for zero): `"0x100000040"`.

use std::fmt::Write as _;

use crate::error::{Location, Result, TraceError};

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends the lowercase hex of `bytes` to `out`.
pub fn encode_into(bytes: &[u8], out: &mut String) {
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
}

/// The lowercase hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    encode_into(bytes, &mut s);
    s
}

fn digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn bad(field: &'static str, reason: String) -> TraceError {
    TraceError::BadHex {
        at: Location::default(),
        field,
        reason,
    }
}

/// Decodes lowercase hex; `field` names the field in the error.
pub(crate) fn decode_field(s: &str, field: &'static str) -> Result<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return Err(bad(
            field,
            format!("odd number of hex digits ({})", b.len()),
        ));
    }
    let mut out = Vec::with_capacity(b.len() / 2);
    for (i, pair) in b.chunks_exact(2).enumerate() {
        match (digit(pair[0]), digit(pair[1])) {
            (Some(h), Some(l)) => out.push(h << 4 | l),
            _ => {
                let at = if digit(pair[0]).is_none() {
                    2 * i
                } else {
                    2 * i + 1
                };
                let c = s[at..].chars().next().unwrap_or('?');
                let why = if c.is_ascii_hexdigit() {
                    " (hex must be lowercase)"
                } else {
                    ""
                };
                return Err(bad(
                    field,
                    format!("`{c}` at position {at} is not a hex digit{why}"),
                ));
            }
        }
    }
    Ok(out)
}

/// Decodes a string of lowercase hex digits (two per byte) into bytes.
pub fn decode(s: &str) -> Result<Vec<u8>> {
    decode_field(s, "hex")
}

/// Decodes lowercase hex that must be exactly `N` bytes long.
pub(crate) fn decode_array<const N: usize>(s: &str, field: &'static str) -> Result<[u8; N]> {
    let v = decode_field(s, field)?;
    <[u8; N]>::try_from(v.as_slice()).map_err(|_| {
        bad(
            field,
            format!(
                "expected {N} bytes ({} hex digits), found {} bytes",
                2 * N,
                v.len()
            ),
        )
    })
}

/// `0x`-prefixed lowercase hex of an address or offset.
pub fn format_addr(v: u64) -> String {
    let mut s = String::with_capacity(18);
    let _ = write!(s, "{v:#x}");
    s
}

/// Parses a `0x`-prefixed lowercase hex number of at most 16 digits.
pub(crate) fn parse_addr_field(s: &str, field: &'static str) -> Result<u64> {
    let Some(digits) = s.strip_prefix("0x") else {
        return Err(bad(field, format!("`{s}` does not start with 0x")));
    };
    if digits.is_empty() || digits.len() > 16 {
        return Err(bad(
            field,
            format!("`{s}` must have 1 to 16 hex digits after 0x"),
        ));
    }
    let mut v: u64 = 0;
    for (i, c) in digits.bytes().enumerate() {
        let Some(d) = digit(c) else {
            let ch = digits[i..].chars().next().unwrap_or('?');
            let why = if ch.is_ascii_hexdigit() {
                " (hex must be lowercase)"
            } else {
                ""
            };
            return Err(bad(field, format!("`{s}`: `{ch}` is not a hex digit{why}")));
        };
        v = v << 4 | u64::from(d);
    }
    Ok(v)
}

/// Parses an address written as by [`format_addr`] (`0x` and lowercase hex).
pub fn parse_addr(s: &str) -> Result<u64> {
    parse_addr_field(s, "address")
}

/// The reason of a hex error, without a location (for serde messages).
fn reason(e: TraceError) -> String {
    match e {
        TraceError::BadHex { reason, .. } => format!("bad hex: {reason}"),
        other => other.to_string(),
    }
}

/// Serde adapter: a `u64` as a `0x…` hex string (`#[serde(with = "hex::addr")]`).
pub mod addr {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    /// Serializes as `0x…`.
    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_addr(*v))
    }

    /// Deserializes from `0x…`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::parse_addr(&s).map_err(|e| D::Error::custom(super::reason(e)))
    }
}

/// Serde adapter: an optional 32-byte hash as 64 lowercase hex digits
/// (`guest_sha256`).
pub mod opt_bytes32 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    /// Serializes `Some` as 64 hex digits (skip `None` with
    /// `skip_serializing_if`).
    pub fn serialize<S: Serializer>(v: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => super::bytes32::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    /// Deserializes from 64 hex digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 32]>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::decode_array::<32>(&s, "guest_sha256")
            .map(Some)
            .map_err(|e| D::Error::custom(super::reason(e)))
    }
}

/// Serde adapter: a byte array as lowercase hex.
pub mod bytes32 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    /// Serializes as 64 hex digits.
    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::encode(v))
    }

    /// Deserializes from 64 hex digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::decode_array::<32>(&s, "initial_media_sha256")
            .map_err(|e| D::Error::custom(super::reason(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let b = [0u8, 1, 0x7f, 0x80, 0xff, 0xde, 0xad];
        assert_eq!(encode(&b), "00017f80ffdead");
        assert_eq!(decode(&encode(&b)).unwrap(), b);
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn rejects_bad_hex() {
        assert!(
            decode("abc")
                .unwrap_err()
                .to_string()
                .contains("odd number")
        );
        assert!(decode("AB").unwrap_err().to_string().contains("lowercase"));
        assert!(
            decode("zz")
                .unwrap_err()
                .to_string()
                .contains("not a hex digit")
        );
        assert!(decode("é0").is_err());
        assert!(decode_array::<4>("0011", "x").is_err());
    }

    #[test]
    fn addresses() {
        assert_eq!(format_addr(0), "0x0");
        assert_eq!(format_addr(0x1_0000_0040), "0x100000040");
        assert_eq!(parse_addr("0x100000040").unwrap(), 0x1_0000_0040);
        assert_eq!(parse_addr("0xffffffffffffffff").unwrap(), u64::MAX);
        for bad in [
            "",
            "0x",
            "100",
            "0X10",
            "0xAB",
            "0x1ffffffffffffffff",
            "0x-1",
            "0xé",
        ] {
            assert!(parse_addr(bad).is_err(), "{bad}");
        }
    }
}
