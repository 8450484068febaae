//! The first record of a trace: what was run, on which device, under which model.

use serde::{Deserialize, Serialize};

use crate::error::{Location, Result, TraceError};
use crate::hex;
use pmemvm_abi::layout::MAX_NVDIMM_SIZE;
use pmemvm_abi::persistence::{Atomicity, LINE_SIZE, Persistence};

/// Value of [`Header::format`]: identifies a pmemvm trace.
pub const FORMAT_NAME: &str = "pmemvm-trace";
/// The trace format version this crate writes and reads.
pub const FORMAT_VERSION: u64 = 1;
/// Value of [`Header::guest`] for the guest agent embedded in pmemvm.
pub const BUNDLED_GUEST: &str = "bundled";
/// Model assumption: Intel x86 semantics (Px86): `clflush` needs no fence,
/// `clwb` writes back the whole line.
pub const MODEL_INTEL: &str = "intel-x86";
/// Model assumption: the SYNC crash-point convention (every instruction
/// before the point has completed; a completed fence committed every earlier flush).
pub const MODEL_SYNC: &str = "crash-sync";
/// Model assumption: cached writes to one line persist atomically, in order.
pub const MODEL_ATOMIC_LINE: &str = "atomic-line";
/// Model assumption: each aligned 8-byte word persists independently.
pub const MODEL_ATOMIC_WORD: &str = "atomic-word";

/// The model assumption string for an atomicity unit.
fn model_name(atomicity: Atomicity) -> &'static str {
    match atomicity {
        Atomicity::Line => MODEL_ATOMIC_LINE,
        Atomicity::Word => MODEL_ATOMIC_WORD,
    }
}

/// The JSON form of [`Persistence`]: its QEMU name.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Persistence", rename = "Persistence")]
enum PersistenceJson {
    #[serde(rename = "mem-ctrl")]
    Adr,
    #[serde(rename = "cpu")]
    Eadr,
}

/// The JSON form of [`Atomicity`]: its name.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Atomicity", rename = "Atomicity", rename_all = "lowercase")]
enum AtomicityJson {
    Line,
    Word,
}

/// How a trace's writes were recorded (the header's `recording`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recording {
    /// `stores`: every guest store exited and is its own event, in program
    /// order with the flushes and fences. Every point between two events is
    /// an instant of the run. The default, and what a header without
    /// `recording` means.
    #[default]
    Stores,
    /// `epochs`: stores ran natively; at each exit the VMM compared the pages
    /// the guest dirtied with their last copy and wrote one event per changed
    /// line (word, in word atomicity) *before* the flushes and fences of
    /// that epoch. Only the points at epoch ends (events with `epoch_end`)
    /// and, under ADR, just before a fence that ends an epoch are instants of
    /// the run (see `CRASH-POINTS.md`, "Epoch recording").
    Epochs,
}

impl Recording {
    /// True for [`Recording::Stores`] (the header leaves it out).
    pub fn is_stores(&self) -> bool {
        *self == Recording::Stores
    }

    /// The name `--record` takes and the header holds.
    pub fn name(self) -> &'static str {
        match self {
            Recording::Stores => "stores",
            Recording::Epochs => "epochs",
        }
    }
}

impl std::fmt::Display for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The emulated NVDIMM as the guest sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Guest-physical address of device offset 0 (hex string in JSON).
    #[serde(with = "hex::addr")]
    pub base: u64,
    /// Size in bytes of the guest-visible device (a JSON number).
    pub size: u64,
}

/// The first record of every trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// Always [`FORMAT_VERSION`] for traces this crate writes.
    pub version: u64,
    /// Version of the pmemvm that wrote the trace.
    pub tool_version: String,
    /// Model assumptions (see `PERSISTENCY.md`), e.g.
    /// `["intel-x86", "crash-sync", "atomic-line"]`.
    pub model: Vec<String>,
    /// The device.
    pub device: Device,
    /// Cache-line size: 64.
    pub line_size: u64,
    /// ADR (`mem-ctrl`) or eADR (`cpu`).
    #[serde(with = "PersistenceJson")]
    pub persistence: Persistence,
    /// Line or word atomicity.
    #[serde(with = "AtomicityJson")]
    pub atomicity: Atomicity,
    /// Scenario the guest ran.
    pub scenario: String,
    /// Variant of the scenario.
    pub variant: String,
    /// Seed of the workload.
    pub seed: u64,
    /// SHA-256 of the initial media (the device content when recording began).
    #[serde(with = "hex::bytes32")]
    pub initial_media_sha256: [u8; 32],
    /// The guest that ran: [`BUNDLED_GUEST`], or the absolute path of its
    /// ELF (older traces: the path as given); absent when unknown (optional,
    /// so older traces still read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest: Option<String>,
    /// SHA-256 of the ELF of a guest given as a file (absent for the bundled
    /// guest and in older traces), so that a later `verify` can tell whether
    /// the file at [`Header::guest`] is still the one that ran.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "hex::opt_bytes32"
    )]
    pub guest_sha256: Option<[u8; 32]>,
    /// How the writes were recorded; absent (older traces, and `stores`
    /// recordings) means [`Recording::Stores`].
    #[serde(default, skip_serializing_if = "Recording::is_stores")]
    pub recording: Recording,
}

impl Header {
    /// A version-1 header with this crate's version as `tool_version`, the
    /// model assumptions derived from `atomicity`, and no guest named.
    pub fn new(
        device: Device,
        persistence: Persistence,
        atomicity: Atomicity,
        scenario: impl Into<String>,
        variant: impl Into<String>,
        seed: u64,
        initial_media_sha256: [u8; 32],
    ) -> Header {
        Header {
            format: FORMAT_NAME.to_string(),
            version: FORMAT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            model: vec![
                MODEL_INTEL.to_string(),
                MODEL_SYNC.to_string(),
                model_name(atomicity).to_string(),
            ],
            device,
            line_size: LINE_SIZE,
            persistence,
            atomicity,
            scenario: scenario.into(),
            variant: variant.into(),
            seed,
            initial_media_sha256,
            guest: None,
            guest_sha256: None,
            recording: Recording::Stores,
        }
    }

    /// Checks the fields that serde cannot: format, version, line size,
    /// device size (at most [`MAX_NVDIMM_SIZE`], like `--nvdimm size=`), model list. Errors carry an unknown location.
    pub fn validate(&self) -> Result<()> {
        let at = Location::default();
        if self.format != FORMAT_NAME {
            return Err(TraceError::NotATrace {
                at,
                reason: format!(
                    "header `format` is `{}`, expected `{FORMAT_NAME}`",
                    self.format
                ),
            });
        }
        if self.version != FORMAT_VERSION {
            return Err(TraceError::UnsupportedVersion {
                at,
                found: self.version,
                supported: FORMAT_VERSION,
            });
        }
        let invalid = |reason: String| {
            Err(TraceError::InvalidHeader {
                at: Location::default(),
                reason,
            })
        };
        if self.line_size != LINE_SIZE {
            return invalid(format!(
                "`line_size` is {}, version 1 supports only {LINE_SIZE}",
                self.line_size
            ));
        }
        if self.device.size == 0 || !self.device.size.is_multiple_of(LINE_SIZE) {
            return invalid(format!(
                "`device.size` {} is not a positive multiple of {LINE_SIZE}",
                self.device.size
            ));
        }
        if self.device.size > MAX_NVDIMM_SIZE {
            return invalid(format!(
                "device size {} is larger than the {} GiB limit",
                self.device.size,
                MAX_NVDIMM_SIZE >> 30
            ));
        }
        if !self.device.base.is_multiple_of(LINE_SIZE) {
            return invalid(format!(
                "`device.base` {} is not line-aligned",
                hex::format_addr(self.device.base)
            ));
        }
        if self.device.base.checked_add(self.device.size).is_none() {
            return invalid("`device.base` + `device.size` overflows 64 bits".to_string());
        }
        if self.tool_version.is_empty() {
            return invalid("`tool_version` is empty".to_string());
        }
        if self.model.iter().any(|m| m.is_empty()) {
            return invalid("`model` holds an empty string".to_string());
        }
        Ok(())
    }

    /// Guest-physical address of a device offset.
    pub fn addr_of(&self, offset: u64) -> u64 {
        self.device.base.wrapping_add(offset)
    }
}
