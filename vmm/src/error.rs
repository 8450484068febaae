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
    /// A KVM ioctl failed.
    #[error("KVM {op} failed: {error}")]
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
    /// Guest memory could not be set up or accessed.
    #[error("guest memory: {0}")]
    Memory(String),
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
    /// A crash test cannot be done (the recording itself failed).
    #[error("{0}")]
    CannotTest(String),
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

impl VmmError {
    /// True when the guest itself failed (as opposed to bad input or a
    /// host problem that kept the run from starting).
    pub fn is_guest_failure(&self) -> bool {
        matches!(
            self,
            VmmError::GuestException { .. }
                | VmmError::Timeout { .. }
                | VmmError::UnexpectedExit { .. }
                | VmmError::Protocol(_)
        )
    }

    /// A KVM ioctl error.
    pub fn kvm(op: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> VmmError {
        move |error| VmmError::Kvm { op, error }
    }
}
