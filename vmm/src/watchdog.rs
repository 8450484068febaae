//! A time limit for guests that spin without exits.
//!
//! A helper thread waits for the limit; when it passes, it marks the run as
//! timed out and keeps sending a signal to the vCPU thread (every few
//! milliseconds, so a signal that lands outside `KVM_RUN` is not lost) until
//! the run ends. The signal has a no-op handler installed without
//! `SA_RESTART`, so `KVM_RUN` returns `EINTR`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::thread::JoinHandle;
use std::time::Duration;
use vmm_sys_util::signal::{SIGRTMIN, register_signal_handler};

/// How often the vCPU thread is kicked once the limit has passed.
const KICK_INTERVAL: Duration = Duration::from_millis(5);

extern "C" fn on_kick(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {}

fn install_handler() -> std::io::Result<()> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        result = register_signal_handler(SIGRTMIN(), on_kick)
            .map_err(|e| std::io::Error::from_raw_os_error(e.errno()));
    });
    result
}

struct Shared {
    done: Mutex<bool>,
    wake: Condvar,
    fired: AtomicBool,
}

/// Watches the calling thread for as long as it lives.
pub struct Watchdog {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching the calling (vCPU) thread with a limit of `limit`.
    pub fn start(limit: Duration) -> std::io::Result<Watchdog> {
        install_handler()?;
        // SAFETY: pthread_self has no preconditions.
        let target = unsafe { libc::pthread_self() };
        let shared = Arc::new(Shared {
            done: Mutex::new(false),
            wake: Condvar::new(),
            fired: AtomicBool::new(false),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("pmemvm-watchdog".into())
            .spawn(move || watch(&s, target, limit))?;
        Ok(Watchdog {
            shared,
            thread: Some(thread),
        })
    }

    /// True once the limit has passed.
    pub fn fired(&self) -> bool {
        self.shared.fired.load(Ordering::SeqCst)
    }
}

fn watch(s: &Shared, target: libc::pthread_t, limit: Duration) {
    let Ok(done) = s.done.lock() else { return };
    let Ok((mut done, _)) = s.wake.wait_timeout_while(done, limit, |d| !*d) else {
        return;
    };
    if *done {
        return;
    }
    s.fired.store(true, Ordering::SeqCst);
    while !*done {
        // SAFETY: `target` is the vCPU thread, alive until it sets `done`
        // (it joins this thread before exiting).
        unsafe { libc::pthread_kill(target, SIGRTMIN()) };
        match s.wake.wait_timeout(done, KICK_INTERVAL) {
            Ok((d, _)) => done = d,
            Err(_) => return,
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Ok(mut done) = self.shared.done.lock() {
            *done = true;
        }
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
