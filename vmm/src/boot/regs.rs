//! vCPU registers for long mode in ring 0 at the guest's entry point.

use kvm_bindings::{kvm_fpu, kvm_regs, kvm_segment, kvm_sregs};
use pmemvm_abi::layout;

const CR0_PE: u64 = 1;
const CR0_MP: u64 = 1 << 1;
const CR0_ET: u64 = 1 << 4;
const CR0_NE: u64 = 1 << 5;
const CR0_WP: u64 = 1 << 16;
const CR0_PG: u64 = 1 << 31;
const CR4_PAE: u64 = 1 << 5;
const CR4_OSFXSR: u64 = 1 << 9;
const CR4_OSXMMEXCPT: u64 = 1 << 10;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;

fn segment(selector: u16, type_: u8, l: u8, db: u8) -> kvm_segment {
    kvm_segment {
        base: 0,
        limit: 0xffff_ffff,
        selector,
        type_,
        present: 1,
        dpl: 0,
        db,
        s: 1,
        l,
        g: 1,
        ..Default::default()
    }
}

/// Special registers: flat segments, TSS, GDT/IDT, paging, SSE enabled.
pub fn sregs(mut s: kvm_sregs) -> kvm_sregs {
    s.cs = segment(layout::KERNEL_CS, 0xb, 1, 0);
    let data = segment(layout::KERNEL_DS, 0x3, 0, 1);
    (s.ds, s.es, s.fs, s.gs, s.ss) = (data, data, data, data, data);
    s.tr = kvm_segment {
        base: layout::TSS,
        limit: (super::gdt::TSS_SIZE - 1) as u32,
        selector: layout::TSS_SEL,
        type_: 0xb,
        present: 1,
        ..Default::default()
    };
    s.gdt.base = layout::GDT;
    s.gdt.limit = 7 * 8 - 1;
    s.idt.base = layout::IDT;
    s.idt.limit = 256 * 16 - 1;
    s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
    s.cr3 = layout::PML4;
    s.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    s.efer = EFER_LME | EFER_LMA;
    s
}

/// General registers: the entry point, the ring-0 stack, boot info in `rdi`.
pub fn regs(entry: u64) -> kvm_regs {
    kvm_regs {
        rip: entry,
        rsp: layout::RING0_STACK_TOP,
        rdi: layout::BOOT_INFO,
        rflags: 0x2,
        ..Default::default()
    }
}

/// FPU and SSE control words at their reset values.
pub fn fpu() -> kvm_fpu {
    kvm_fpu {
        fcw: 0x37f,
        mxcsr: 0x1f80,
        ..Default::default()
    }
}
