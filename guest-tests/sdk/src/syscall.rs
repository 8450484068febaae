//! System calls: `ud2` with the number in `rax`, handled by the ring-0 `#UD` stub.

use pmemvm_abi::syscall;

#[inline(always)]
fn ud2(nr: u64, arg: u64) {
    // SAFETY: the ring-0 #UD stub performs the request and returns past ud2;
    // it changes no register.
    unsafe { core::arch::asm!("ud2", in("rax") nr, in("rdi") arg, options(nostack)) };
}

/// Invalidates the TLB entry of `addr`.
pub fn invlpg(addr: u64) {
    ud2(syscall::INVLPG, addr);
}

/// Loads CR3 (and so flushes the whole TLB).
pub fn write_cr3(pml4: u64) {
    ud2(syscall::WRITE_CR3, pml4);
}
