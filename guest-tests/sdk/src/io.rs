//! Port I/O to the VMM: port writes and hypercalls through the mailbox.

use pmemvm_abi::{Mailbox, PORT_HYPERCALL, layout};

/// Writes one byte to an I/O port (ring 3 reaches ports below 0x100).
#[inline(always)]
pub fn outb(port: u8, value: u8) {
    // SAFETY: port I/O to the VMM; IOPL=3 allows it from ring 3.
    unsafe {
        core::arch::asm!("out dx, al", in("dx") port as u16, in("al") value, options(nostack, preserves_flags))
    };
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
