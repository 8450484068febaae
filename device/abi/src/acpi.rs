//! ACPI discovery of the NVDIMM, for guests: RSDP → XSDT (or RSDT) → NFIT.
//!
//! The VMM writes the tables (see `pmemvm_device::nfit`); a guest finds the
//! persistent-memory range and the persistence domain the way an OS does, by
//! parsing them. Everything here is `no_std` and allocation-free, and reads
//! memory only through a caller-supplied function, so that the guest decides
//! what is readable: corrupt tables give an [`AcpiError`], never a panic or a
//! read outside what that function hands out.
//!
//! ```
//! # use pmemvm_abi::acpi::{find_nvdimm_in, AcpiError};
//! let area = [0u8; 64]; // tables copied from guest-physical 0xe0000
//! assert_eq!(find_nvdimm_in(&area, 0xe0000, 0xe0000), Err(AcpiError::RsdpSignature));
//! ```

/// Signature of the RSDP.
pub const RSDP_SIGNATURE: [u8; 8] = *b"RSD PTR ";
/// Signature of the XSDT.
pub const XSDT_SIGNATURE: [u8; 4] = *b"XSDT";
/// Signature of the RSDT.
pub const RSDT_SIGNATURE: [u8; 4] = *b"RSDT";
/// Signature of the NFIT.
pub const NFIT_SIGNATURE: [u8; 4] = *b"NFIT";

/// Length of the ACPI 1.0 part of the RSDP (covered by the first checksum).
pub const RSDP_V1_LEN: usize = 20;
/// Length of the ACPI 2.0 RSDP (covered by the extended checksum).
pub const RSDP_LEN: usize = 36;
/// Length of the common header of every system description table.
pub const SDT_HEADER_LEN: usize = 36;
/// Length of the NFIT header: the SDT header and 4 reserved bytes.
pub const NFIT_HEADER_LEN: usize = 40;
/// Longest table the parser accepts (the tables of pmemvm are a few hundred bytes).
pub const MAX_TABLE_LEN: usize = 1 << 20;

/// NFIT structure type: System Physical Address (SPA) Range.
pub const NFIT_TYPE_SPA: u16 = 0;
/// NFIT structure type: Memory Device to SPA Range Map.
pub const NFIT_TYPE_MEMDEV: u16 = 1;
/// NFIT structure type: NVDIMM Control Region.
pub const NFIT_TYPE_DCR: u16 = 4;
/// NFIT structure type: Platform Capabilities.
pub const NFIT_TYPE_CAPS: u16 = 7;

/// Length of an SPA Range structure.
pub const NFIT_SPA_LEN: usize = 56;
/// Length of a Memory Device to SPA Range Map structure.
pub const NFIT_MEMDEV_LEN: usize = 48;
/// Length of an NVDIMM Control Region structure.
pub const NFIT_DCR_LEN: usize = 80;
/// Length of a Platform Capabilities structure.
pub const NFIT_CAPS_LEN: usize = 16;

/// The Byte-Addressable Persistent Memory range type GUID
/// `66F0D379-B4F3-4074-AC43-0D3318B78CDB`, in its binary (mixed-endian) form:
/// the first three fields little-endian, the last eight bytes as written.
pub const PM_GUID: [u8; 16] = [
    0x79, 0xd3, 0xf0, 0x66, 0xf3, 0xb4, 0x74, 0x40, 0xac, 0x43, 0x0d, 0x33, 0x18, 0xb7, 0x8c, 0xdb,
];

/// Platform capability bit 0: CPU caches are flushed on power loss (eADR).
pub const CAP_CPU_CACHE_FLUSH: u32 = 1 << 0;
/// Platform capability bit 1: the memory controller flushes on power loss (ADR).
pub const CAP_MEM_CTRL_FLUSH: u32 = 1 << 1;
/// Capabilities QEMU emits for `nvdimm-persistence=mem-ctrl` (ADR).
pub const CAPS_MEM_CTRL: u32 = CAP_MEM_CTRL_FLUSH;
/// Capabilities QEMU emits for `nvdimm-persistence=cpu` (eADR).
pub const CAPS_CPU: u32 = CAP_MEM_CTRL_FLUSH | CAP_CPU_CACHE_FLUSH;

/// What the NFIT says about the NVDIMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NvdimmInfo {
    /// Guest-physical base of the persistent-memory range.
    pub base: u64,
    /// Length of the range in bytes.
    pub size: u64,
    /// Platform capabilities (bits above the highest valid one cleared); 0
    /// when the NFIT has no Platform Capabilities structure.
    pub caps: u32,
}

impl NvdimmInfo {
    /// Whether CPU caches are in the power-fail-protected domain (eADR,
    /// capability bit 0): a store is persistent once globally visible.
    pub fn eadr(&self) -> bool {
        self.caps & CAP_CPU_CACHE_FLUSH != 0
    }

    /// End of the range (exclusive). Never overflows: checked when parsed.
    pub fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }
}

/// Why the tables were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcpiError {
    /// A table (or the RSDP) lies outside the memory the reader hands out.
    Unreadable,
    /// The RSDP signature is not `"RSD PTR "`.
    RsdpSignature,
    /// A checksum of the RSDP is wrong.
    RsdpChecksum,
    /// The RSDP length field is too small or too large.
    RsdpLength,
    /// The RSDP points to no XSDT or RSDT.
    NoRootTable,
    /// The XSDT/RSDT signature is wrong.
    RootSignature,
    /// A table length is shorter than its header, too large, or not a whole
    /// number of entries.
    TableLength,
    /// A table checksum is wrong.
    TableChecksum,
    /// No NFIT among the tables of the XSDT/RSDT.
    NoNfit,
    /// An NFIT structure is shorter than its type requires or overruns the table.
    NfitStructure,
    /// The NFIT has no SPA range of the persistent-memory type.
    NoPmRange,
    /// The persistent-memory range is empty or wraps around the address space.
    BadPmRange,
}

impl AcpiError {
    /// A one-line description.
    pub fn message(&self) -> &'static str {
        match self {
            AcpiError::Unreadable => "an ACPI table lies outside readable memory",
            AcpiError::RsdpSignature => "no RSDP signature (\"RSD PTR \") at the RSDP address",
            AcpiError::RsdpChecksum => "bad RSDP checksum",
            AcpiError::RsdpLength => "bad RSDP length",
            AcpiError::NoRootTable => "the RSDP points to no XSDT or RSDT",
            AcpiError::RootSignature => "the RSDP does not point to an XSDT/RSDT",
            AcpiError::TableLength => "bad ACPI table length",
            AcpiError::TableChecksum => "bad ACPI table checksum",
            AcpiError::NoNfit => "no NFIT among the ACPI tables",
            AcpiError::NfitStructure => "malformed NFIT structure",
            AcpiError::NoPmRange => "the NFIT has no persistent-memory SPA range",
            AcpiError::BadPmRange => "the persistent-memory SPA range is empty or wraps",
        }
    }
}

impl core::fmt::Display for AcpiError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

/// The 8-bit sum of `bytes` (0 for a table with a correct checksum).
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |sum, &b| sum.wrapping_add(b))
}

/// Finds the NVDIMM from the RSDP at `rsdp_gpa`.
///
/// `read(gpa, len)` returns the `len` bytes at guest-physical `gpa`, or `None`
/// when they are not readable; it is the only way the parser touches memory.
/// Every signature, length and checksum on the way is checked; the first SPA
/// range of the persistent-memory type is returned, with the platform
/// capabilities (0 when absent).
pub fn find_nvdimm<'a, F>(read: F, rsdp_gpa: u64) -> Result<NvdimmInfo, AcpiError>
where
    F: Fn(u64, usize) -> Option<&'a [u8]>,
{
    let root = parse_rsdp(&read, rsdp_gpa)?;
    let nfit = find_table(&read, root, NFIT_SIGNATURE)?;
    parse_nfit(nfit)
}

/// [`find_nvdimm`] over one contiguous copy of guest memory: `area` holds the
/// bytes at guest-physical `area_gpa` onward (for example 0xe0000..0x100000).
pub fn find_nvdimm_in(area: &[u8], area_gpa: u64, rsdp_gpa: u64) -> Result<NvdimmInfo, AcpiError> {
    find_nvdimm(|gpa, len| slice_at(area, area_gpa, gpa, len), rsdp_gpa)
}

/// Scans `area` (the bytes at guest-physical `area_gpa`) on 16-byte
/// boundaries for an RSDP with a valid signature and first checksum, the way
/// an OS scans the BIOS area; returns its guest-physical address.
pub fn scan_rsdp(area: &[u8], area_gpa: u64) -> Option<u64> {
    let misalign = (16 - (area_gpa % 16) as usize) % 16;
    let mut off = misalign;
    while let Some(head) = area.get(off..).and_then(|rest| rest.get(..RSDP_V1_LEN)) {
        if head[..8] == RSDP_SIGNATURE && checksum(head) == 0 {
            return area_gpa.checked_add(off as u64);
        }
        off += 16;
    }
    None
}

/// The `len` bytes at `gpa` inside `area` (which starts at `area_gpa`).
fn slice_at(area: &[u8], area_gpa: u64, gpa: u64, len: usize) -> Option<&[u8]> {
    let start = usize::try_from(gpa.checked_sub(area_gpa)?).ok()?;
    area.get(start..)?.get(..len)
}

/// Where the root table is and how wide its entries are.
#[derive(Clone, Copy)]
struct RootTable {
    gpa: u64,
    entry_len: usize,
    signature: [u8; 4],
}

/// Reads exactly `len` bytes at `gpa` through `read`.
fn read_exact<'a, F>(read: &F, gpa: u64, len: usize) -> Result<&'a [u8], AcpiError>
where
    F: Fn(u64, usize) -> Option<&'a [u8]>,
{
    match read(gpa, len) {
        Some(bytes) if bytes.len() == len => Ok(bytes),
        _ => Err(AcpiError::Unreadable),
    }
}

/// Validates the RSDP and returns the root table it points to (the XSDT for
/// revision 2 and later, when present; the RSDT otherwise).
fn parse_rsdp<'a, F>(read: &F, gpa: u64) -> Result<RootTable, AcpiError>
where
    F: Fn(u64, usize) -> Option<&'a [u8]>,
{
    let v1 = read_exact(read, gpa, RSDP_V1_LEN)?;
    if v1[..8] != RSDP_SIGNATURE {
        return Err(AcpiError::RsdpSignature);
    }
    if checksum(v1) != 0 {
        return Err(AcpiError::RsdpChecksum);
    }
    let rsdt = u64::from(le32(v1, 16));
    if v1[15] >= 2 {
        let v2 = read_exact(read, gpa, RSDP_LEN)?;
        let len = le32(v2, 20) as usize;
        if !(RSDP_LEN..=MAX_TABLE_LEN).contains(&len) {
            return Err(AcpiError::RsdpLength);
        }
        if checksum(read_exact(read, gpa, len)?) != 0 {
            return Err(AcpiError::RsdpChecksum);
        }
        let xsdt = le64(v2, 24);
        if xsdt != 0 {
            return Ok(RootTable {
                gpa: xsdt,
                entry_len: 8,
                signature: XSDT_SIGNATURE,
            });
        }
    }
    if rsdt == 0 {
        return Err(AcpiError::NoRootTable);
    }
    Ok(RootTable {
        gpa: rsdt,
        entry_len: 4,
        signature: RSDT_SIGNATURE,
    })
}

/// Reads a whole table at `gpa`, checking its length and checksum.
fn read_table<'a, F>(read: &F, gpa: u64) -> Result<&'a [u8], AcpiError>
where
    F: Fn(u64, usize) -> Option<&'a [u8]>,
{
    let header = read_exact(read, gpa, SDT_HEADER_LEN)?;
    let len = le32(header, 4) as usize;
    if !(SDT_HEADER_LEN..=MAX_TABLE_LEN).contains(&len) {
        return Err(AcpiError::TableLength);
    }
    let table = read_exact(read, gpa, len)?;
    if checksum(table) != 0 {
        return Err(AcpiError::TableChecksum);
    }
    Ok(table)
}

/// Walks the root table for the first table with `signature`, validated.
fn find_table<'a, F>(read: &F, root: RootTable, signature: [u8; 4]) -> Result<&'a [u8], AcpiError>
where
    F: Fn(u64, usize) -> Option<&'a [u8]>,
{
    let table = read_table(read, root.gpa)?;
    if table[..4] != root.signature {
        return Err(AcpiError::RootSignature);
    }
    let entries = &table[SDT_HEADER_LEN..];
    if entries.len() % root.entry_len != 0 {
        return Err(AcpiError::TableLength);
    }
    for entry in entries.chunks_exact(root.entry_len) {
        let gpa = if root.entry_len == 8 {
            le64(entry, 0)
        } else {
            u64::from(le32(entry, 0))
        };
        let header = read_exact(read, gpa, SDT_HEADER_LEN)?;
        if header[..4] == signature {
            return read_table(read, gpa);
        }
    }
    Err(AcpiError::NoNfit)
}

/// Walks the structures of a validated NFIT.
fn parse_nfit(nfit: &[u8]) -> Result<NvdimmInfo, AcpiError> {
    let mut rest = nfit.get(NFIT_HEADER_LEN..).ok_or(AcpiError::TableLength)?;
    let mut range = None;
    let mut caps = 0;
    while !rest.is_empty() {
        let (kind, len) = match rest {
            [t0, t1, l0, l1, ..] => (
                u16::from_le_bytes([*t0, *t1]),
                usize::from(u16::from_le_bytes([*l0, *l1])),
            ),
            _ => return Err(AcpiError::NfitStructure),
        };
        if len < 4 || len > rest.len() {
            return Err(AcpiError::NfitStructure);
        }
        let (structure, tail) = rest.split_at(len);
        match kind {
            NFIT_TYPE_SPA => {
                let found = parse_spa(structure)?;
                range = range.or(found);
            }
            NFIT_TYPE_CAPS => caps = parse_caps(structure)?,
            _ => {}
        }
        rest = tail;
    }
    let (base, size) = range.ok_or(AcpiError::NoPmRange)?;
    Ok(NvdimmInfo { base, size, caps })
}

/// An SPA range structure: `Some((base, size))` for a persistent-memory range.
fn parse_spa(spa: &[u8]) -> Result<Option<(u64, u64)>, AcpiError> {
    if spa.len() < NFIT_SPA_LEN {
        return Err(AcpiError::NfitStructure);
    }
    if spa[16..32] != PM_GUID {
        return Ok(None);
    }
    let (base, size) = (le64(spa, 32), le64(spa, 40));
    if size == 0 || base.checked_add(size).is_none() {
        return Err(AcpiError::BadPmRange);
    }
    Ok(Some((base, size)))
}

/// A Platform Capabilities structure: the capabilities up to the highest valid bit.
fn parse_caps(caps: &[u8]) -> Result<u32, AcpiError> {
    if caps.len() < NFIT_CAPS_LEN {
        return Err(AcpiError::NfitStructure);
    }
    let highest = u32::from(caps[4]);
    let mask = if highest >= 31 {
        u32::MAX
    } else {
        (1u32 << (highest + 1)) - 1
    };
    Ok(le32(caps, 8) & mask)
}

/// The little-endian `u32` at `off`; callers have checked the length.
fn le32(bytes: &[u8], off: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[off..off + 4]);
    u32::from_le_bytes(b)
}

/// The little-endian `u64` at `off`; callers have checked the length.
fn le64(bytes: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[off..off + 8]);
    u64::from_le_bytes(b)
}
