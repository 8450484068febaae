//! Cooperative tasks and yield points for C (`pmemvm.h`): the Rust SDK's
//! [`Task`], each with its own stack; the main flow resumes them in the
//! order it chooses, so a race is a deterministic schedule.

use alloc::boxed::Box;
use core::ffi::{c_int, c_void};
use pmemvm_sdk::task::{Status, Task, yield_now};

/// `struct pmemvm_task` (opaque to C).
pub struct CTask(Task);

/// A task that will run `f(arg)` on its own stack.
#[unsafe(no_mangle)]
pub extern "C" fn pmemvm_task_new(f: extern "C" fn(*mut c_void), arg: *mut c_void) -> *mut CTask {
    Box::into_raw(Box::new(CTask(Task::new(move || f(arg)))))
}

/// Runs the task until it yields (returns 1, and the tag in `*tag` when
/// `tag` is not null) or finishes (returns 0). From the main flow only.
///
/// # Safety
/// `t` from [`pmemvm_task_new`], not freed; `tag` null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmemvm_task_resume(t: *mut CTask, tag: *mut u64) -> c_int {
    // SAFETY: the caller guarantees `t`.
    match unsafe { &mut *t }.0.resume() {
        Status::Yielded(at) => {
            if !tag.is_null() {
                // SAFETY: the caller guarantees `tag`.
                unsafe { *tag = at };
            }
            1
        }
        Status::Ready | Status::Finished => 0,
    }
}

/// Frees a task (finished, or never to be resumed again).
///
/// # Safety
/// `t` from [`pmemvm_task_new`], not freed, not running.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmemvm_task_free(t: *mut CTask) {
    // SAFETY: the caller guarantees `t`.
    drop(unsafe { Box::from_raw(t) });
}

/// Suspends the running task at the yield point `tag`; from the main flow
/// it does nothing.
#[unsafe(no_mangle)]
pub extern "C" fn pmemvm_yield(tag: u64) {
    yield_now(tag);
}
