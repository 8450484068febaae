//! Ctrl-C: SIGINT (and SIGTERM) set a process-wide flag that every run
//! watches. The watchdog of a running guest sees it within
//! [`POLL`](crate::watchdog) and kicks the vCPU out of `KVM_RUN`, so a
//! recording stops within a second; a crash test stops queueing images and
//! reports what it did, marked incomplete.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Installs the handler of SIGINT and SIGTERM (once per process). Until it
/// is called, the signals keep their default action.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for signal in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: the handler is async-signal-safe: it only stores to
            // an atomic.
            unsafe { libc::signal(signal, on_signal as *const () as libc::sighandler_t) };
        }
    });
}

/// True once the user asked the process to stop.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
