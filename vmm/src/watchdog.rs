//! A time limit for guests that spin without exits.
//!
//! A helper thread waits for the deadline; when it passes, it marks the run
//! as timed out and keeps sending a signal to the vCPU thread (every few
//! milliseconds, so a signal that lands outside `KVM_RUN` is not lost) until
//! the run is re-armed or ends. It also looks at [`interrupt::requested`]
//! every [`POLL`] and kicks the same way when the user pressed Ctrl-C.
//! The signal has a no-op handler installed
//! without `SA_RESTART`, so `KVM_RUN` returns `EINTR`. One watchdog serves
//! many runs (a reused verify VM re-arms it for each image).

use crate::interrupt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use vmm_sys_util::signal::{SIGRTMIN, register_signal_handler};

/// How often the vCPU thread is kicked once the deadline has passed.
const KICK_INTERVAL: Duration = Duration::from_millis(5);

/// How often a run looks for Ctrl-C.
pub const POLL: Duration = Duration::from_millis(100);

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

/// What the watching thread waits on.
struct State {
    /// When the current run times out, and the thread to kick then.
    deadline: Option<(Instant, libc::pthread_t)>,
    /// The watchdog is being dropped.
    done: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    fired: AtomicBool,
    interrupted: AtomicBool,
}

impl Shared {
    fn lock(&self) -> Option<MutexGuard<'_, State>> {
        self.state.lock().ok()
    }
}

/// Watches the vCPU thread of a run.
pub struct Watchdog {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching the calling (vCPU) thread with a limit of `limit`.
    pub fn start(limit: Duration) -> std::io::Result<Watchdog> {
        install_handler()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                deadline: None,
                done: false,
            }),
            wake: Condvar::new(),
            fired: AtomicBool::new(false),
            interrupted: AtomicBool::new(false),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("pmemvm-watchdog".into())
            .spawn(move || watch(&s))?;
        let dog = Watchdog {
            shared,
            thread: Some(thread),
        };
        dog.rearm(limit);
        Ok(dog)
    }

    /// Starts a new run on the calling (vCPU) thread, limited to `limit`.
    pub fn rearm(&self, limit: Duration) {
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        if let Some(mut st) = self.shared.lock() {
            self.shared.fired.store(false, Ordering::SeqCst);
            st.deadline = Some((Instant::now() + limit, me));
        }
        self.shared.wake.notify_all();
    }

    /// Ends the current run: no more kicks.
    pub fn disarm(&self) {
        if let Some(mut st) = self.shared.lock() {
            st.deadline = None;
        }
        self.shared.wake.notify_all();
    }

    /// True once the deadline of the current run has passed.
    pub fn fired(&self) -> bool {
        self.shared.fired.load(Ordering::SeqCst)
    }

    /// True once the user pressed Ctrl-C during an armed run.
    pub fn interrupted(&self) -> bool {
        self.shared.interrupted.load(Ordering::SeqCst)
    }
}

fn watch(s: &Shared) {
    let Some(mut st) = s.lock() else { return };
    loop {
        if st.done {
            return;
        }
        let wait = match st.deadline {
            None => None,
            Some((deadline, target)) => {
                let now = Instant::now();
                let stop = interrupt::requested();
                if stop {
                    s.interrupted.store(true, Ordering::SeqCst);
                } else if now >= deadline {
                    s.fired.store(true, Ordering::SeqCst);
                }
                if stop || now >= deadline {
                    // SAFETY: `target` is the vCPU thread of the armed run;
                    // it disarms (or drops) the watchdog before it exits.
                    unsafe { libc::pthread_kill(target, SIGRTMIN()) };
                    Some(KICK_INTERVAL)
                } else {
                    Some((deadline - now).min(POLL))
                }
            }
        };
        st = match wait {
            None => match s.wake.wait(st) {
                Ok(g) => g,
                Err(_) => return,
            },
            Some(d) => match s.wake.wait_timeout(st, d) {
                Ok((g, _)) => g,
                Err(_) => return,
            },
        };
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(mut st) = self.shared.lock() {
            st.done = true;
            st.deadline = None;
        }
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
