//! `--nvdimm mem-path=FILE,size=SIZE[,label-size=SIZE][,share=on|off]`: the
//! QEMU-style option string, its parsing and the rules it must follow.

use pmemvm_abi::shown::Shown;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::size::{GUEST_ALIGN, MIN_LABEL_SIZE, PAGE_SIZE, format_size, parse_size};
use crate::DeviceError;

/// `--nvdimm mem-path=FILE,size=SIZE[,label-size=SIZE][,share=on|off]`.
///
/// Parsed with [`FromStr`]; as in QEMU, `,,` stands for a comma inside a value.
///
/// # Example
///
/// ```
/// use pmemvm_device::backing::{MIB, NvdimmConfig};
///
/// let config: NvdimmConfig = "mem-path=pm,,1.img,size=64M,label-size=128K,share=on".parse()?;
/// assert_eq!(config.mem_path.to_str(), Some("pm,1.img"));
/// assert_eq!(config.size, 64 * MIB);
/// assert_eq!(config.guest_size(), 62 * MIB); // 64 MiB - 128 KiB, down to 2 MiB
/// assert!(config.share);
/// assert_eq!(
///     config.to_string(),
///     "mem-path=pm,,1.img,size=67108864,label-size=131072,share=on"
/// );
///
/// let err = "mem-path=pm.img,size=3M".parse::<NvdimmConfig>().unwrap_err();
/// assert_eq!(err.to_string(), "size: 3 MiB is not a multiple of 2 MiB");
/// # Ok::<(), pmemvm_device::DeviceError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NvdimmConfig {
    /// The backing file (`mem-path`).
    pub mem_path: PathBuf,
    /// Size of the file in bytes (`size`).
    pub size: u64,
    /// Size of the label area at the end of the file (`label-size`), if any.
    pub label_size: Option<u64>,
    /// Whether the media is written back to the file (`share=on`).
    pub share: bool,
}

/// The option names of `--nvdimm`.
const OPTIONS: [&str; 4] = ["mem-path", "size", "label-size", "share"];

impl FromStr for NvdimmConfig {
    type Err = DeviceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut values: [Option<String>; 4] = Default::default();
        for part in split_options(s) {
            if part.is_empty() {
                return Err(DeviceError::nvdimm_option(
                    s,
                    "empty option (a stray comma? `,,` is a literal comma)",
                ));
            }
            let (key, value) = part.split_once('=').ok_or_else(|| {
                DeviceError::nvdimm_option(&part, "expected `key=value` (mem-path=FILE,size=SIZE[,label-size=SIZE][,share=on|off])")
            })?;
            let slot = OPTIONS.iter().position(|&o| o == key).ok_or_else(|| {
                DeviceError::nvdimm_option(
                    key,
                    "unknown option; the options are mem-path, size, label-size and share",
                )
            })?;
            if values[slot].is_some() {
                return Err(DeviceError::nvdimm_option(key, "given more than once"));
            }
            if value.is_empty() {
                return Err(DeviceError::nvdimm_option(key, "empty value"));
            }
            values[slot] = Some(value.to_string());
        }
        let [mem_path, size, label_size, share] = values;
        let config = NvdimmConfig {
            mem_path: PathBuf::from(mem_path.ok_or_else(|| {
                DeviceError::nvdimm_option("mem-path", "missing (mem-path=FILE)")
            })?),
            size: option_size(
                "size",
                &size.ok_or_else(|| DeviceError::nvdimm_option("size", "missing (size=SIZE)"))?,
            )?,
            label_size: label_size
                .map(|l| option_size("label-size", &l))
                .transpose()?,
            share: share.map(|v| parse_share(&v)).transpose()?.unwrap_or(false),
        };
        config.validate()?;
        Ok(config)
    }
}

/// Splits `a=1,b=2` at single commas; `,,` is a literal comma.
fn split_options(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != ',' {
            current.push(c);
        } else if chars.next_if_eq(&',').is_some() {
            current.push(',');
        } else {
            parts.push(std::mem::take(&mut current));
        }
    }
    parts.push(current);
    parts
}

/// A size option, its parse error naming the option.
fn option_size(option: &str, value: &str) -> Result<u64, DeviceError> {
    parse_size(value).map_err(|e| match e {
        DeviceError::BadSize { input, reason } => {
            DeviceError::nvdimm_option(option, format!("`{}`: {reason}", Shown(&input)))
        }
        other => DeviceError::nvdimm_option(option, other.to_string()),
    })
}

/// `share=on|off`.
fn parse_share(value: &str) -> Result<bool, DeviceError> {
    match value {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(DeviceError::nvdimm_option(
            "share",
            format!("`{value}`: expected `on` or `off`"),
        )),
    }
}

impl NvdimmConfig {
    /// The label area size (0 without `label-size`).
    pub fn label_bytes(&self) -> u64 {
        self.label_size.unwrap_or(0)
    }

    /// What the guest sees: `size - label-size`, rounded down to 2 MiB.
    pub fn guest_size(&self) -> u64 {
        self.size.saturating_sub(self.label_bytes()) / GUEST_ALIGN * GUEST_ALIGN
    }

    /// Checks the rules that do not depend on the file: `size` a multiple of
    /// the page size (and of 2 MiB without a label area), `label-size` at
    /// least 128 KiB, at least 2 MiB left for the guest.
    pub fn validate(&self) -> Result<(), DeviceError> {
        if self.mem_path.as_os_str().is_empty() {
            return Err(DeviceError::nvdimm_option("mem-path", "empty value"));
        }
        if !self.size.is_multiple_of(PAGE_SIZE) {
            return Err(DeviceError::nvdimm_option(
                "size",
                format!(
                    "{} is not a multiple of the page size (4 KiB)",
                    format_size(self.size)
                ),
            ));
        }
        if let Some(label) = self.label_size {
            if label < MIN_LABEL_SIZE {
                return Err(DeviceError::nvdimm_option(
                    "label-size",
                    format!("{} is less than the minimum, 128 KiB", format_size(label)),
                ));
            }
        } else if !self.size.is_multiple_of(GUEST_ALIGN) {
            return Err(DeviceError::nvdimm_option(
                "size",
                format!("{} is not a multiple of 2 MiB", format_size(self.size)),
            ));
        }
        if self.guest_size() < GUEST_ALIGN {
            return Err(DeviceError::nvdimm_option(
                "size",
                format!(
                    "{} with a label area of {} leaves less than 2 MiB for the guest",
                    format_size(self.size),
                    format_size(self.label_bytes())
                ),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for NvdimmConfig {
    /// The option string, in the form [`FromStr`] accepts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.mem_path.to_string_lossy().replace(',', ",,");
        write!(f, "mem-path={path},size={}", self.size)?;
        if let Some(label) = self.label_size {
            write!(f, ",label-size={label}")?;
        }
        write!(f, ",share={}", if self.share { "on" } else { "off" })
    }
}
