//! ACPI tables: built by the VMM (`pmemvm_device::nfit`), parsed by the guest
//! (`pmemvm_abi::acpi`). Round trips, QEMU's byte layout, corrupt tables.

use pmemvm_abi::acpi::{
    AcpiError, CAPS_CPU, CAPS_MEM_CTRL, NvdimmInfo, PM_GUID, checksum, find_nvdimm, find_nvdimm_in,
    scan_rsdp,
};
use pmemvm_abi::layout::{ACPI, ACPI_END, NVDIMM_BASE};
use pmemvm_device::nfit::{NFIT_OFFSET, NfitRegion, XSDT_OFFSET, build_acpi_tables};
use proptest::prelude::*;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Offsets of the NFIT structures in the blob.
const SPA: usize = NFIT_OFFSET + 40;
const MEMDEV: usize = SPA + 56;
const DCR: usize = MEMDEV + 48;
const CAPS: usize = DCR + 80;

fn tables(base: u64, size: u64, caps: u32) -> Vec<u8> {
    build_acpi_tables(ACPI, NfitRegion { base, size }, caps)
}

fn parse(blob: &[u8]) -> Result<NvdimmInfo, AcpiError> {
    find_nvdimm_in(blob, ACPI, ACPI)
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(b[off..off + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}
fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// Recomputes every checksum of the blob after a deliberate edit, so that
/// the edit itself, not a checksum, is what the parser sees. Lengths are
/// taken from the (possibly edited) headers, clamped to the blob.
fn fix_checksums(b: &mut [u8]) {
    let clamp = |off: usize, len: usize, b: &[u8]| (off + len).min(b.len());
    b[8] = 0;
    b[8] = 0u8.wrapping_sub(checksum(&b[..20]));
    b[32] = 0;
    let end = clamp(0, u32_at(b, 20) as usize, b);
    b[32] = 0u8.wrapping_sub(checksum(&b[..end]));
    for off in [XSDT_OFFSET, NFIT_OFFSET] {
        if b.len() >= off + 36 {
            b[off + 9] = 0;
            let end = clamp(off, u32_at(b, off + 4) as usize, b);
            b[off + 9] = 0u8.wrapping_sub(checksum(&b[off..end]));
        }
    }
}

// ---------------------------------------------------------------- round trips

#[test]
fn round_trip_both_persistence_modes_and_sizes() {
    let bases = [NVDIMM_BASE, 0x2_0000_0000, 0x40_0000_0000, 0x8000_0000];
    let sizes = [2 * MIB, 62 * MIB, 64 * MIB, GIB, 64 * GIB];
    for caps in [CAPS_MEM_CTRL, CAPS_CPU] {
        for base in bases {
            for size in sizes {
                let blob = tables(base, size, caps);
                let info = parse(&blob).unwrap_or_else(|e| panic!("{base:#x}+{size:#x}: {e}"));
                assert_eq!(info, NvdimmInfo { base, size, caps });
                assert_eq!(info.eadr(), caps == CAPS_CPU);
                assert_eq!(info.end(), base + size);
            }
        }
    }
}

#[test]
fn without_persistence_there_are_no_platform_capabilities() {
    let blob = tables(NVDIMM_BASE, 64 * MIB, 0);
    assert_eq!(u32_at(&blob, NFIT_OFFSET + 4), 224);
    let info = parse(&blob).unwrap();
    assert_eq!(info.caps, 0);
    assert!(!info.eadr());
}

#[test]
fn tables_at_another_address_and_through_a_reader() {
    let gpa = 0xf_0000;
    let blob = build_acpi_tables(
        gpa,
        NfitRegion {
            base: NVDIMM_BASE,
            size: 4 * MIB,
        },
        CAPS_CPU,
    );
    // A reader over a sparse "physical memory": only the table area exists.
    let read = |addr: u64, len: usize| {
        let start = addr.checked_sub(gpa)? as usize;
        blob.get(start..start.checked_add(len)?)
    };
    let info = find_nvdimm(read, gpa).unwrap();
    assert_eq!(
        info,
        NvdimmInfo {
            base: NVDIMM_BASE,
            size: 4 * MIB,
            caps: CAPS_CPU
        }
    );
    // The tables are position-dependent: read at the wrong base, they fail.
    assert_eq!(
        find_nvdimm_in(&blob, ACPI, ACPI),
        Err(AcpiError::Unreadable)
    );
}

#[test]
fn rsdp_is_found_by_scanning_the_bios_area() {
    let blob = tables(NVDIMM_BASE, 64 * MIB, CAPS_MEM_CTRL);
    let mut area = vec![0u8; (ACPI_END - ACPI) as usize];
    area[..blob.len()].copy_from_slice(&blob);
    assert_eq!(scan_rsdp(&area, ACPI), Some(ACPI));
    // Anywhere on a 16-byte boundary, not elsewhere.
    let mut shifted = vec![0u8; 0x1000];
    shifted[0x230..0x230 + 36].copy_from_slice(&blob[..36]);
    assert_eq!(scan_rsdp(&shifted, ACPI), Some(ACPI + 0x230));
    let mut odd = vec![0u8; 0x1000];
    odd[0x231..0x231 + 36].copy_from_slice(&blob[..36]);
    assert_eq!(scan_rsdp(&odd, ACPI), None);
    assert_eq!(scan_rsdp(&[], ACPI), None);
    // An area starting off a 16-byte boundary still scans absolute boundaries.
    assert_eq!(scan_rsdp(&shifted[8..], ACPI + 8), Some(ACPI + 0x230));
}

// ---------------------------------------------------------------- layout

#[test]
fn layout_is_aligned_small_and_checksummed() {
    for caps in [0, CAPS_MEM_CTRL, CAPS_CPU] {
        let blob = tables(NVDIMM_BASE, 64 * MIB, caps);
        assert!(blob.len() < 0x1000, "{}", blob.len());
        assert!((blob.len() as u64) < ACPI_END - ACPI);
        assert_eq!(XSDT_OFFSET % 16, 0);
        assert_eq!(NFIT_OFFSET % 16, 0);
        assert_eq!(checksum(&blob[..20]), 0);
        assert_eq!(checksum(&blob[..36]), 0);
        let xsdt_len = u32_at(&blob, XSDT_OFFSET + 4) as usize;
        assert_eq!(checksum(&blob[XSDT_OFFSET..XSDT_OFFSET + xsdt_len]), 0);
        let nfit_len = u32_at(&blob, NFIT_OFFSET + 4) as usize;
        assert_eq!(checksum(&blob[NFIT_OFFSET..NFIT_OFFSET + nfit_len]), 0);
        assert_eq!(blob.len(), NFIT_OFFSET + nfit_len);
    }
}

#[test]
fn rsdp_and_xsdt_bytes() {
    let blob = tables(NVDIMM_BASE, 64 * MIB, CAPS_CPU);
    assert_eq!(&blob[..8], b"RSD PTR ");
    assert_eq!(blob[15], 2, "ACPI 2.0 revision");
    assert_eq!(u32_at(&blob, 16), 0, "no RSDT");
    assert_eq!(u32_at(&blob, 20), 36, "RSDP length");
    assert_eq!(u64_at(&blob, 24), ACPI + XSDT_OFFSET as u64);
    assert_eq!(&blob[XSDT_OFFSET..XSDT_OFFSET + 4], b"XSDT");
    assert_eq!(u32_at(&blob, XSDT_OFFSET + 4), 44, "header + one entry");
    assert_eq!(blob[XSDT_OFFSET + 8], 1, "XSDT revision");
    assert_eq!(u64_at(&blob, XSDT_OFFSET + 36), ACPI + NFIT_OFFSET as u64);
}

#[test]
fn nfit_bytes_match_qemu() {
    let (base, size) = (0x1_4000_0000, 128 * MIB);
    let blob = tables(base, size, CAPS_CPU);
    // Header: 36 bytes + 4 reserved, revision 1.
    assert_eq!(&blob[NFIT_OFFSET..NFIT_OFFSET + 4], b"NFIT");
    assert_eq!(u32_at(&blob, NFIT_OFFSET + 4), 40 + 56 + 48 + 80 + 16);
    assert_eq!(blob[NFIT_OFFSET + 8], 1);
    assert_eq!(u32_at(&blob, NFIT_OFFSET + 36), 0);

    // SPA Range: type 0, 56 bytes, index 2, flags 3, PM GUID, WB|NV.
    assert_eq!((u16_at(&blob, SPA), u16_at(&blob, SPA + 2)), (0, 56));
    assert_eq!(u16_at(&blob, SPA + 4), 2, "spa index (slot 0 + 1) << 1");
    assert_eq!(u16_at(&blob, SPA + 6), 3, "flags");
    assert_eq!(u32_at(&blob, SPA + 8), 0, "reserved");
    assert_eq!(u32_at(&blob, SPA + 12), 0, "proximity domain");
    assert_eq!(
        blob[SPA + 16..SPA + 32],
        [
            0x79, 0xd3, 0xf0, 0x66, 0xf3, 0xb4, 0x74, 0x40, 0xac, 0x43, 0x0d, 0x33, 0x18, 0xb7,
            0x8c, 0xdb
        ]
    );
    assert_eq!(blob[SPA + 16..SPA + 32], PM_GUID);
    assert_eq!(u64_at(&blob, SPA + 32), base);
    assert_eq!(u64_at(&blob, SPA + 40), size);
    assert_eq!(
        u64_at(&blob, SPA + 48),
        0x8008,
        "EFI_MEMORY_WB | EFI_MEMORY_NV"
    );

    // Memory Device to SPA Map: type 1, 48 bytes.
    assert_eq!((u16_at(&blob, MEMDEV), u16_at(&blob, MEMDEV + 2)), (1, 48));
    assert_eq!(u32_at(&blob, MEMDEV + 4), 1, "nfit handle: slot + 1");
    assert_eq!(u16_at(&blob, MEMDEV + 8), 0, "physical id");
    assert_eq!(u16_at(&blob, MEMDEV + 10), 0, "region id");
    assert_eq!(u16_at(&blob, MEMDEV + 12), 2, "spa index");
    assert_eq!(u16_at(&blob, MEMDEV + 14), 3, "dcr index");
    assert_eq!(u64_at(&blob, MEMDEV + 16), size, "region length");
    assert_eq!(u64_at(&blob, MEMDEV + 24), 0, "region offset");
    assert_eq!(u64_at(&blob, MEMDEV + 32), 0, "region dpa");
    assert_eq!(u16_at(&blob, MEMDEV + 40), 0, "interleave index");
    assert_eq!(u16_at(&blob, MEMDEV + 42), 1, "interleave ways");
    assert_eq!(u16_at(&blob, MEMDEV + 44), 0, "flags: armed");

    // NVDIMM Control Region: type 4, 80 bytes.
    assert_eq!((u16_at(&blob, DCR), u16_at(&blob, DCR + 2)), (4, 80));
    assert_eq!(u16_at(&blob, DCR + 4), 3, "dcr index");
    assert_eq!(u16_at(&blob, DCR + 6), 0x8086, "vendor");
    assert_eq!(u16_at(&blob, DCR + 8), 1, "device");
    assert_eq!(u16_at(&blob, DCR + 10), 1, "revision");
    assert!(blob[DCR + 12..DCR + 24].iter().all(|&b| b == 0));
    assert_eq!(u32_at(&blob, DCR + 24), 0x123456, "serial number");
    assert_eq!(u16_at(&blob, DCR + 28), 0x301, "format interface code");
    assert!(
        blob[DCR + 30..DCR + 80].iter().all(|&b| b == 0),
        "no block windows"
    );

    // Platform Capabilities: type 7, 16 bytes.
    assert_eq!((u16_at(&blob, CAPS), u16_at(&blob, CAPS + 2)), (7, 16));
    assert_eq!(blob[CAPS + 4], 1, "highest capability: 31 - clz(3)");
    assert_eq!(u32_at(&blob, CAPS + 8), 3);
    let adr = tables(base, size, CAPS_MEM_CTRL);
    assert_eq!((adr[CAPS + 4], u32_at(&adr, CAPS + 8)), (1, 2));
}

// ---------------------------------------------------------------- corruption

fn good() -> Vec<u8> {
    tables(NVDIMM_BASE, 64 * MIB, CAPS_CPU)
}

/// Applies `edit` to a good blob, optionally fixing the checksums after.
fn corrupt(fix: bool, edit: impl FnOnce(&mut Vec<u8>)) -> Result<NvdimmInfo, AcpiError> {
    let mut b = good();
    edit(&mut b);
    if fix {
        fix_checksums(&mut b);
    }
    parse(&b)
}

#[test]
fn fix_checksums_is_neutral() {
    assert_eq!(corrupt(true, |_| {}), parse(&good()));
}

#[test]
fn bad_checksums_are_rejected() {
    assert_eq!(
        corrupt(false, |b| b[9] ^= 1),
        Err(AcpiError::RsdpChecksum),
        "first RSDP checksum"
    );
    assert_eq!(
        corrupt(false, |b| b[33] ^= 1),
        Err(AcpiError::RsdpChecksum),
        "extended RSDP checksum"
    );
    assert_eq!(
        corrupt(false, |b| b[XSDT_OFFSET + 10] ^= 1),
        Err(AcpiError::TableChecksum),
        "XSDT"
    );
    assert_eq!(
        corrupt(false, |b| b[SPA + 33] ^= 1),
        Err(AcpiError::TableChecksum),
        "NFIT"
    );
    assert_eq!(
        corrupt(false, |b| b[CAPS + 8] ^= 1),
        Err(AcpiError::TableChecksum),
        "NFIT tail"
    );
}

#[test]
fn bad_signatures_are_rejected() {
    assert_eq!(
        corrupt(true, |b| b[0] = b'X'),
        Err(AcpiError::RsdpSignature)
    );
    assert_eq!(
        corrupt(true, |b| b[XSDT_OFFSET] = b'R'),
        Err(AcpiError::RootSignature)
    );
    assert_eq!(
        corrupt(true, |b| b[NFIT_OFFSET] = b'M'),
        Err(AcpiError::NoNfit)
    );
}

#[test]
fn truncated_tables_are_rejected() {
    let blob = good();
    for len in 0..blob.len() {
        let r = parse(&blob[..len]);
        assert_eq!(r, Err(AcpiError::Unreadable), "cut at {len}");
    }
}

#[test]
fn bad_lengths_are_rejected() {
    // RSDP length shorter than 36, or huge.
    assert_eq!(
        corrupt(true, |b| put32(b, 20, 20)),
        Err(AcpiError::RsdpLength)
    );
    assert_eq!(
        corrupt(true, |b| put32(b, 20, u32::MAX)),
        Err(AcpiError::RsdpLength)
    );
    // XSDT shorter than its header, not a whole number of entries, longer than the memory.
    assert_eq!(
        corrupt(true, |b| put32(b, XSDT_OFFSET + 4, 35)),
        Err(AcpiError::TableLength)
    );
    assert_eq!(
        corrupt(true, |b| put32(b, XSDT_OFFSET + 4, 43)),
        Err(AcpiError::TableLength)
    );
    assert_eq!(
        corrupt(true, |b| put32(b, XSDT_OFFSET + 4, 0x1000)),
        Err(AcpiError::Unreadable)
    );
    // NFIT: shorter than the NFIT header, cutting a structure, past the memory.
    assert_eq!(
        corrupt(true, |b| put32(b, NFIT_OFFSET + 4, 39)),
        Err(AcpiError::TableLength)
    );
    assert_eq!(
        corrupt(true, |b| put32(b, NFIT_OFFSET + 4, 40 + 56 + 10)),
        Err(AcpiError::NfitStructure)
    );
    assert_eq!(
        corrupt(true, |b| put32(b, NFIT_OFFSET + 4, 40 + 2)),
        Err(AcpiError::NfitStructure)
    );
    assert_eq!(
        corrupt(true, |b| put32(b, NFIT_OFFSET + 4, 4096)),
        Err(AcpiError::Unreadable)
    );
    assert_eq!(
        corrupt(true, |b| put32(b, NFIT_OFFSET + 4, u32::MAX)),
        Err(AcpiError::TableLength)
    );
    // An NFIT ending right after its header has no PM range.
    assert_eq!(
        corrupt(true, |b| put32(b, NFIT_OFFSET + 4, 40)),
        Err(AcpiError::NoPmRange)
    );
}

#[test]
fn bad_structures_are_rejected() {
    // A zero-length structure (would loop forever), one overrunning the table.
    assert_eq!(
        corrupt(true, |b| put16(b, MEMDEV + 2, 0)),
        Err(AcpiError::NfitStructure)
    );
    assert_eq!(
        corrupt(true, |b| put16(b, MEMDEV + 2, 3)),
        Err(AcpiError::NfitStructure)
    );
    assert_eq!(
        corrupt(true, |b| put16(b, CAPS + 2, 17)),
        Err(AcpiError::NfitStructure)
    );
    // An SPA range or capabilities structure shorter than its type requires.
    assert_eq!(
        corrupt(true, |b| {
            // Shrink the SPA range to 48 bytes and pad with a reserved type-0xff structure.
            put16(b, SPA + 2, 48);
            put16(b, SPA + 48, 0xff);
            put16(b, SPA + 50, 8);
        }),
        Err(AcpiError::NfitStructure)
    );
    assert_eq!(
        corrupt(true, |b| {
            put16(b, CAPS + 2, 8);
            put16(b, CAPS + 8, 0xff);
            put16(b, CAPS + 10, 8);
        }),
        Err(AcpiError::NfitStructure)
    );
}

#[test]
fn missing_or_bad_pm_range_is_rejected() {
    // Another range type (volatile memory GUID 7305944F-...): no PM range.
    assert_eq!(
        corrupt(true, |b| b[SPA + 16] ^= 0xff),
        Err(AcpiError::NoPmRange)
    );
    assert_eq!(
        corrupt(true, |b| put16(b, SPA, 0x80)),
        Err(AcpiError::NoPmRange),
        "not an SPA"
    );
    assert_eq!(
        corrupt(true, |b| put64(b, SPA + 40, 0)),
        Err(AcpiError::BadPmRange),
        "empty"
    );
    assert_eq!(
        corrupt(true, |b| put64(b, SPA + 32, u64::MAX - 10)),
        Err(AcpiError::BadPmRange),
        "wraps"
    );
}

#[test]
fn pointers_outside_memory_are_rejected() {
    assert_eq!(
        corrupt(true, |b| put64(b, 24, 0)),
        Err(AcpiError::NoRootTable),
        "no XSDT, no RSDT"
    );
    assert_eq!(
        corrupt(true, |b| put64(b, 24, u64::MAX - 3)),
        Err(AcpiError::Unreadable)
    );
    assert_eq!(
        corrupt(true, |b| put64(b, XSDT_OFFSET + 36, 0x1234)),
        Err(AcpiError::Unreadable)
    );
    assert_eq!(parse(&good()[..0]), Err(AcpiError::Unreadable));
    assert_eq!(
        find_nvdimm_in(&good(), ACPI, ACPI + 0x10_0000),
        Err(AcpiError::Unreadable)
    );
    assert_eq!(find_nvdimm_in(&good(), ACPI, 0), Err(AcpiError::Unreadable));
}

#[test]
fn acpi_1_rsdp_uses_the_rsdt() {
    // Rewrite as an ACPI 1.0 RSDP whose RSDT (32-bit entries) is built here.
    let mut b = good();
    let rsdt_off = 0x200;
    b.resize(rsdt_off + 40, 0);
    b[rsdt_off..rsdt_off + 4].copy_from_slice(b"RSDT");
    put32(&mut b, rsdt_off + 4, 40);
    put32(&mut b, rsdt_off + 36, (ACPI + NFIT_OFFSET as u64) as u32);
    b[rsdt_off + 9] = 0u8.wrapping_sub(checksum(&b[rsdt_off..rsdt_off + 40]));
    b[15] = 0;
    put32(&mut b, 16, (ACPI + rsdt_off as u64) as u32);
    fix_checksums(&mut b);
    assert_eq!(parse(&b).unwrap().caps, CAPS_CPU);
    // Revision 2 with a zero XSDT address falls back to the RSDT too.
    b[15] = 2;
    put64(&mut b, 24, 0);
    fix_checksums(&mut b);
    assert_eq!(parse(&b).unwrap().size, 64 * MIB);
}

#[test]
fn capabilities_above_the_highest_valid_bit_are_ignored() {
    let info = corrupt(true, |b| b[CAPS + 4] = 0).unwrap();
    assert_eq!(info.caps, 1);
    assert!(info.eadr());
    let info = corrupt(true, |b| put32(b, CAPS + 8, 0xffff_fff2)).unwrap();
    assert_eq!(info.caps, 2, "highest valid bit 1");
    let info = corrupt(true, |b| {
        b[CAPS + 4] = 200;
        put32(b, CAPS + 8, u32::MAX);
    })
    .unwrap();
    assert_eq!(info.caps, u32::MAX);
}

#[test]
fn the_first_pm_range_wins_and_other_structures_are_skipped() {
    let mut b = good();
    // Turn the control region into an unknown type: still parsed past.
    put16(&mut b, DCR, 0x55);
    fix_checksums(&mut b);
    assert_eq!(parse(&b).unwrap().base, NVDIMM_BASE);
}

#[test]
fn every_error_has_a_message() {
    use AcpiError::*;
    let all = [
        Unreadable,
        RsdpSignature,
        RsdpChecksum,
        RsdpLength,
        NoRootTable,
        RootSignature,
        TableLength,
        TableChecksum,
        NoNfit,
        NfitStructure,
        NoPmRange,
        BadPmRange,
    ];
    for (i, e) in all.iter().enumerate() {
        assert!(!e.message().is_empty());
        assert_eq!(e.to_string(), e.message());
        for other in &all[i + 1..] {
            assert_ne!(e.message(), other.message());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary byte edits, with or without fixed checksums, never panic and
    /// never read outside the blob (the reader would return None).
    #[test]
    fn corrupt_tables_never_panic(
        edits in proptest::collection::vec((0usize..256, any::<u8>()), 1..8),
        fix in any::<bool>(),
        cut in 0usize..300,
    ) {
        let mut b = good();
        for (off, v) in edits {
            let off = off % b.len();
            b[off] = v;
        }
        if fix {
            fix_checksums(&mut b);
        }
        let len = b.len().min(cut.max(1) + 200);
        let r = parse(&b[..len]);
        if let Ok(info) = r {
            prop_assert!(info.size > 0);
            prop_assert!(info.base.checked_add(info.size).is_some());
        }
    }

    /// Any base and size round-trip.
    #[test]
    fn any_region_round_trips(base in 0u64..1 << 63, size in 1u64..1 << 63, cpu in any::<bool>()) {
        let caps = if cpu { CAPS_CPU } else { CAPS_MEM_CTRL };
        let info = parse(&tables(base, size, caps)).unwrap();
        prop_assert_eq!(info, NvdimmInfo { base, size, caps });
    }
}
