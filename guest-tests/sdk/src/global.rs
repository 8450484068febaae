//! [`Global`]: the cell that holds a guest's globals.

use core::cell::UnsafeCell;

/// A cell for a guest's globals: one vCPU, no interrupts, cooperative
/// tasks, so plain access is safe and needs no locked instruction.
pub struct Global<T>(UnsafeCell<T>);

// SAFETY: the guest runs on one vCPU with cooperative tasks and no
// interrupts, so there is never concurrent access.
unsafe impl<T> Sync for Global<T> {}

impl<T> Global<T> {
    /// A cell holding `value`.
    pub const fn new(value: T) -> Self {
        Global(UnsafeCell::new(value))
    }

    /// Raw access; callers must not hold two `&mut` at once.
    pub fn get(&self) -> *mut T {
        self.0.get()
    }
}
