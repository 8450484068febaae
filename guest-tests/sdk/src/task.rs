//! Cooperative tasks, each with its own stack and its own page-fault context.
//!
//! The main flow of the guest drives tasks with [`Task::resume`]; a task runs
//! until it calls [`yield_now`] (with a tag naming where it stopped, e.g. a
//! yield point) or finishes. A task may yield from inside its page-fault
//! handler: its fault context stays active while others run and fault.

use crate::fault::FaultSlot;
use crate::global::Global;
use alloc::boxed::Box;
use alloc::vec::Vec;

/// Size of a task's stack.
pub const STACK_SIZE: usize = 128 * 1024;

/// Where a task stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not started yet.
    Ready,
    /// Stopped at `yield_now(tag)`.
    Yielded(u64),
    /// Returned from its function.
    Finished,
}

struct Inner {
    rsp: u64,
    status: Status,
    entry: Option<Box<dyn FnOnce()>>,
    fault: FaultSlot,
    _stack: Vec<u8>,
}

/// A cooperative task.
pub struct Task {
    inner: Box<Inner>,
}

struct Scheduler {
    main_rsp: u64,
    current: *mut Inner,
    main_fault: Option<FaultSlot>,
}

static SCHED: Global<Scheduler> = Global::new(Scheduler {
    main_rsp: 0,
    current: core::ptr::null_mut(),
    main_fault: None,
});

fn sched() -> &'static mut Scheduler {
    // SAFETY: single vCPU, cooperative scheduling: one user at a time.
    unsafe { &mut *SCHED.get() }
}

/// Gives the main flow its fault context (called once at start-up).
pub(crate) fn init() {
    let s = sched();
    let slot = s.main_fault.insert(FaultSlot::new());
    slot.activate();
}

#[cfg(not(test))]
unsafe extern "C" {
    fn __pmemvm_switch(save: *mut u64, to: u64);
    fn __pmemvm_task_start();
}

#[cfg(not(test))]
core::arch::global_asm!(
    ".text",
    ".global __pmemvm_switch",
    "__pmemvm_switch:",
    "  push rbp",
    "  push rbx",
    "  push r12",
    "  push r13",
    "  push r14",
    "  push r15",
    "  mov [rdi], rsp",
    "  mov rsp, rsi",
    "  pop r15",
    "  pop r14",
    "  pop r13",
    "  pop r12",
    "  pop rbx",
    "  pop rbp",
    "  ret",
    ".global __pmemvm_task_start",
    "__pmemvm_task_start:",
    "  mov rdi, r12",
    "  call {main}",
    "  ud2",
    main = sym task_main,
);

#[cfg(not(test))]
extern "C" fn task_main(inner: *mut Inner) {
    // SAFETY: `resume` passes the task being started; it stays alive while running.
    let inner = unsafe { &mut *inner };
    if let Some(entry) = inner.entry.take() {
        entry();
    }
    inner.status = Status::Finished;
    switch_to_main(inner);
}

fn switch_to_main(inner: &mut Inner) {
    let s = sched();
    #[cfg(not(test))]
    // SAFETY: switches back to the stack saved by `resume`.
    unsafe {
        __pmemvm_switch(&mut inner.rsp, s.main_rsp)
    };
    #[cfg(test)]
    let _ = (inner, s);
}

impl Task {
    /// A task that will run `f` on its own stack.
    pub fn new(f: impl FnOnce() + 'static) -> Task {
        let stack = alloc::vec![0u8; STACK_SIZE];
        let top = (stack.as_ptr() as u64 + STACK_SIZE as u64) & !15;
        let mut inner = Box::new(Inner {
            rsp: 0,
            status: Status::Ready,
            entry: Some(Box::new(f)),
            fault: FaultSlot::new(),
            _stack: stack,
        });
        let frame = (top - 56) as *mut u64;
        #[cfg(not(test))]
        let start = __pmemvm_task_start as *const () as u64;
        #[cfg(test)]
        let start = 0;
        let me: *mut Inner = &mut *inner;
        // Popped by __pmemvm_switch: r15, r14, r13, r12 (= the task), rbx,
        // rbp; then `ret` to the start stub with RSP at the 16-aligned top.
        let init = [0, 0, 0, me as u64, 0, 0, start];
        for (i, v) in init.iter().enumerate() {
            // SAFETY: the frame lies in the task's fresh stack.
            unsafe { frame.add(i).write(*v) };
        }
        inner.rsp = frame as u64;
        Task { inner }
    }

    /// Runs the task until it yields or finishes. Must be called from the main flow.
    pub fn resume(&mut self) -> Status {
        if self.inner.status == Status::Finished {
            return Status::Finished;
        }
        let s = sched();
        assert!(
            s.current.is_null(),
            "Task::resume called from inside a task"
        );
        s.current = &mut *self.inner;
        self.inner.fault.activate();
        #[cfg(not(test))]
        // SAFETY: switches to the task's saved stack; it switches back to
        // `main_rsp` when it yields or finishes.
        unsafe {
            __pmemvm_switch(&mut s.main_rsp, self.inner.rsp)
        };
        s.current = core::ptr::null_mut();
        if let Some(slot) = s.main_fault.as_mut() {
            slot.activate();
        }
        self.inner.status
    }

    /// Where the task stopped last.
    pub fn status(&self) -> Status {
        self.inner.status
    }

    /// True while the task is suspended inside its page-fault handler.
    pub fn in_fault_handler(&self) -> bool {
        self.inner.fault.in_handler()
    }
}

/// Suspends the running task with `tag`; returns when it is resumed.
/// From the main flow (no task running) it does nothing.
pub fn yield_now(tag: u64) {
    let s = sched();
    if s.current.is_null() {
        return;
    }
    // SAFETY: `current` is the running task, alive while it runs.
    let inner = unsafe { &mut *s.current };
    inner.status = Status::Yielded(tag);
    switch_to_main(inner);
}

/// True when called from inside a task.
pub fn in_task() -> bool {
    !sched().current.is_null()
}
