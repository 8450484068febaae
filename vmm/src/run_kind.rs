//! What a run is for, and so what its NVDIMM records and hands back: one
//! value instead of a set of flags every caller had to reset.

use crate::verify_input::VerifyInput;
use pmemvm_abi::Mode;
use pmemvm_device::crash::ImageSpec;
use pmemvm_device::media::SharedMedia;
use pmemvm_traces::{CrashPoint, Event, Header};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::SyncSender;

/// What a run is for.
#[derive(Debug, Clone)]
pub enum RunKind {
    /// Run mode (`pmemvm run`): the scenario, recorded into a trace file
    /// and cut by a power failure, each if asked for.
    Record {
        /// Where to write the trace.
        trace: Option<PathBuf>,
        /// Where to cut the power, and what the media then holds.
        power_cut: Option<PowerCut>,
    },
    /// List mode: the guest reports its scenarios.
    List,
    /// Run mode until the setup phase ends: the run stops there and hands
    /// back the media it left (the base of every crash image).
    CaptureSetup,
    /// A crash test's recording: the trace file, the events as they happen
    /// (for the crash test's walk) and the media the setup phase left.
    CrashTest {
        /// Where to write the trace.
        trace: PathBuf,
        /// Where the recording goes as it happens, if anywhere.
        stream: Option<RecordingStream>,
    },
    /// Verify mode: the guest boots on a crash image and checks what it
    /// is given.
    Verify {
        /// The crash image, of exactly the NVDIMM's size; the guest gets a
        /// private, copy-on-write mapping of it.
        image: Arc<SharedMedia>,
        /// The promises and the rest of what verify mode checks.
        input: VerifyInput,
    },
}

impl RunKind {
    /// A recording with neither trace file nor power failure.
    pub const RECORD: RunKind = RunKind::Record {
        trace: None,
        power_cut: None,
    };

    /// The mode the guest boots in.
    pub fn mode(&self) -> Mode {
        match self {
            RunKind::List => Mode::List,
            RunKind::Verify { .. } => Mode::Verify,
            RunKind::Record { .. } | RunKind::CaptureSetup | RunKind::CrashTest { .. } => Mode::Run,
        }
    }

    /// The trace file the run writes, if any.
    pub fn trace(&self) -> Option<&PathBuf> {
        match self {
            RunKind::Record { trace, .. } => trace.as_ref(),
            RunKind::CrashTest { trace, .. } => Some(trace),
            RunKind::List | RunKind::CaptureSetup | RunKind::Verify { .. } => None,
        }
    }
}

/// A power failure to cut a recording with.
#[derive(Debug, Clone)]
pub struct PowerCut {
    /// The crash point.
    pub at: CrashPoint,
    /// The image the media holds afterwards.
    pub image: ImageSpec,
}

/// Where a recording goes as it happens: a crash test walks the events
/// while the guest still runs, without reading the trace back.
#[derive(Debug, Clone)]
pub struct RecordingStream(pub SyncSender<Streamed>);

/// What a recording hands its [`RecordingStream`], in this order.
#[derive(Debug)]
pub enum Streamed {
    /// At the end of the setup phase: the trace header and the media, the
    /// base of every crash image.
    Setup(Box<Header>, Arc<SharedMedia>),
    /// The next events, in order.
    Events(Vec<Event>),
    /// The recording ended: no event follows (the run's teardown may still
    /// hold the stream open).
    End,
}
