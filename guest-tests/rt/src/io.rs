//! Port I/O to the VMM: exit, hypercalls, fault reports.

use pmemvm_abi::{Mailbox, PORT_EXIT, PORT_FAULT, PORT_HYPERCALL, layout};

/// Writes one byte to an I/O port (ring 3 reaches ports below 0x100).
#[inline(always)]
pub fn outb(port: u8, value: u8) {
    // SAFETY: port I/O to the VMM; IOPL=3 allows it from ring 3.
    unsafe {
        core::arch::asm!("out dx, al", in("dx") port as u16, in("al") value, options(nostack, preserves_flags))
    };
}

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

/// Makes a hypercall through the mailbox; returns the VMM's result code.
pub fn hypercall(nr: u64, args: &[u64]) -> u64 {
    let mailbox = layout::MAILBOX as *mut Mailbox;
    let mut mb = Mailbox {
        nr,
        ..Mailbox::default()
    };
    let n = args.len().min(mb.args.len());
    mb.args[..n].copy_from_slice(&args[..n]);
    // SAFETY: the mailbox page is identity-mapped guest RAM reserved by the ABI.
    unsafe { mailbox.write_volatile(mb) };
    outb(PORT_HYPERCALL as u8, 0);
    // SAFETY: as above; the VMM wrote the result before resuming us.
    unsafe { (*mailbox).ret }
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
