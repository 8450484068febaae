//! The guest's logical clock: no host time ever reaches the guest.

use crate::global::Global;

static NOW: Global<u64> = Global::new(0);

/// Advances the clock by one tick and returns the new time.
pub fn tick() -> u64 {
    // SAFETY: single vCPU, no concurrent access (see `Global`).
    unsafe {
        *NOW.get() += 1;
        *NOW.get()
    }
}

/// The current time, without advancing it.
pub fn now() -> u64 {
    // SAFETY: single vCPU, no concurrent access (see `Global`).
    unsafe { *NOW.get() }
}
