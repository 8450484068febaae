//! Page faults handed up to a Rust handler in ring 3.
//!
//! The ring-0 `#PF` stub saves the faulting RIP, RSP, RFLAGS, RAX, RBX, error
//! code and CR2 in the current task's [`FaultCtx`] and "returns" to
//! [`trampoline`](self) on that task's handler stack. The trampoline (ring 3)
//! saves the other registers and the SSE state (`fxsave64`: the Rust handler
//! clobbers SSE registers and ring 0 cannot save them under PVM), calls the
//! registered handler, restores everything and resumes the faulting
//! instruction itself, without another trip through ring 0: it parks RAX,
//! RBX, RFLAGS and RIP just below the faulting stack's red zone, switches to
//! that stack and ends with `popfq; ret 128`.
//!
//! Each task has its own context and handler stack, so a task may be
//! suspended inside its handler while another task runs and faults; a fault
//! inside the handler of the *same* task is a nested fault, which the ring-0
//! stub reports as fatal instead of hanging.

use crate::global::Global;

/// Offsets of the [`FaultCtx`] fields, used by the assembly stubs.
pub const CTX_ACTIVE: usize = 0;
/// Offset of `handler_rip`.
pub const CTX_HANDLER_RIP: usize = 8;
/// Offset of `handler_rsp`.
pub const CTX_HANDLER_RSP: usize = 16;
/// Offset of `rip`.
pub const CTX_RIP: usize = 24;
/// Offset of `rsp`.
pub const CTX_RSP: usize = 32;
/// Offset of `rflags`.
pub const CTX_RFLAGS: usize = 40;
/// Offset of `err`.
pub const CTX_ERR: usize = 48;
/// Offset of `cr2`.
pub const CTX_CR2: usize = 56;
/// Offset of `rax`.
pub const CTX_RAX: usize = 64;
/// Offset of `rbx`.
pub const CTX_RBX: usize = 72;
/// Offset of the `fxsave64` area.
pub const CTX_FX: usize = 80;

/// Size of a handler stack.
pub const HANDLER_STACK_SIZE: usize = 64 * 1024;

/// The saved state of a task's page fault, and where its handler runs.
#[repr(C, align(16))]
pub struct FaultCtx {
    /// Non-zero while the task is inside its fault handler.
    pub active: u64,
    /// Where ring 0 sends the task: the trampoline.
    pub handler_rip: u64,
    /// Top of the task's handler stack.
    pub handler_rsp: u64,
    /// Faulting instruction.
    pub rip: u64,
    /// Stack pointer at the fault.
    pub rsp: u64,
    /// Flags at the fault.
    pub rflags: u64,
    /// Page-fault error code.
    pub err: u64,
    /// Faulting address.
    pub cr2: u64,
    /// RAX at the fault.
    pub rax: u64,
    /// RBX at the fault.
    pub rbx: u64,
    /// `fxsave64` area of the interrupted code.
    pub fx: [u8; 512],
}

const _: () = {
    assert!(core::mem::offset_of!(FaultCtx, active) == CTX_ACTIVE);
    assert!(core::mem::offset_of!(FaultCtx, handler_rip) == CTX_HANDLER_RIP);
    assert!(core::mem::offset_of!(FaultCtx, handler_rsp) == CTX_HANDLER_RSP);
    assert!(core::mem::offset_of!(FaultCtx, rip) == CTX_RIP);
    assert!(core::mem::offset_of!(FaultCtx, rsp) == CTX_RSP);
    assert!(core::mem::offset_of!(FaultCtx, rflags) == CTX_RFLAGS);
    assert!(core::mem::offset_of!(FaultCtx, err) == CTX_ERR);
    assert!(core::mem::offset_of!(FaultCtx, cr2) == CTX_CR2);
    assert!(core::mem::offset_of!(FaultCtx, rax) == CTX_RAX);
    assert!(core::mem::offset_of!(FaultCtx, rbx) == CTX_RBX);
    assert!(core::mem::offset_of!(FaultCtx, fx) == CTX_FX);
};

/// What the handler learns about a fault.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    /// The faulting address (CR2).
    pub addr: u64,
    /// The page-fault error code.
    pub err: u64,
    /// The faulting instruction.
    pub rip: u64,
}

impl Fault {
    /// The access was a write.
    pub fn is_write(&self) -> bool {
        self.err & 2 != 0
    }

    /// The page was present (a protection fault, e.g. a write to a read-only PTE).
    pub fn is_protection(&self) -> bool {
        self.err & 1 != 0
    }
}

/// A page-fault handler: returns false when it cannot resolve the fault.
pub type Handler = fn(&Fault) -> bool;

/// The context of the running task; read by the ring-0 stub.
#[unsafe(no_mangle)]
pub static CURRENT_CTX: Global<*mut FaultCtx> = Global::new(core::ptr::null_mut());

static HANDLER: Global<Option<Handler>> = Global::new(None);

/// Registers the page-fault handler of the whole guest.
pub fn set_handler(handler: Handler) {
    // SAFETY: single vCPU, no concurrent access (see `Global`).
    unsafe { *HANDLER.get() = Some(handler) };
}

/// A fault context with its handler stack, owned by a task.
pub struct FaultSlot {
    ctx: alloc::boxed::Box<FaultCtx>,
    _stack: alloc::vec::Vec<u8>,
}

impl FaultSlot {
    /// A context whose handler runs on a fresh stack.
    pub fn new() -> FaultSlot {
        let stack = alloc::vec![0u8; HANDLER_STACK_SIZE];
        let top = (stack.as_ptr() as u64 + HANDLER_STACK_SIZE as u64) & !15;
        let ctx = alloc::boxed::Box::new(FaultCtx {
            active: 0,
            handler_rip: trampoline_address(),
            handler_rsp: top,
            rip: 0,
            rsp: 0,
            rflags: 0,
            err: 0,
            cr2: 0,
            rax: 0,
            rbx: 0,
            fx: [0; 512],
        });
        FaultSlot { ctx, _stack: stack }
    }

    /// Makes this the context the ring-0 stub uses for the next fault.
    pub fn activate(&mut self) {
        // SAFETY: single vCPU; the box outlives its use as the current
        // context because tasks deactivate it before dropping it.
        unsafe { *CURRENT_CTX.get() = &mut *self.ctx };
    }

    /// True while the owning task is inside its fault handler.
    pub fn in_handler(&self) -> bool {
        self.ctx.active != 0
    }
}

impl Default for FaultSlot {
    fn default() -> Self {
        Self::new()
    }
}

fn trampoline_address() -> u64 {
    #[cfg(not(test))]
    {
        unsafe extern "C" {
            fn __pmemvm_pf_trampoline();
        }
        __pmemvm_pf_trampoline as *const () as u64
    }
    #[cfg(test)]
    0
}

/// Called by the trampoline with the current context.
#[cfg(not(test))]
extern "C" fn dispatch(ctx: *mut FaultCtx) {
    // SAFETY: the trampoline passes the context ring 0 just filled.
    let ctx = unsafe { &*ctx };
    let fault = Fault {
        addr: ctx.cr2,
        err: ctx.err,
        rip: ctx.rip,
    };
    // SAFETY: single vCPU, no concurrent access (see `Global`).
    let handler = unsafe { *HANDLER.get() };
    if !handler.is_some_and(|h| h(&fault)) {
        crate::termination::report_fault(14, fault.err, fault.rip, fault.addr, ctx.rsp);
    }
}

#[cfg(not(test))]
core::arch::global_asm!(
    ".text",
    ".global __pmemvm_pf_trampoline",
    "__pmemvm_pf_trampoline:",
    "  mov rbx, [rip + {cur}]",
    "  push rcx",
    "  push rdx",
    "  push rsi",
    "  push rdi",
    "  push rbp",
    "  push r8",
    "  push r9",
    "  push r10",
    "  push r11",
    "  push r12",
    "  push r13",
    "  push r14",
    "  push r15",
    "  sub rsp, 8",
    "  fxsave64 [rbx + {fx}]",
    "  mov rdi, rbx",
    "  call {dispatch}",
    "  fxrstor64 [rbx + {fx}]",
    "  add rsp, 8",
    "  pop r15",
    "  pop r14",
    "  pop r13",
    "  pop r12",
    "  pop r11",
    "  pop r10",
    "  pop r9",
    "  pop r8",
    "  pop rbp",
    "  pop rdi",
    "  pop rsi",
    "  pop rdx",
    "  pop rcx",
    // Park rax, rbx, rflags, rip at rsp-160.. (below the 128-byte red zone).
    "  mov rax, [rbx + {rsp}]",
    "  sub rax, 160",
    "  push qword ptr [rbx + {rip}]",
    "  pop qword ptr [rax + 24]",
    "  push qword ptr [rbx + {rflags}]",
    "  pop qword ptr [rax + 16]",
    "  push qword ptr [rbx + {rbx}]",
    "  pop qword ptr [rax + 8]",
    "  push qword ptr [rbx + {rax}]",
    "  pop qword ptr [rax]",
    "  mov qword ptr [rbx + {active}], 0",
    "  mov rsp, rax",
    "  pop rax",
    "  pop rbx",
    "  popfq",
    "  ret 128",
    cur = sym CURRENT_CTX,
    fx = const CTX_FX,
    dispatch = sym dispatch,
    rsp = const CTX_RSP,
    rip = const CTX_RIP,
    rflags = const CTX_RFLAGS,
    rbx = const CTX_RBX,
    rax = const CTX_RAX,
    active = const CTX_ACTIVE,
);
