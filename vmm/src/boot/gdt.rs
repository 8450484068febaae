//! GDT, IDT and TSS in guest memory.

use pmemvm_abi::{VECTORS, layout};

/// Kernel code (64-bit, DPL 0).
pub const KERNEL_CODE: u64 = 0x00af_9b00_0000_ffff;
/// Kernel data (DPL 0).
pub const KERNEL_DATA: u64 = 0x00cf_9300_0000_ffff;
/// User data (DPL 3).
pub const USER_DATA: u64 = 0x00cf_f300_0000_ffff;
/// User code (64-bit, DPL 3).
pub const USER_CODE: u64 = 0x00af_fb00_0000_ffff;
/// Size of the 64-bit TSS proper.
const TSS_BASE_SIZE: u64 = 104;
/// Ports the guest's ring 3 may use: those below 0x100 (one bit each).
const IO_BITMAP_BYTES: u64 = 0x100 / 8;
/// Size of the TSS with its I/O permission bitmap and terminating byte.
pub const TSS_SIZE: u64 = TSS_BASE_SIZE + IO_BITMAP_BYTES + 1;

/// The GDT: null, kernel code and data, user data and code, then the
/// 16-byte TSS descriptor (selectors as in [`pmemvm_abi::layout`]).
pub fn gdt() -> [u64; 7] {
    let (lo, hi) = tss_descriptor(layout::TSS, TSS_SIZE - 1);
    [0, KERNEL_CODE, KERNEL_DATA, USER_DATA, USER_CODE, lo, hi]
}

/// The two words of an available 64-bit TSS descriptor.
pub fn tss_descriptor(base: u64, limit: u64) -> (u64, u64) {
    let lo = (limit & 0xffff)
        | ((base & 0xff_ffff) << 16)
        | (0x89 << 40)
        | (((limit >> 16) & 0xf) << 48)
        | (((base >> 24) & 0xff) << 56);
    (lo, base >> 32)
}

/// An interrupt gate to `handler` in the kernel code segment.
pub fn idt_gate(handler: u64) -> [u64; 2] {
    let lo = (handler & 0xffff)
        | (u64::from(layout::KERNEL_CS) << 16)
        | (0x8e << 40)
        | (((handler >> 16) & 0xffff) << 48);
    [lo, handler >> 32]
}

/// The IDT: the guest's stubs for the first [`VECTORS`] vectors.
pub fn idt(vectors: &[u64; VECTORS]) -> Vec<u8> {
    vectors
        .iter()
        .flat_map(|&h| idt_gate(h))
        .flat_map(u64::to_le_bytes)
        .collect()
}

/// The TSS: `rsp0` (exceptions from ring 3 switch to it) and an I/O
/// permission bitmap granting ring 3 the ports below 0x100 (PVM ignores
/// IOPL, measured: an `out` from ring 3 with IOPL 3 raised #GP).
pub fn tss() -> [u8; TSS_SIZE as usize] {
    let mut t = [0u8; TSS_SIZE as usize];
    t[4..12].copy_from_slice(&layout::RING0_STACK_TOP.to_le_bytes());
    t[102..104].copy_from_slice(&(TSS_BASE_SIZE as u16).to_le_bytes());
    t[TSS_SIZE as usize - 1] = 0xff;
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_match_the_architecture() {
        let (lo, hi) = tss_descriptor(0x3000, 103);
        assert_eq!(lo, 0x0000_8900_3000_0067);
        assert_eq!(tss()[TSS_SIZE as usize - 1], 0xff, "bitmap terminator");
        assert_eq!(hi, 0);
        let g = idt_gate(0x1234_5678_9abc);
        assert_eq!(g[0], 0x5678_8e00_0008_9abc);
        assert_eq!(g[1], 0x1234);
        assert_eq!(gdt()[4] >> 40 & 0xff, 0xfb, "user code is DPL 3");
    }
}
