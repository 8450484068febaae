//! A coverage-free mutational fuzzing harness for pmemvm's parsers and
//! decoders of untrusted input, on stable Rust.
//!
//! * [`targets`]: what is fuzzed (the trace reader in both layouts, the
//!   point and image grammars, `--nvdimm`, the ELF loader, the event ring and
//!   the hypercall decoders fed as guest memory), with seeds and checks.
//! * [`mutate`]: the mutations.
//! * [`alloc`]: the counting allocator that caps an execution's memory.
//! * this module: one execution ([`execute`]) and the loop ([`fuzz`]), which
//!   catches panics, and, for what kills the process (an abort, a refused
//!   allocation, a fatal signal, a hang caught by the watchdog), leaves the
//!   input and the reason in two files for the parent process to collect
//!   (`src/main.rs` runs each target in a child process).

pub mod alloc;
pub mod mutate;
pub mod targets;

use std::collections::HashSet;
use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use mutate::{Mutator, Rng};
use targets::Target;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

/// Memory an execution may hold, by default: 256 MiB.
pub const DEFAULT_MEM_CAP: usize = 256 << 20;

/// Time an execution may take, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Exit status of a child process whose watchdog caught a hang.
pub const HANG_EXIT: i32 = 86;

/// Largest pool of inputs the loop keeps.
const POOL_MAX: usize = 4096;

thread_local! {
    /// The message of the last panic on this thread.
    static PANIC_MESSAGE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The input being executed (for the signal handler and the watchdog).
static CURRENT_PTR: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static CURRENT_LEN: AtomicUsize = AtomicUsize::new(0);
/// When the current execution started (ms since [`epoch`]; 0 when idle).
static STARTED_MS: AtomicU64 = AtomicU64::new(0);
/// Set once a panic message was written to the reason file.
static PANICKED: AtomicBool = AtomicBool::new(false);
/// Descriptors of the crash files (-1: none).
static INPUT_FD: AtomicI32 = AtomicI32::new(-1);
static REASON_FD: AtomicI32 = AtomicI32::new(-1);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64 + 1
}

/// The first 16 hex digits of the SHA-256 of an input: its file name.
pub fn input_hash(input: &[u8]) -> String {
    Sha256::digest(input)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Installs the panic hook that keeps each panic's message (and, in a
/// process with crash files, writes it to the reason file before a
/// `panic = "abort"` build aborts).
pub fn install_panic_hook() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        panic::set_hook(Box::new(|info| {
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let text = format!("panic: {msg}{at}");
            let fd = REASON_FD.load(Ordering::SeqCst);
            if fd >= 0 && STARTED_MS.load(Ordering::SeqCst) != 0 {
                write_file(fd, text.as_bytes());
                PANICKED.store(true, Ordering::SeqCst);
            }
            PANIC_MESSAGE.with(|m| *m.borrow_mut() = Some(text));
        }));
    });
}

/// Replaces the content of the file open at `fd` (async-signal-safe).
fn write_file(fd: i32, bytes: &[u8]) {
    // SAFETY: plain system calls on a descriptor this process opened, with
    // a buffer valid for `bytes.len()` bytes.
    unsafe {
        libc::ftruncate(fd, 0);
        let mut done = 0usize;
        while done < bytes.len() {
            let n = libc::pwrite(
                fd,
                bytes[done..].as_ptr().cast(),
                bytes.len() - done,
                done as libc::off_t,
            );
            if n <= 0 {
                break;
            }
            done += n as usize;
        }
    }
}

/// The current input, as the signal handler and the watchdog see it.
fn current_input<'a>() -> &'a [u8] {
    let ptr = CURRENT_PTR.load(Ordering::SeqCst);
    if ptr.is_null() {
        return &[];
    }
    // SAFETY: `execute` publishes the pointer and length of an input it
    // holds borrowed, unchanged, until it clears the pointer.
    unsafe { std::slice::from_raw_parts(ptr, CURRENT_LEN.load(Ordering::SeqCst)) }
}

extern "C" fn on_fatal_signal(sig: libc::c_int) {
    let input_fd = INPUT_FD.load(Ordering::SeqCst);
    let reason_fd = REASON_FD.load(Ordering::SeqCst);
    if input_fd >= 0 && STARTED_MS.load(Ordering::SeqCst) != 0 {
        write_file(input_fd, current_input());
        if alloc::over_cap().is_some() {
            write_file(reason_fd, b"memory: an allocation would go over the cap");
        } else if !PANICKED.load(Ordering::SeqCst) {
            let reason: &[u8] = match sig {
                libc::SIGABRT => b"abort (SIGABRT)",
                libc::SIGSEGV => b"fatal signal SIGSEGV (a stack overflow or a bad access)",
                libc::SIGBUS => b"fatal signal SIGBUS",
                libc::SIGILL => b"fatal signal SIGILL",
                libc::SIGFPE => b"fatal signal SIGFPE",
                _ => b"fatal signal",
            };
            write_file(reason_fd, reason);
        }
    }
    // SAFETY: restores the default action and raises the signal again, so
    // the process ends the way it would have.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Sets up a worker process's crash files: where a fatal signal or the
/// watchdog leaves the input being executed and the reason, and starts the
/// watchdog, which ends the process with [`HANG_EXIT`] when an execution
/// takes longer than `timeout`.
pub fn setup_crash_files(input: &Path, reason: &Path, timeout: Duration) -> std::io::Result<()> {
    let open = |p: &Path| {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(p)
    };
    let (i, r) = (open(input)?, open(reason)?);
    INPUT_FD.store(i.as_raw_fd(), Ordering::SeqCst);
    REASON_FD.store(r.as_raw_fd(), Ordering::SeqCst);
    std::mem::forget((i, r));
    for sig in [
        libc::SIGABRT,
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGILL,
        libc::SIGFPE,
    ] {
        // SAFETY: installs a handler that only makes async-signal-safe
        // calls; `sigaction` is zeroed then filled as the C API expects.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_fatal_signal as *const () as usize;
            sa.sa_flags = libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
    let limit = timeout.as_millis() as u64;
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(20));
            let started = STARTED_MS.load(Ordering::SeqCst);
            if started != 0 && now_ms().saturating_sub(started) > limit {
                write_file(INPUT_FD.load(Ordering::SeqCst), current_input());
                let text = format!("hang: one execution took more than {limit} ms");
                write_file(REASON_FD.load(Ordering::SeqCst), text.as_bytes());
                // SAFETY: ends the process at once, without unwinding the
                // thread stuck in the target.
                unsafe { libc::_exit(HANG_EXIT) };
            }
        }
    });
    Ok(())
}

/// What one execution did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The target returned this signature.
    Ok(u64),
    /// The target panicked (a failed check, an index out of bounds...).
    Panic(String),
}

/// Runs `input` through `target` once, on this thread, with the memory cap
/// armed and panics caught. An abort, a refused allocation or a fatal signal
/// ends the process (the crash files, if set up, keep the input).
pub fn execute(target: &Target, input: &[u8], mem_cap: usize) -> (Outcome, usize) {
    install_panic_hook();
    CURRENT_LEN.store(input.len(), Ordering::SeqCst);
    CURRENT_PTR.store(input.as_ptr().cast_mut(), Ordering::SeqCst);
    STARTED_MS.store(now_ms(), Ordering::SeqCst);
    let base = alloc::arm(mem_cap);
    let r = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    let peak = alloc::disarm(base);
    STARTED_MS.store(0, Ordering::SeqCst);
    CURRENT_PTR.store(std::ptr::null_mut(), Ordering::SeqCst);
    let outcome = match r {
        Ok(sig) => Outcome::Ok(sig),
        Err(_) => Outcome::Panic(
            PANIC_MESSAGE
                .with(|m| m.borrow_mut().take())
                .unwrap_or_else(|| "panic".into()),
        ),
    };
    (outcome, peak)
}

/// The seed inputs of a target, then the saved regressions (with their file
/// names; seeds are named `seed-N`).
pub fn seeds_and_regressions(target: &Target) -> Vec<(String, Vec<u8>)> {
    let mut all: Vec<(String, Vec<u8>)> = (target.seeds)()
        .into_iter()
        .enumerate()
        .map(|(i, s)| (format!("seed-{i}"), s))
        .collect();
    let dir = targets::regressions_dir().join(target.name);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            if f.is_file()
                && f.file_name()
                    .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
            {
                let bytes = std::fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
                all.push((f.display().to_string(), bytes));
            }
        }
    }
    all
}

/// Options of the loop.
#[derive(Debug, Clone)]
pub struct Options {
    /// Executions to run (the replayed seeds and regressions count).
    pub execs: u64,
    /// Seed of the mutations.
    pub seed: u64,
    /// Memory an execution may hold.
    pub mem_cap: usize,
    /// Replay the seeds and regressions first.
    pub replay: bool,
    /// Where a caught panic's input is saved (`DIR/TARGET/HASH`).
    pub out: PathBuf,
}

/// A caught failure.
#[derive(Debug, Clone)]
pub struct Failure {
    /// What happened.
    pub reason: String,
    /// Where the input was saved.
    pub path: PathBuf,
}

/// What a loop did.
#[derive(Debug, Default)]
pub struct Report {
    /// Executions run.
    pub execs: u64,
    /// Caught failures (panics; what kills the process is the parent's).
    pub failures: Vec<Failure>,
    /// Inputs in the pool at the end.
    pub pool: usize,
    /// Distinct outcome signatures seen.
    pub signatures: usize,
    /// Most memory one execution held.
    pub peak: usize,
}

/// Saves a failing input under `dir/TARGET/HASH` (once per input).
pub fn save_failure(dir: &Path, target: &str, input: &[u8]) -> std::io::Result<PathBuf> {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(input_hash(input));
    if !path.exists() {
        let tmp = dir.join(format!(".{}.tmp", input_hash(input)));
        std::fs::write(&tmp, input)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(path)
}

/// The mutational loop: replays the seeds and regressions, then mutates
/// inputs from the pool (seeds, and each input whose outcome signature is
/// new), calling `progress` with the executions done every 4096.
pub fn fuzz(target: &Target, opts: &Options, progress: &mut dyn FnMut(u64)) -> Report {
    let mut report = Report::default();
    let mut rng = Rng::new(opts.seed ^ 0x5eed_f00d);
    let mut seen: HashSet<u64> = HashSet::new();
    let seeds: Vec<Vec<u8>> = seeds_and_regressions(target)
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    let mut pool: Vec<Vec<u8>> = seeds.clone();
    let mut reported: HashSet<String> = HashSet::new();
    let mut record = |report: &mut Report, input: &[u8], outcome: &Outcome| -> bool {
        match outcome {
            Outcome::Ok(sig) => seen.insert(*sig),
            Outcome::Panic(msg) => {
                let path = save_failure(&opts.out, target.name, input)
                    .unwrap_or_else(|e| panic!("saving a failing input: {e}"));
                if reported.insert(msg.clone()) {
                    eprintln!(
                        "FAILURE {}: {msg}; input saved as {}",
                        target.name,
                        path.display()
                    );
                }
                report.failures.push(Failure {
                    reason: msg.clone(),
                    path,
                });
                false
            }
        }
    };
    if opts.replay {
        for s in &seeds {
            if report.execs >= opts.execs {
                break;
            }
            let (outcome, peak) = execute(target, s, opts.mem_cap);
            report.peak = report.peak.max(peak);
            record(&mut report, s, &outcome);
            report.execs += 1;
        }
    }
    let mutator = Mutator {
        dict: target.dict.iter().map(|t| t.as_bytes().to_vec()).collect(),
        max_len: target.max_len,
    };
    let mut input = Vec::new();
    let pick = |rng: &mut Rng, pool: &[Vec<u8>]| -> usize {
        // Big inputs (a whole guest ELF) are slow to copy: pick them rarely.
        let mut i = rng.below(pool.len());
        for _ in 0..8 {
            if pool[i].len() <= 64 << 10 || rng.one_in(16) {
                break;
            }
            i = rng.below(pool.len());
        }
        i
    };
    while report.execs < opts.execs {
        let a = pick(&mut rng, &pool);
        let b = pick(&mut rng, &pool);
        mutator.mutate(&mut rng, &pool[a], &pool[b], &mut input);
        let (outcome, peak) = execute(target, &input, opts.mem_cap);
        report.peak = report.peak.max(peak);
        if record(&mut report, &input, &outcome) {
            if pool.len() < POOL_MAX {
                pool.push(input.clone());
            } else {
                let i = seeds.len() + rng.below(POOL_MAX - seeds.len());
                pool[i] = input.clone();
            }
        }
        report.execs += 1;
        if report.execs.is_multiple_of(4096) {
            progress(report.execs);
        }
    }
    report.pool = pool.len();
    report.signatures = seen.len();
    report
}

/// Writes a line to stdout at once (the worker's protocol with its parent).
pub fn say(line: &str) {
    static OUT: Mutex<()> = Mutex::new(());
    let _guard = OUT.lock();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Reads a crash file left by a worker (empty when absent).
pub fn read_crash_file(path: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Ok(mut f) = File::open(path) {
        let _ = std::io::Read::read_to_end(&mut f, &mut bytes);
    }
    bytes
}
