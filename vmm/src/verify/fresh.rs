//! One crash image verified in a VM of its own: boot the guest on it with
//! the promises made before the crash point, and collect its verdict,
//! judged with pmemvm's own check of those promises.
//!
//! A crash image is the initial media (what the guest's untraced setup left)
//! with the lines the model chose. The trace holds the touched lines but
//! only the hash of the initial media, so the initial media is rebuilt by
//! running the guest's setup phase again (it is deterministic) and checked
//! against that hash.

use crate::console_tail::ConsoleTail;
use crate::error::VmmError;
use crate::guest::GuestSource;
use crate::guest_report::Verdict;
use crate::nvdimm::NvdimmOptions;
use crate::promise_check::{self, Breach};
use crate::replay::{self, Replayed};
use crate::run_kind::RunKind;
use crate::session::{self, RunConfig};
use crate::verify_input::VerifyInput;
use pmemvm_device::backing::NvdimmConfig;
use pmemvm_device::crash::ImageSpec;
use pmemvm_device::media::SharedMedia;
use pmemvm_traces::{CrashPoint, Header};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

/// How to boot the guest for verification.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The guest (the one that recorded the trace).
    pub guest: GuestSource,
    /// Guest RAM.
    pub mem: u64,
    /// Time limit of each run.
    pub timeout_secs: u64,
    /// The backing file the recording started from, if it was not a fresh one.
    pub backing: Option<NvdimmConfig>,
}

/// The guest a trace's header names, for `verify` without `--guest`: the
/// bundled guest (also for traces that name none), or the file at the
/// recorded path when its SHA-256 is still the recorded one; an error
/// naming the file when it is missing or has changed.
pub fn recorded_guest(trace: &Path, header: &Header) -> Result<GuestSource, VmmError> {
    let path = match header.guest.as_deref() {
        None | Some(pmemvm_traces::BUNDLED_GUEST) => return Ok(GuestSource::Bundled),
        Some(path) => path,
    };
    let source = GuestSource::Path(path.into());
    let unavailable = |state| VmmError::RecordedGuestUnavailable {
        trace: trace.display().to_string(),
        guest: recorded_name(header),
        state,
    };
    if !Path::new(path).is_file() {
        return Err(unavailable("is missing"));
    }
    match header.guest_sha256 {
        Some(recorded) if source.sha256()? != recorded => Err(unavailable("has changed since")),
        _ => Ok(source),
    }
}

/// For a guest given explicitly to verify a trace: a warning when the trace
/// names a guest file whose recorded SHA-256 differs from this guest's.
pub fn guest_mismatch(
    trace: &Path,
    header: &Header,
    guest: &GuestSource,
) -> Result<Option<String>, VmmError> {
    let Some(recorded) = header.guest_sha256 else {
        return Ok(None);
    };
    Ok((guest.sha256()? != recorded).then(|| {
        format!(
            "--guest {} is not the guest trace {} was recorded with ({}): results may not reproduce the recording",
            guest.name(),
            trace.display(),
            recorded_name(header)
        )
    }))
}

/// The recorded guest in messages: its path and the start of its hash.
fn recorded_name(header: &Header) -> String {
    let path = header.guest.as_deref().unwrap_or_default();
    match header.guest_sha256 {
        Some(h) => format!("{path} (sha256 {}…)", &pmemvm_traces::hex::encode(&h)[..12]),
        None => path.to_string(),
    }
}

/// The verdict on one image, with the names that reproduce it.
#[derive(Debug, Clone)]
pub struct ImageVerdict {
    /// Pass or fail: the guest's failure, else the broken promise, else
    /// the pass ([`promise_check::judge`]).
    pub verdict: Verdict,
    /// The first promise the image breaks, by pmemvm's own check, whatever
    /// the guest said.
    pub broken_promise: Option<Breach>,
    /// The explicit name of the image.
    pub image: String,
    /// The seq just after which the crash point lies.
    pub seq: u64,
}

/// The run configuration of a trace's guest, shared by the setup replay
/// and verify runs. The backing file is only read: `share=on` is dropped,
/// so no verify run writes its image back to it.
pub fn run_config(header: &Header, opts: &VerifyOptions) -> RunConfig {
    let model = replay::model_config(header);
    RunConfig {
        guest: opts.guest.clone(),
        scenario: header.scenario.clone(),
        variant: header.variant.clone(),
        seed: header.seed,
        mem: opts.mem,
        timeout_secs: opts.timeout_secs,
        nvdimm: NvdimmOptions {
            backing: read_only(opts.backing.as_ref()),
            default_size: header.device.size,
            persistence: model.persistence,
            atomicity: model.atomicity,
            recording: header.recording,
        },
        ..RunConfig::default()
    }
}

/// `backing` without `share=on`: the file is read, never written.
pub fn read_only(backing: Option<&NvdimmConfig>) -> Option<NvdimmConfig> {
    backing.map(|b| NvdimmConfig {
        share: false,
        ..b.clone()
    })
}

/// Rebuilds the initial media of a trace by running the guest's setup
/// phase again, and checks it against the hash in the header.
pub fn initial_media(header: &Header, opts: &VerifyOptions) -> Result<Arc<SharedMedia>, VmmError> {
    let config = RunConfig {
        kind: RunKind::CaptureSetup,
        ..run_config(header, opts)
    };
    let outcome = session::run(&config, &mut std::io::sink())?;
    let Some(media) = outcome.media.setup_media else {
        return Err(VmmError::Protocol(format!(
            "scenario {} never ended its setup phase, so there is no initial media to verify against",
            header.scenario
        )));
    };
    let hash: [u8; 32] = Sha256::digest(media.as_slice()).into();
    if hash != header.initial_media_sha256 {
        return Err(VmmError::Config {
            what: "initial media".into(),
            reason: "the guest's setup phase does not reproduce the trace's initial media \
                     (recorded from another backing file or another guest? pass the same --nvdimm and --guest)"
                .into(),
        });
    }
    Ok(media)
}

/// Boots the guest in verify mode on `media` and returns its verdict. A
/// guest that faults, hangs or exits without a verdict fails.
pub fn verify_media(
    header: &Header,
    opts: &VerifyOptions,
    media: &[u8],
    input: VerifyInput,
) -> Result<Verdict, VmmError> {
    let config = RunConfig {
        kind: RunKind::Verify {
            image: Arc::new(SharedMedia::from_bytes(media)?),
            input,
        },
        ..run_config(header, opts)
    };
    let mut console = ConsoleTail::default();
    let run = session::run(&config, &mut console);
    let status = run.as_ref().map_or(0, |o| o.status);
    Verdict::of_run(run.map(|o| o.verdict), || {
        format!(
            "the guest exited with status {status} without a verdict: {}",
            console.text().trim()
        )
    })
}

/// `pmemvm verify`: the image `image` of `trace` at `point`, verified.
pub fn verify_trace(
    trace: &Path,
    point: &CrashPoint,
    image: &ImageSpec,
    opts: &VerifyOptions,
) -> Result<ImageVerdict, VmmError> {
    let Replayed {
        header,
        model,
        seq,
        verify,
        promises,
    } = replay::replay_to(trace, point)?;
    let spec = model.resolve(image);
    let lines = model.image(&spec)?;
    let maximal = model.image(&ImageSpec::Maximal)?;
    let broken_promise = promises.check(&lines, &lines.differing_lines(&maximal));
    let base = initial_media(&header, opts)?;
    let mut media = base.as_slice().to_vec();
    lines.apply(&mut media);
    let guest = verify_media(&header, opts, &media, verify)?;
    Ok(ImageVerdict {
        verdict: promise_check::judge(guest, broken_promise.as_ref()),
        broken_promise,
        image: spec.to_string(),
        seq,
    })
}
