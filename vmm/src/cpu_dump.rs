//! What the VMM shows about a vCPU when a run goes wrong: RIP, the
//! instruction bytes there and the general registers.

use kvm_bindings::kvm_regs;
use std::fmt;

/// A snapshot of a vCPU for error messages.
#[derive(Debug, Clone, Default)]
pub struct CpuDump {
    /// The general registers (`rip` included).
    pub regs: kvm_regs,
    /// Up to 16 instruction bytes at RIP (empty when RIP is unmapped).
    pub code: Vec<u8>,
    /// Current privilege level (from CS).
    pub cpl: u8,
}

impl fmt::Display for CpuDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.regs;
        write!(f, "  RIP {:#018x} (ring {}) code:", r.rip, self.cpl)?;
        if self.code.is_empty() {
            write!(f, " (not readable)")?;
        }
        for b in &self.code {
            write!(f, " {b:02x}")?;
        }
        writeln!(f)?;
        let rows = [
            [
                ("RAX", r.rax),
                ("RBX", r.rbx),
                ("RCX", r.rcx),
                ("RDX", r.rdx),
            ],
            [
                ("RSI", r.rsi),
                ("RDI", r.rdi),
                ("RBP", r.rbp),
                ("RSP", r.rsp),
            ],
            [("R8 ", r.r8), ("R9 ", r.r9), ("R10", r.r10), ("R11", r.r11)],
            [
                ("R12", r.r12),
                ("R13", r.r13),
                ("R14", r.r14),
                ("R15", r.r15),
            ],
        ];
        for row in rows {
            write!(f, " ")?;
            for (name, v) in row {
                write!(f, " {name} {v:#018x}")?;
            }
            writeln!(f)?;
        }
        write!(f, "  RFLAGS {:#x}", r.rflags)
    }
}
