//! Everything the guest finds at its first instruction: descriptor tables,
//! identity-mapped page tables, the boot-info block and the vCPU registers
//! of 64-bit long mode in ring 0.
//!
//! Ring-0 guest code is emulated under PVM (about 600 ns an instruction), so
//! the VMM builds all of this and the guest only drops to ring 3.

pub mod gdt;
pub mod paging;
pub mod regs;
