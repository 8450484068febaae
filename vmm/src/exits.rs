//! The vCPU loop: run until the guest exits, faults or times out.

use crate::devices::Devices;
use crate::error::VmmError;
use crate::nvdimm::Flow;
use crate::vm::Vm;
use crate::watchdog::Watchdog;
use kvm_ioctls::VcpuExit;
use pmemvm_abi::{PORT_DEBUGCON, PORT_EXIT, PORT_FAULT, PORT_HYPERCALL, PORT_PMEM_DOORBELL, fault};

/// How a run ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// The guest wrote its exit status.
    Exit(u32),
    /// The crash point was reached and the power cut.
    PowerFail,
    /// Verify mode reached its snapshot point (call `run` again to go on).
    Snapshot,
}

/// What an exit asks the loop to do next (its data copied out of `kvm_run`).
enum Next {
    Continue,
    /// A port write with no other effect (a drain point under eADR).
    Io {
        port: u16,
        doorbell: bool,
    },
    /// A store to the read-only NVDIMM slot.
    Store {
        gpa: u64,
        data: [u8; 8],
        len: usize,
    },
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
    /// Stores to the NVDIMM.
    pub stores: u64,
}

/// Runs the vCPU until the guest writes its exit status.
pub fn run(
    vm: &mut Vm,
    devices: &mut Devices,
    watchdog: &Watchdog,
    timeout_secs: u64,
    stats: &mut ExitStats,
    on_exit: &mut dyn FnMut(),
) -> Result<RunEnd, VmmError> {
    loop {
        let result = vm.vcpu().run();
        on_exit();
        let next = match result {
            Ok(exit) => classify(exit, devices)?,
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                stopped(vm, watchdog, timeout_secs)?;
                Next::Continue
            }
            Err(e) if e.errno() == libc::ENOSYS => {
                Next::Unexpected(format!("KVM could not emulate an instruction ({e})"))
            }
            Err(e) => {
                return Err(VmmError::Kvm {
                    op: "run",
                    error: e,
                });
            }
        };
        stats.exits += 1;
        if devices.nvdimm.drain_ring(vm)? == Flow::PowerFail {
            return Ok(RunEnd::PowerFail);
        }
        let flow = match next {
            Next::Continue => Flow::Continue,
            Next::Io { port, doorbell } => devices.nvdimm.io(port, doorbell)?,
            Next::Store { gpa, data, len } => {
                stats.stores += 1;
                let rip = vm.rip()?;
                devices.nvdimm.store(gpa, &data[..len], rip)?
            }
            Next::Hypercall => {
                stats.hypercalls += 1;
                devices.hypercall(vm)?
            }
            Next::Exit(status) => {
                return Ok(match devices.nvdimm.end_exit()? {
                    Flow::PowerFail => RunEnd::PowerFail,
                    _ => RunEnd::Exit(status),
                });
            }
            Next::Fault => return Err(guest_exception(vm)),
            Next::Unexpected(reason) => {
                return Err(VmmError::UnexpectedExit {
                    reason,
                    dump: Box::new(vm.dump()),
                });
            }
        };
        let flow = match flow {
            Flow::Continue => devices.nvdimm.end_exit()?,
            other => other,
        };
        match flow {
            Flow::Continue => {}
            Flow::PowerFail => return Ok(RunEnd::PowerFail),
            Flow::Snapshot => return Ok(RunEnd::Snapshot),
        }
        stopped(vm, watchdog, timeout_secs)?;
    }
}

/// The error that ends a run the watchdog stopped: Ctrl-C, or the time
/// limit.
fn stopped(vm: &mut Vm, watchdog: &Watchdog, timeout_secs: u64) -> Result<(), VmmError> {
    if watchdog.interrupted() {
        return Err(VmmError::Interrupted("while the guest ran"));
    }
    if watchdog.fired() {
        return Err(VmmError::Timeout {
            secs: timeout_secs,
            dump: Box::new(vm.dump()),
        });
    }
    Ok(())
}

/// Decides what an exit means; copies out what it needs from the exit data.
fn classify(exit: VcpuExit, devices: &mut Devices) -> Result<Next, VmmError> {
    let nvdimm = devices.nvdimm.base()..devices.nvdimm.base() + devices.nvdimm.size();
    Ok(match exit {
        VcpuExit::IoOut(PORT_DEBUGCON, data) => {
            devices.console.write_all(data).map_err(VmmError::Console)?;
            Next::Io {
                port: PORT_DEBUGCON,
                doorbell: false,
            }
        }
        VcpuExit::IoOut(PORT_PMEM_DOORBELL, _) => Next::Io {
            port: PORT_PMEM_DOORBELL,
            doorbell: true,
        },
        VcpuExit::MmioWrite(gpa, data) if nvdimm.contains(&gpa) && data.len() <= 8 => {
            let mut buf = [0u8; 8];
            buf[..data.len()].copy_from_slice(data);
            Next::Store {
                gpa,
                data: buf,
                len: data.len(),
            }
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
