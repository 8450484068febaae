//! The workers that verify crash images, each on one reusable VM, and the
//! queue that feeds them.
//!
//! The workers make and warm up their VMs as soon as the recording's setup
//! phase is over ([`Verifier::warm_up`]). The walk may queue images while
//! the guest is still recording; the workers wait behind a [`Gate`] until
//! the recording ends, so that they do not take the recording's core, or
//! until the queue is full, so that the images waiting stay few.

use super::{Job, Outcome};
use crate::error::VmmError;
use crate::session::RunConfig;
use crate::verify::{self, VerifyOptions};
use crate::verify::{Timings, Verifier};
use pmemvm_device::media::SharedMedia;
use pmemvm_traces::Header;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Instant;

/// What the recording's setup phase fixes for every verification.
pub struct Setup {
    /// The recording's trace header.
    pub header: Header,
    /// The verify-mode run configuration.
    pub config: RunConfig,
    /// The media as the setup phase left it: the base of every image.
    pub base: Arc<SharedMedia>,
}

/// The recording's setup, once known.
#[derive(Default)]
pub struct SharedSetup {
    value: OnceLock<Setup>,
    known: Gate,
}

impl SharedSetup {
    /// Makes the setup known.
    pub fn publish(&self, setup: Setup) {
        let _ = self.value.set(setup);
        self.known.open();
    }

    /// Says that no setup will come (the recording ended).
    pub fn close(&self) {
        self.known.open();
    }

    /// Waits for [`SharedSetup::publish`] or [`SharedSetup::close`].
    fn wait(&self) -> Option<&Setup> {
        self.known.wait();
        self.value.get()
    }

    /// The setup, if known.
    pub fn get(&self) -> Option<&Setup> {
        self.value.get()
    }

    /// The setup, if it was published.
    pub fn into_inner(self) -> Option<Setup> {
        self.value.into_inner()
    }
}

impl Setup {
    /// The setup of a recording with `header` and base media `base`,
    /// verified with `vopts`.
    pub fn new(header: Header, base: Arc<SharedMedia>, vopts: &VerifyOptions) -> Setup {
        Setup {
            config: verify::run_config(&header, vopts),
            header,
            base,
        }
    }
}

/// Opened once, when the workers may start; remembers when.
#[derive(Default)]
pub struct Gate {
    opened: Mutex<Option<Instant>>,
    cv: Condvar,
}

impl Gate {
    /// Opens the gate (the first call only counts).
    pub fn open(&self) {
        let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        if opened.is_none() {
            *opened = Some(Instant::now());
            self.cv.notify_all();
        }
    }

    /// Waits until the gate is open.
    fn wait(&self) {
        let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        while opened.is_none() {
            opened = self.cv.wait(opened).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// When the gate opened.
    pub fn opened_at(&self) -> Option<Instant> {
        *self.opened.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The jobs waiting for a worker.
pub struct Queue<'a> {
    /// Bounded: the walk waits when it is full.
    pub jobs: SyncSender<Job>,
    /// Opened when the queue is full: the workers must drain it.
    pub gate: &'a Gate,
}

impl Queue<'_> {
    /// Queues `job`, waiting for room if the queue is full (which opens the
    /// gate); false once no worker is left.
    pub fn push(&self, job: Job) -> bool {
        match self.jobs.try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(job)) => {
                self.gate.open();
                self.jobs.send(job).is_ok()
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

/// Promises a verifier makes room for at least (fewer reboots when later
/// points carry more).
const MIN_PROMISES: usize = 256;

/// A worker: one reusable VM, made and warmed up once the setup is known,
/// made again when a job carries more promises than it has room for (or
/// after a failure). Takes jobs once `gate` opens; skips them once `stop`
/// says so. Returns where its verifiers spent their time.
pub fn worker(
    setup: &SharedSetup,
    gate: &Gate,
    jobs: &Mutex<Receiver<Job>>,
    out: &SyncSender<Outcome>,
    stop: &dyn Fn() -> bool,
) -> Timings {
    let mut verifier = setup.wait().and_then(|s| {
        let made = Verifier::new(&s.config, s.base.clone(), MIN_PROMISES);
        made.and_then(|mut v| v.warm_up().map(|()| v))
            .map_err(|e| log::warn!("warming up a verifier: {e}"))
            .ok()
    });
    gate.wait();
    let mut spent = Timings::default();
    loop {
        let job = match jobs.lock().map(|rx| rx.recv()) {
            Ok(Ok(job)) => job,
            _ => break,
        };
        if stop() {
            continue;
        }
        let needed = job.input.promises.len();
        if let Some(v) = verifier.take_if(|v| v.max_promises() < needed) {
            log::info!("{needed} promises: a verifier with room for them replaces this one");
            spent += v.timings();
        }
        let verdict = (|| {
            let v = match verifier.as_mut() {
                Some(v) => v,
                None => {
                    let s = setup.get().ok_or_else(|| {
                        VmmError::Internal("a job came before the recording's setup".into())
                    })?;
                    let room = needed.max(MIN_PROMISES).next_power_of_two();
                    verifier.insert(Verifier::new(&s.config, s.base.clone(), room)?)
                }
            };
            v.verify(&job.image, &job.input)
        })()
        .inspect_err(|_| {
            // A verifier that failed is not reused.
            if let Some(v) = verifier.take() {
                spent += v.timings();
            }
        });
        if out.send(Outcome { job, verdict }).is_err() {
            break;
        }
    }
    if let Some(v) = verifier {
        log::info!(
            "verifier: {} runs, {:?}, {:?}",
            v.runs(),
            v.exits(),
            v.timings()
        );
        spent += v.timings();
    }
    spent
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify_input::VerifyInput;
    use pmemvm_device::crash::{Image, ImageSpec};
    use std::sync::mpsc::sync_channel;
    use std::time::Duration;

    fn job(id: u64) -> Job {
        Job {
            id,
            seq: id,
            spec: ImageSpec::Minimal,
            image: Image::default(),
            input: Arc::new(VerifyInput::default()),
            lost: Vec::new(),
            loss: Default::default(),
            kept: 0,
            breach: None,
        }
    }

    #[test]
    fn a_full_queue_opens_the_gate_and_waits_for_room() {
        let gate = Gate::default();
        let (tx, rx) = sync_channel(1);
        let queue = Queue {
            jobs: tx,
            gate: &gate,
        };
        assert!(queue.push(job(1)));
        assert_eq!(gate.opened_at(), None, "room left: the gate stays shut");
        std::thread::scope(|s| {
            let pusher = s.spawn(|| queue.push(job(2)));
            // The second job waits for room, with the gate open.
            gate.wait();
            assert_eq!(rx.recv().map(|j| j.id).ok(), Some(1));
            assert!(matches!(pusher.join(), Ok(true)));
        });
        assert_eq!(rx.recv().map(|j| j.id).ok(), Some(2));
        drop(rx);
        assert!(!queue.push(job(3)), "no worker left");
    }

    #[test]
    fn a_gate_opens_once_and_a_closed_setup_releases_its_waiters() {
        let gate = Gate::default();
        gate.open();
        let first = gate.opened_at();
        assert!(first.is_some());
        std::thread::sleep(Duration::from_millis(2));
        gate.open();
        assert_eq!(gate.opened_at(), first);
        let setup = SharedSetup::default();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| setup.wait().is_none());
            setup.close();
            assert!(matches!(waiter.join(), Ok(true)));
        });
        assert!(setup.into_inner().is_none());
    }
}
