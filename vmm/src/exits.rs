//! The vCPU loop: run until the guest exits, faults or times out.

use crate::error::VmmError;
use crate::hypercall::Hypercalls;
use crate::vm::Vm;
use crate::watchdog::Watchdog;
use kvm_ioctls::VcpuExit;
use pmemvm_abi::{PORT_DEBUGCON, PORT_EXIT, PORT_FAULT, PORT_HYPERCALL, fault};

/// What a handled exit asks the loop to do next.
enum Next {
    Continue,
    Hypercall,
    Exit(u32),
    Fault,
    Unexpected(String),
}

/// Counters of one run.
#[derive(Debug, Default, Clone, Copy)]
pub struct ExitStats {
    /// All exits.
    pub exits: u64,
    /// Hypercalls.
    pub hypercalls: u64,
}

/// Runs the vCPU until the guest writes its exit status.
pub fn run(
    vm: &mut Vm,
    calls: &mut Hypercalls,
    watchdog: &Watchdog,
    timeout_secs: u64,
    stats: &mut ExitStats,
    on_exit: &mut dyn FnMut(),
) -> Result<u32, VmmError> {
    loop {
        let result = vm.vcpu().run();
        on_exit();
        let next = match result {
            Ok(exit) => classify(exit, calls)?,
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                if watchdog.fired() {
                    return Err(VmmError::Timeout {
                        secs: timeout_secs,
                        dump: Box::new(vm.dump()),
                    });
                }
                Next::Continue
            }
            Err(e) if e.errno() == libc::ENOSYS => {
                Next::Unexpected(format!("KVM could not emulate an instruction ({e})"))
            }
            Err(e) => {
                return Err(VmmError::Kvm {
                    op: "run",
                    source: e,
                });
            }
        };
        stats.exits += 1;
        match next {
            Next::Continue => {}
            Next::Hypercall => {
                stats.hypercalls += 1;
                calls.handle(vm)?;
            }
            Next::Exit(status) => return Ok(status),
            Next::Fault => return Err(guest_exception(vm)),
            Next::Unexpected(reason) => {
                return Err(VmmError::UnexpectedExit {
                    reason,
                    dump: Box::new(vm.dump()),
                });
            }
        }
        if watchdog.fired() {
            return Err(VmmError::Timeout {
                secs: timeout_secs,
                dump: Box::new(vm.dump()),
            });
        }
    }
}

/// Decides what an exit means; copies out what it needs from the exit data.
fn classify(exit: VcpuExit, calls: &mut Hypercalls) -> Result<Next, VmmError> {
    Ok(match exit {
        VcpuExit::IoOut(PORT_DEBUGCON, data) => {
            calls.console.write_all(data).map_err(VmmError::Console)?;
            Next::Continue
        }
        VcpuExit::IoOut(PORT_EXIT, data) => {
            let mut b = [0u8; 4];
            let n = data.len().min(4);
            b[..n].copy_from_slice(&data[..n]);
            Next::Exit(u32::from_le_bytes(b))
        }
        VcpuExit::IoOut(PORT_HYPERCALL, _) => Next::Hypercall,
        VcpuExit::IoOut(PORT_FAULT, _) => Next::Fault,
        VcpuExit::IoOut(port, data) => Next::Unexpected(format!(
            "write of {} bytes to unknown I/O port {port:#x}",
            data.len()
        )),
        VcpuExit::IoIn(port, data) => Next::Unexpected(format!(
            "read of {} bytes from unknown I/O port {port:#x}",
            data.len()
        )),
        VcpuExit::MmioWrite(addr, data) => Next::Unexpected(format!(
            "write of {} bytes to unmapped guest-physical address {addr:#x}",
            data.len()
        )),
        VcpuExit::MmioRead(addr, data) => Next::Unexpected(format!(
            "read of {} bytes from unmapped guest-physical address {addr:#x}",
            data.len()
        )),
        VcpuExit::Shutdown => Next::Unexpected(
            "shutdown (triple fault: an exception while delivering an exception)".into(),
        ),
        VcpuExit::Hlt => Next::Unexpected("the guest halted without writing an exit status".into()),
        VcpuExit::InternalError => {
            Next::Unexpected("KVM internal error (emulation failure)".into())
        }
        VcpuExit::FailEntry(reason, cpu) => Next::Unexpected(format!(
            "VM entry failed (hardware reason {reason:#x}, cpu {cpu})"
        )),
        other => Next::Unexpected(format!("{other:?}")),
    })
}

/// Names of the architectural exception vectors.
fn vector_name(v: u8) -> &'static str {
    const NAMES: [&str; 32] = [
        "#DE divide error",
        "#DB debug",
        "NMI",
        "#BP breakpoint",
        "#OF overflow",
        "#BR bound range",
        "#UD invalid opcode",
        "#NM device not available",
        "#DF double fault",
        "coprocessor segment overrun",
        "#TS invalid TSS",
        "#NP segment not present",
        "#SS stack fault",
        "#GP general protection",
        "#PF page fault",
        "reserved",
        "#MF x87 error",
        "#AC alignment check",
        "#MC machine check",
        "#XM SIMD exception",
        "#VE virtualization exception",
        "#CP control protection",
        "reserved",
        "reserved",
        "reserved",
        "reserved",
        "reserved",
        "reserved",
        "#HV hypervisor injection",
        "#VC VMM communication",
        "#SX security exception",
        "reserved",
    ];
    NAMES
        .get(usize::from(v))
        .copied()
        .unwrap_or("unknown vector")
}

/// Reads the report the guest's fault stub left in registers.
fn guest_exception(vm: &mut Vm) -> VmmError {
    let mut dump = vm.dump();
    let r = dump.regs;
    let vector = (r.rdi & 0xff) as u8;
    let mut description = vector_name(vector).to_string();
    if r.rdi & fault::NESTED != 0 {
        description.push_str(" inside the same task's page-fault handler (nested fault)");
    }
    if r.rdi & fault::NO_HANDLER != 0 {
        description.push_str(" with no page-fault handler registered");
    }
    if r.rdi & fault::BAD_SYSCALL != 0 {
        description = format!(
            "unknown system call {} (ud2 with that number in RAX)",
            r.rax
        );
    }
    // Show the faulting instruction, not the stub that reported it (RDI,
    // RSI, RDX, RCX, R8 and R9 hold the report itself).
    dump.regs.rip = r.rdx;
    dump.regs.rsp = r.r8;
    dump.regs.rflags = r.r9;
    dump.code = (0..16u64)
        .map_while(|i| vm.read(r.rdx + i, 1).map(|b| b[0]))
        .collect();
    dump.cpl = 3;
    VmmError::GuestException {
        vector,
        description,
        error_code: r.rsi,
        cr2: r.rcx,
        dump: Box::new(dump),
    }
}
