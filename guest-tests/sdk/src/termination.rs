//! The termination of a run: an exit, or an exception the guest cannot
//! handle; both flush the console first.

use pmemvm_abi::{PORT_EXIT, PORT_FAULT};

/// Ends the run with `status`.
pub fn exit(status: u32) -> ! {
    crate::console::flush();
    // SAFETY: port I/O to the VMM, which ends the run.
    unsafe {
        core::arch::asm!("out dx, eax", in("dx") PORT_EXIT, in("eax") status, options(nostack));
    }
    loop {
        core::hint::spin_loop();
    }
}

/// Reports an exception the guest cannot handle; the VMM ends the run.
pub fn report_fault(vector: u64, err: u64, rip: u64, cr2: u64, rsp: u64) -> ! {
    crate::console::flush();
    // SAFETY: port I/O to the VMM, which reads the registers and ends the run.
    unsafe {
        core::arch::asm!(
            "out {port}, al",
            port = const PORT_FAULT,
            in("rdi") vector,
            in("rsi") err,
            in("rdx") rip,
            in("rcx") cr2,
            in("r8") rsp,
            options(nostack),
        );
    }
    loop {
        core::hint::spin_loop();
    }
}
