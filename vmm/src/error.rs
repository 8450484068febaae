//! The error type of the VMM crate.

use crate::cpu_dump::CpuDump;

/// Everything that can stop a run or keep it from starting.
#[derive(Debug, thiserror::Error)]
pub enum VmmError {
    /// The guest ELF could not be read.
    #[error("guest ELF {path}: {reason}")]
    Elf {
        /// File (or `bundled guest`).
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `/dev/kvm` could not be opened.
    #[error("/dev/kvm: {0} (KVM must be available and accessible to this user)")]
    KvmUnavailable(kvm_ioctls::Error),
    /// A KVM ioctl failed (internal: KVM refused what the VMM asked).
    #[error("internal error: KVM {op} failed: {error}")]
    Kvm {
        /// The operation.
        op: &'static str,
        /// The error from KVM.
        error: kvm_ioctls::Error,
    },
    /// A bad command-line value or configuration.
    #[error("{what}: {reason}")]
    Config {
        /// The input concerned (option and value).
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// Guest memory could not be set up or accessed by the VMM.
    #[error("internal error: guest memory: {0}")]
    Memory(String),
    /// The VMM broke one of its own rules (a worker thread panicked, a
    /// step came out of order): never the guest's or the user's fault.
    #[error("internal error: {0}")]
    Internal(String),
    /// The user stopped the run (Ctrl-C).
    #[error("INTERRUPTED (Ctrl-C) {0}")]
    Interrupted(&'static str),
    /// The guest raised an exception it could not handle.
    #[error(
        "guest exception {description} (vector {vector}), error code {error_code:#x}, CR2 {cr2:#x}\n{dump}"
    )]
    GuestException {
        /// Vector number.
        vector: u8,
        /// Name and circumstances.
        description: String,
        /// Error code pushed by the CPU (0 if none).
        error_code: u64,
        /// CR2 (faulting address of a page fault).
        cr2: u64,
        /// Registers at the fault (RIP is the faulting instruction).
        dump: Box<CpuDump>,
    },
    /// The guest ran longer than its time limit.
    #[error("guest timed out after {secs} s without finishing (spinning without exits?)\n{dump}")]
    Timeout {
        /// The limit.
        secs: u64,
        /// Where it was.
        dump: Box<CpuDump>,
    },
    /// An exit the VMM does not expect.
    #[error("unexpected VM exit: {reason}\n{dump}")]
    UnexpectedExit {
        /// The exit reason in words.
        reason: String,
        /// Where the vCPU was.
        dump: Box<CpuDump>,
    },
    /// The recording of a crash test failed, so nothing can be tested;
    /// whose fault it is, is the cause's.
    #[error("the guest failed in record mode, so nothing can be tested: {0}")]
    Recording(Box<VmmError>),
    /// The guest exited with a non-zero status where it must not (in
    /// record, list or capture mode without a finding).
    #[error(
        "the guest exited with status {status} in {mode} mode{}",
        console_tail(console)
    )]
    GuestStatus {
        /// Its exit status.
        status: u32,
        /// The mode it ran in.
        mode: &'static str,
        /// The end of its console output (may be empty).
        console: String,
    },
    /// The guest broke the hypercall protocol.
    #[error("guest protocol error: {0}")]
    Protocol(String),
    /// Writing the console failed.
    #[error("console: {0}")]
    Console(std::io::Error),
    /// `verify` without `--guest`: the guest file a trace was recorded with
    /// is missing or no longer has the recorded SHA-256.
    #[error("trace {trace} was recorded with guest {guest}, which {state}: pass --guest")]
    RecordedGuestUnavailable {
        /// The trace.
        trace: String,
        /// The recorded path, with the start of the recorded hash.
        guest: String,
        /// `is missing` or `has changed since`.
        state: &'static str,
    },
    /// A trace file could not be read or written.
    #[error(transparent)]
    TraceFile(#[from] pmemvm_traces::TraceError),
    /// A trace is well-formed but its events are inconsistent.
    #[error("{at}: {reason}")]
    BadTrace {
        /// File and line.
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// The device crate failed.
    #[error(transparent)]
    Device(#[from] pmemvm_device::DeviceError),
}

/// Who an error is the fault of: it decides the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The user's input or this machine: a bad option, file or trace, no
    /// KVM (exit 2).
    Input,
    /// The guest: an exception, a timeout, a broken protocol, a non-zero
    /// status (exit 3; in a verify run, the image's failure).
    Guest,
    /// pmemvm itself (exit 2, the message says "internal error").
    Internal,
    /// The user stopped the run (exit 130).
    Interrupted,
}

/// ": " and the last line of `console`, cut to 200 characters, or nothing.
fn console_tail(console: &str) -> String {
    match console.trim().lines().last() {
        Some(line) => format!(": {}", pmemvm_abi::shown::Shown(line)),
        None => " (it printed nothing)".into(),
    }
}

impl VmmError {
    /// Whose fault the error is.
    pub fn fault(&self) -> Fault {
        match self {
            VmmError::GuestException { .. }
            | VmmError::Timeout { .. }
            | VmmError::UnexpectedExit { .. }
            | VmmError::Protocol(_)
            | VmmError::GuestStatus { .. } => Fault::Guest,
            VmmError::Kvm { .. } | VmmError::Memory(_) | VmmError::Internal(_) => Fault::Internal,
            VmmError::Interrupted(_) => Fault::Interrupted,
            VmmError::Recording(cause) => cause.fault(),
            VmmError::Elf { .. }
            | VmmError::KvmUnavailable(_)
            | VmmError::Config { .. }
            | VmmError::Console(_)
            | VmmError::RecordedGuestUnavailable { .. }
            | VmmError::TraceFile(_)
            | VmmError::BadTrace { .. }
            | VmmError::Device(_) => Fault::Input,
        }
    }

    /// True when the guest itself failed (as opposed to bad input, a host
    /// problem or pmemvm's own).
    pub fn is_guest_failure(&self) -> bool {
        self.fault() == Fault::Guest
    }

    /// An internal error for a thread of `what` that panicked.
    pub fn panicked(what: &str) -> VmmError {
        VmmError::Internal(format!("the {what} thread panicked"))
    }

    /// A KVM ioctl error.
    pub fn kvm(op: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> VmmError {
        move |error| VmmError::Kvm { op, error }
    }
}
