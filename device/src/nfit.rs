//! The ACPI tables through which a guest finds the NVDIMM: RSDP, XSDT, NFIT.
//!
//! The NFIT holds exactly the structures QEMU (`hw/acpi/nvdimm.c`) emits for
//! one NVDIMM in slot 0: an SPA Range (persistent-memory GUID), a Memory
//! Device to SPA Range Map, an NVDIMM Control Region and, when a persistence
//! mode is set, Platform Capabilities (2 for `mem-ctrl`, 3 for `cpu`). The
//! guest side, the parser, is [`pmemvm_abi::acpi`].
//!
//! Layout of the blob, every table 16-byte aligned:
//!
//! | offset | table | length |
//! |---|---|---|
//! | 0x00 | RSDP (ACPI 2.0) | 36 |
//! | 0x30 | XSDT, one entry | 44 |
//! | 0x60 | NFIT | 224, or 240 with Platform Capabilities |

use pmemvm_abi::acpi::{
    NFIT_CAPS_LEN, NFIT_DCR_LEN, NFIT_HEADER_LEN, NFIT_MEMDEV_LEN, NFIT_SIGNATURE, NFIT_SPA_LEN,
    NFIT_TYPE_CAPS, NFIT_TYPE_DCR, NFIT_TYPE_MEMDEV, NFIT_TYPE_SPA, PM_GUID, RSDP_LEN,
    RSDP_SIGNATURE, RSDP_V1_LEN, SDT_HEADER_LEN, XSDT_SIGNATURE, checksum,
};

pub use pmemvm_abi::acpi::{CAPS_CPU, CAPS_MEM_CTRL};

/// OEM ID of every table.
pub const OEM_ID: [u8; 6] = *b"PMEMVM";
/// Creator ID of every table (QEMU's `BXPC` would claim QEMU built them).
pub const CREATOR_ID: [u8; 4] = *b"PMVM";

/// Offset of the XSDT in the blob.
pub const XSDT_OFFSET: usize = 0x30;
/// Offset of the NFIT in the blob.
pub const NFIT_OFFSET: usize = 0x60;

/// Slot of the single NVDIMM; QEMU derives every index from it.
const SLOT: u32 = 0;
/// QEMU's `nvdimm_slot_to_handle`.
const NFIT_HANDLE: u32 = SLOT + 1;
/// QEMU's `nvdimm_slot_to_spa_index`.
const SPA_INDEX: u16 = ((SLOT + 1) << 1) as u16;
/// QEMU's `nvdimm_slot_to_dcr_index`.
const DCR_INDEX: u16 = SPA_INDEX + 1;
/// QEMU's `nvdimm_slot_to_sn`.
const SERIAL_NUMBER: u32 = 0x123456 + SLOT;
/// SPA flags: control region for hot add only (1) | proximity domain valid (2).
const SPA_FLAGS: u16 = 1 | 2;
/// `EFI_MEMORY_WB | EFI_MEMORY_NV`.
const SPA_MEM_ATTR: u64 = 0x8 | 0x8000;
/// Format Interface Code: byte addressable, no energy backed (JEDEC Annex L).
const DCR_FIC: u16 = 0x301;

/// The guest-physical range of the NVDIMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NfitRegion {
    /// Guest-physical base.
    pub base: u64,
    /// Length in bytes (the guest-visible size).
    pub size: u64,
}

/// The bytes to place at guest-physical `tables_gpa`: the RSDP at offset 0,
/// then the XSDT and the NFIT describing `nvdimm`.
///
/// `persistence_caps` is the Platform Capabilities value ([`CAPS_MEM_CTRL`]
/// = 2 for ADR, [`CAPS_CPU`] = 3 for eADR); 0 omits the structure, as QEMU
/// does without `nvdimm-persistence`. The guest finds the RSDP at
/// `tables_gpa` (or by scanning 0xe0000..0x100000 on 16-byte boundaries).
///
/// # Example
///
/// What the guest's parser finds in the tables:
///
/// ```
/// use pmemvm_abi::acpi::find_nvdimm_in;
/// use pmemvm_device::nfit::{CAPS_CPU, NfitRegion, build_acpi_tables};
///
/// let nvdimm = NfitRegion { base: 1 << 32, size: 64 << 20 };
/// let tables = build_acpi_tables(0xe0000, nvdimm, CAPS_CPU);
/// let found = find_nvdimm_in(&tables, 0xe0000, 0xe0000).unwrap();
/// assert_eq!((found.base, found.size), (1 << 32, 64 << 20));
/// assert!(found.eadr());
/// ```
pub fn build_acpi_tables(tables_gpa: u64, nvdimm: NfitRegion, persistence_caps: u32) -> Vec<u8> {
    let nfit = build_nfit(nvdimm, persistence_caps);
    let xsdt = build_xsdt(&[tables_gpa + NFIT_OFFSET as u64]);
    let mut out = build_rsdp(tables_gpa + XSDT_OFFSET as u64);
    place(&mut out, XSDT_OFFSET, &xsdt);
    place(&mut out, NFIT_OFFSET, &nfit);
    out
}

/// Appends `table` at `offset`, zero-padding up to it.
fn place(out: &mut Vec<u8>, offset: usize, table: &[u8]) {
    debug_assert!(out.len() <= offset, "tables overlap");
    out.resize(offset, 0);
    out.extend_from_slice(table);
}

/// The ACPI 2.0 RSDP pointing at the XSDT (no RSDT), both checksums set.
fn build_rsdp(xsdt_gpa: u64) -> Vec<u8> {
    let mut r = Vec::with_capacity(RSDP_LEN);
    r.extend_from_slice(&RSDP_SIGNATURE);
    r.push(0); // checksum of the first 20 bytes
    r.extend_from_slice(&OEM_ID);
    r.push(2); // revision: ACPI 2.0+
    r.extend_from_slice(&0u32.to_le_bytes()); // RSDT address: none
    r.extend_from_slice(&(RSDP_LEN as u32).to_le_bytes());
    r.extend_from_slice(&xsdt_gpa.to_le_bytes());
    r.push(0); // extended checksum
    r.extend_from_slice(&[0; 3]);
    r[8] = 0u8.wrapping_sub(checksum(&r[..RSDP_V1_LEN]));
    r[32] = 0u8.wrapping_sub(checksum(&r));
    r
}

/// The XSDT listing `tables`.
fn build_xsdt(tables: &[u64]) -> Vec<u8> {
    let mut t = sdt_header(XSDT_SIGNATURE, 1);
    for gpa in tables {
        t.extend_from_slice(&gpa.to_le_bytes());
    }
    finish_sdt(t)
}

/// The NFIT for one NVDIMM in slot 0, as QEMU builds it.
fn build_nfit(nvdimm: NfitRegion, persistence_caps: u32) -> Vec<u8> {
    let mut t = sdt_header(NFIT_SIGNATURE, 1);
    t.extend_from_slice(&[0; NFIT_HEADER_LEN - SDT_HEADER_LEN]);
    t.extend_from_slice(&spa_range(nvdimm));
    t.extend_from_slice(&memdev(nvdimm));
    t.extend_from_slice(&control_region());
    if persistence_caps != 0 {
        t.extend_from_slice(&platform_caps(persistence_caps));
    }
    finish_sdt(t)
}

/// ACPI 6.0 5.2.25.1: System Physical Address Range Structure (56 bytes).
fn spa_range(nvdimm: NfitRegion) -> Vec<u8> {
    let mut s = structure_header(NFIT_TYPE_SPA, NFIT_SPA_LEN);
    s.extend_from_slice(&SPA_INDEX.to_le_bytes());
    s.extend_from_slice(&SPA_FLAGS.to_le_bytes());
    s.extend_from_slice(&0u32.to_le_bytes()); // reserved
    s.extend_from_slice(&0u32.to_le_bytes()); // proximity domain: node 0
    s.extend_from_slice(&PM_GUID);
    s.extend_from_slice(&nvdimm.base.to_le_bytes());
    s.extend_from_slice(&nvdimm.size.to_le_bytes());
    s.extend_from_slice(&SPA_MEM_ATTR.to_le_bytes());
    debug_assert_eq!(s.len(), NFIT_SPA_LEN);
    s
}

/// ACPI 6.0 5.2.25.2: Memory Device to SPA Range Map Structure (48 bytes).
fn memdev(nvdimm: NfitRegion) -> Vec<u8> {
    let mut s = structure_header(NFIT_TYPE_MEMDEV, NFIT_MEMDEV_LEN);
    s.extend_from_slice(&NFIT_HANDLE.to_le_bytes());
    s.extend_from_slice(&0u16.to_le_bytes()); // physical id
    s.extend_from_slice(&0u16.to_le_bytes()); // region id
    s.extend_from_slice(&SPA_INDEX.to_le_bytes());
    s.extend_from_slice(&DCR_INDEX.to_le_bytes());
    s.extend_from_slice(&nvdimm.size.to_le_bytes()); // region length
    s.extend_from_slice(&0u64.to_le_bytes()); // region offset
    s.extend_from_slice(&0u64.to_le_bytes()); // region DPA: the device starts at 0
    s.extend_from_slice(&0u16.to_le_bytes()); // interleave index
    s.extend_from_slice(&1u16.to_le_bytes()); // interleave ways
    s.extend_from_slice(&0u16.to_le_bytes()); // flags (armed)
    s.extend_from_slice(&0u16.to_le_bytes()); // reserved
    debug_assert_eq!(s.len(), NFIT_MEMDEV_LEN);
    s
}

/// ACPI 6.0 5.2.25.5: NVDIMM Control Region Structure (80 bytes).
fn control_region() -> Vec<u8> {
    let mut s = structure_header(NFIT_TYPE_DCR, NFIT_DCR_LEN);
    s.extend_from_slice(&DCR_INDEX.to_le_bytes());
    s.extend_from_slice(&0x8086u16.to_le_bytes()); // vendor: Intel
    s.extend_from_slice(&1u16.to_le_bytes()); // device id
    s.extend_from_slice(&1u16.to_le_bytes()); // revision id
    s.extend_from_slice(&[0; 6]); // subsystem vendor, device, revision ids
    s.extend_from_slice(&[0; 6]); // reserved
    s.extend_from_slice(&SERIAL_NUMBER.to_le_bytes());
    s.extend_from_slice(&DCR_FIC.to_le_bytes());
    s.extend_from_slice(&0u16.to_le_bytes()); // number of block control windows
    s.resize(NFIT_DCR_LEN, 0); // window size, command/status offsets and sizes, flags
    s
}

/// ACPI 6.2A 5.2.25.9: Platform Capabilities Structure (16 bytes).
fn platform_caps(caps: u32) -> Vec<u8> {
    let mut s = structure_header(NFIT_TYPE_CAPS, NFIT_CAPS_LEN);
    s.push((31 - caps.leading_zeros()) as u8); // highest valid capability
    s.extend_from_slice(&[0; 3]);
    s.extend_from_slice(&caps.to_le_bytes());
    s.extend_from_slice(&[0; 4]);
    debug_assert_eq!(s.len(), NFIT_CAPS_LEN);
    s
}

/// Type and length of an NFIT structure.
fn structure_header(kind: u16, len: usize) -> Vec<u8> {
    let mut s = Vec::with_capacity(len);
    s.extend_from_slice(&kind.to_le_bytes());
    s.extend_from_slice(&(len as u16).to_le_bytes());
    s
}

/// A 36-byte SDT header with length and checksum left to [`finish_sdt`].
fn sdt_header(signature: [u8; 4], revision: u8) -> Vec<u8> {
    let mut t = Vec::with_capacity(256);
    t.extend_from_slice(&signature);
    t.extend_from_slice(&0u32.to_le_bytes()); // length
    t.push(revision);
    t.push(0); // checksum
    t.extend_from_slice(&OEM_ID);
    let mut table_id = *b"PMEM    ";
    table_id[4..].copy_from_slice(&signature);
    t.extend_from_slice(&table_id);
    t.extend_from_slice(&1u32.to_le_bytes()); // OEM revision
    t.extend_from_slice(&CREATOR_ID);
    t.extend_from_slice(&1u32.to_le_bytes()); // creator revision
    debug_assert_eq!(t.len(), SDT_HEADER_LEN);
    t
}

/// Sets the length and checksum of a complete table.
fn finish_sdt(mut t: Vec<u8>) -> Vec<u8> {
    let len = t.len() as u32;
    t[4..8].copy_from_slice(&len.to_le_bytes());
    t[9] = 0u8.wrapping_sub(checksum(&t));
    t
}
