//! `pmemvm crashtest`: in which ways can this code lose data on power failure?
//!
//! 1. Record one run of the guest (trace, marks, promises).
//! 2. Walk the trace with the persistency model; at each chosen crash point
//!    build crash images (`--states`), deduplicated by (content, promises
//!    made before the point), and check each against the promises made
//!    before the point ([`promise_check`](mod@crate::promise_check)).
//! 3. Verify each image on a pool of reusable VMs ([`Verifier`](crate::verify::Verifier)): the guest
//!    recovers and checks its promises. The guest's failure is the image's
//!    verdict; when it passes, a promise pmemvm found broken fails it.
//! 4. Group the failed images into bugs by cause and report each once, with
//!    the commands that reproduce it and re-test a fix.

pub mod bugs;
mod cause;
pub mod describe;
pub mod html;
mod pool;
pub mod report;
pub mod states;
mod walk;

use crate::console_tail::ConsoleTail;
use crate::error::{Fault, VmmError};
use crate::guest_code::Symbols;
use crate::guest_report::{Findings, Verdict};
use crate::promise_check::{self, Breach};
use crate::run_kind::{RecordingStream, RunKind};
use crate::session::{self, RunConfig};
use crate::verify::Timings;
use crate::verify::{self, VerifyOptions};
use crate::verify_input::VerifyInput;
use cause::MarkWindow;
use indicatif::{ProgressBar, ProgressStyle};
use pmemvm_device::crash::{Image, ImageSpec};
use pmemvm_device::media::SharedMedia;
use pmemvm_traces::{CrashPoint, Header, PointSelector, PointSet, TraceReader, selection};
use pool::{Gate, Queue, Setup, SharedSetup};
use report::{Counts, FailedImage, Failure, PointResult, Report};
use states::States;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use walk::{Source, Walk};

/// Everything a crash test needs.
#[derive(Debug, Clone)]
pub struct CrashTestOptions {
    /// The guest, scenario, variant, seed, RAM, time limit and NVDIMM.
    pub run: RunConfig,
    /// Crash points (`--points`).
    pub points: PointSet,
    /// Crash images at each point (`--states`).
    pub states: Vec<States>,
    /// At most this many images per point.
    pub max_images_per_point: usize,
    /// Worker VMs.
    pub jobs: usize,
    /// Where the trace (and reports) go.
    pub out_dir: PathBuf,
    /// Show a progress bar.
    pub progress: bool,
    /// Set (by Ctrl-C) to stop early with an incomplete report.
    pub interrupted: Arc<AtomicBool>,
}

impl CrashTestOptions {
    /// True once the test must stop early: its flag is set, or the user
    /// pressed Ctrl-C (seen at once, whoever copies it to the flag).
    pub fn stopped(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst) || crate::interrupt::requested()
    }
}

/// One image to verify.
struct Job {
    id: u64,
    seq: u64,
    spec: ImageSpec,
    image: Image,
    input: Arc<VerifyInput>,
    lost: Vec<u64>,
    /// The writes in flight it lost, and the first later one it kept.
    loss: cause::Loss,
    kept: usize,
    /// The promise it breaks, by pmemvm's own check, if any.
    breach: Option<Breach>,
}

/// A verified image.
struct Outcome {
    job: Job,
    verdict: Result<Verdict, VmmError>,
}

/// Images the walk may queue before the workers start (it waits beyond).
const QUEUED_JOBS: usize = 1024;
/// Batches of events a recording may stream ahead of the walk.
const STREAMED_BATCHES: usize = 16;

/// Runs a crash test.
pub fn run(opts: &CrashTestOptions) -> Result<Report, VmmError> {
    let begin = Instant::now();
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| VmmError::Config {
        what: format!("--out {}", opts.out_dir.display()),
        reason: e.to_string(),
    })?;
    let trace = opts.out_dir.join("trace.jsonl");
    let bar = progress_bar(opts.progress);
    let done = record_walk_verify(opts, &trace, &bar, begin)?;
    bar.finish_and_clear();
    let header = done.header;
    let (verified, failures, point_results) =
        tally(opts, &trace, &header, &done.walk, done.outcomes)?;
    Ok(Report {
        tool_version: env!("CARGO_PKG_VERSION").into(),
        scenario: header.scenario.clone(),
        variant: header.variant.clone(),
        seed: header.seed,
        persistence: header.persistence.name().into(),
        atomicity: header.atomicity.name().into(),
        points: opts.points.to_string(),
        states: opts
            .states
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        trace: trace.display().to_string(),
        complete: !opts.stopped(),
        events: done.recorded.count,
        record_findings: done.recorded.findings.kept,
        record_findings_not_kept: done.recorded.findings.not_kept,
        counts: Counts {
            images_verified: verified,
            point_reasons: done
                .walk
                .reasons
                .values()
                .fold(BTreeMap::new(), |mut m, r| {
                    *m.entry(*r).or_insert(0) += 1;
                    m
                }),
            ..done.walk.counts
        },
        seconds: begin.elapsed().as_secs_f64(),
        record_seconds: done.record_secs,
        walk_seconds: done.walk.seconds,
        images_per_second: verified as f64 / done.verify_secs.max(1e-9),
        time_in_verifiers: done.timings.into(),
        failures,
        point_results,
    })
}

/// What recording, walking and verifying gave.
struct Done {
    recorded: Recorded,
    walk: Walk,
    header: Header,
    /// The verified images, in no order.
    outcomes: Vec<Outcome>,
    /// From `begin` to the end of the recording.
    record_secs: f64,
    /// From the moment the workers could start to the last verdict.
    verify_secs: f64,
    /// Where the verify VMs spent their time, summed.
    timings: Timings,
}

/// Records the run while a walk builds the images of its crash points
/// and workers (once the recording is over) verify them.
fn record_walk_verify(
    opts: &CrashTestOptions,
    trace: &Path,
    bar: &ProgressBar,
    begin: Instant,
) -> Result<Done, VmmError> {
    let vopts = VerifyOptions {
        guest: opts.run.guest.clone(),
        mem: opts.run.mem,
        timeout_secs: opts.run.timeout_secs,
        backing: opts.run.nvdimm.backing.clone(),
    };
    let setup = SharedSetup::default();
    let gate = Gate::default();
    // Set when the recording failed: the workers skip what is queued.
    let abort = AtomicBool::new(false);
    let (job_tx, job_rx) = sync_channel::<Job>(QUEUED_JOBS);
    let job_rx = Mutex::new(job_rx);
    let (out_tx, out_rx) = sync_channel::<Outcome>(opts.jobs.max(1) * 8);
    let timings = Mutex::new(Timings::default());
    // Points that need the whole trace are walked after the recording;
    // the others while it runs.
    let streamed = !PointSelector::needs_resolution(&opts.points);
    let (recorded, walk, outcomes, record_secs, verify_secs) = std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1) {
            let (tx, setup, gate, job_rx) = (out_tx.clone(), &setup, &gate, &job_rx);
            let (abort, timings) = (&abort, &timings);
            scope.spawn(move || {
                let stop = || abort.load(Ordering::SeqCst) || opts.stopped();
                let t = pool::worker(setup, gate, job_rx, &tx, &stop);
                if let Ok(mut sum) = timings.lock() {
                    *sum += t;
                }
            });
        }
        drop(out_tx);
        // The outcomes, and when the last verdict came.
        let collector = scope.spawn(|| {
            let mut last = Instant::now();
            let outcomes: Vec<Outcome> = out_rx
                .into_iter()
                .inspect(|_| {
                    bar.inc(1);
                    last = Instant::now();
                })
                .collect();
            (outcomes, last)
        });
        let queue = Queue {
            jobs: job_tx,
            gate: &gate,
        };
        let (stream_tx, stream_rx) = sync_channel(STREAMED_BATCHES);
        let (vopts, setup) = (&vopts, &setup);
        let (walker, queue) = if streamed {
            let walker = scope.spawn(move || {
                walk::walk(opts, vopts, Source::Stream(stream_rx), setup, &queue, bar)
            });
            (Some(walker), None)
        } else {
            (None, Some(queue))
        };
        let stream = streamed.then(|| RecordingStream(stream_tx));
        let recorded = record(opts, trace, stream);
        let record_secs = begin.elapsed().as_secs_f64();
        if recorded.is_err() {
            abort.store(true, Ordering::SeqCst);
        }
        // The workers may start: the recording is over.
        gate.open();
        let walk = match (walker, queue, &recorded) {
            (Some(w), _, _) => w.join().unwrap_or_else(|_| Err(VmmError::panicked("walk"))),
            (None, Some(queue), Ok(r)) => file_walk(opts, vopts, trace, r, setup, &queue, bar),
            (None, _, Err(_)) | (None, None, _) => Ok(Walk::default()),
        };
        // Workers still waiting for a setup that never came may go.
        setup.close();
        let (outcomes, last_verdict) = collector
            .join()
            .unwrap_or_else(|_| (Vec::new(), Instant::now()));
        let verify_secs = gate
            .opened_at()
            .map_or(0.0, |t| (last_verdict - t).as_secs_f64());
        (recorded, walk, outcomes, record_secs, verify_secs)
    });
    let recorded = recorded?;
    let walk = walk?;
    let header = setup
        .into_inner()
        .ok_or_else(|| VmmError::Internal("the walk never saw the recording's setup".into()))?
        .header;
    Ok(Done {
        recorded,
        walk,
        header,
        outcomes,
        record_secs,
        verify_secs,
        timings: timings.into_inner().unwrap_or_default(),
    })
}

/// The verdicts by point and by bug: the number verified, the bugs (in
/// the order of their first image) and every visited point's counts.
fn tally(
    opts: &CrashTestOptions,
    trace: &Path,
    header: &Header,
    walk: &Walk,
    mut outcomes: Vec<Outcome>,
) -> Result<(u64, Vec<Failure>, Vec<PointResult>), VmmError> {
    let mut per_point: BTreeMap<u64, PointResult> = walk
        .descriptions
        .keys()
        .map(|&seq| {
            (
                seq,
                PointResult {
                    seq,
                    ..PointResult::default()
                },
            )
        })
        .collect();
    let mut verified = 0;
    let mut failed: Vec<(Job, Verdict)> = Vec::new();
    outcomes.sort_by_key(|o| o.job.id);
    for o in outcomes {
        let guest = match o.verdict {
            Ok(v) => v,
            // A run Ctrl-C stopped verified nothing.
            Err(e) if e.fault() == Fault::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let verdict = promise_check::judge(guest, o.job.breach.as_ref());
        verified += 1;
        let point = per_point.entry(o.job.seq).or_default();
        point.seq = o.job.seq;
        point.verified += 1;
        if !verdict.passed {
            point.failed += 1;
            failed.push((o.job, verdict));
        }
    }
    // Symbols: the function of each lost store groups, its line is shown.
    let symbols = match Symbols::from_source(&opts.run.guest) {
        Ok(s) => Some(s),
        Err(e) => {
            log::warn!("no symbols for the report: {e}");
            None
        }
    };
    let resolve = |rip: u64| symbols.as_ref().and_then(|s| s.resolve(rip));
    let locate = |rip: u64| resolve(rip).map(|r| r.code.to_string());
    let function = |rip: u64| resolve(rip).map(|r| r.code.function);
    let keys: Vec<bugs::Key> = failed
        .iter()
        .map(|(job, verdict)| bugs::Key {
            check: verdict.check.clone(),
            lost: job
                .loss
                .lost
                .iter()
                .map(|w| bugs::location(w.rip, &function))
                .collect(),
            operation: match walk.windows.get(&job.seq).and_then(|w| w.from.as_ref()) {
                Some(CrashPoint::Mark { label, .. }) => label.clone(),
                _ => String::new(),
            },
        })
        .collect();
    let failures = bugs::group(&keys)
        .into_iter()
        .map(|members| {
            let (job, verdict) = &failed[bugs::lead(&members, &keys)];
            let rep = members
                .iter()
                .copied()
                .min_by_key(|&i| keys[i].lost.len())
                .unwrap_or(members[0]);
            let smallest = members
                .iter()
                .copied()
                .min_by_key(|&i| failed[i].0.lost.len())
                .unwrap_or(members[0]);
            let points: BTreeSet<u64> = members.iter().map(|&i| failed[i].0.seq).collect();
            Failure {
                check: verdict.check.clone(),
                message: verdict.message.clone(),
                images: members.len() as u64,
                points: points.len() as u64,
                cause: bugs::cause(&failed[rep].0.loss, &keys[rep].lost, &function, &locate),
                first: failed_image(opts, trace, job, &walk.descriptions),
                smallest: failed_image(opts, trace, &failed[smallest].0, &walk.descriptions),
                retest: retest_command(opts, header, walk.windows.get(&job.seq)),
                key: bugs::Key {
                    check: verdict.check.clone(),
                    ..keys[rep].clone()
                },
            }
        })
        .collect();
    Ok((verified, failures, per_point.into_values().collect()))
}

/// The command that crash-tests the current guest again in `window` only.
fn retest_command(opts: &CrashTestOptions, header: &Header, window: Option<&MarkWindow>) -> String {
    // A window restricts a set chosen event by event; a sampled set or a
    // single point re-tests as the default set in the window.
    let set = match &opts.points {
        PointSet::Window { set, .. } => (**set).clone(),
        set @ (PointSet::Fences
        | PointSet::AfterFences
        | PointSet::Stores
        | PointSet::Marks
        | PointSet::All) => set.clone(),
        _ => PointSet::Fences,
    };
    let window = window.cloned().unwrap_or_default();
    let points = PointSet::Window {
        set: Box::new(set),
        from: window.from,
        to: window.to,
    };
    let mut cmd = String::from("pmemvm crashtest");
    if let crate::guest::GuestSource::Path(p) = &opts.run.guest {
        let p = std::path::absolute(p).unwrap_or_else(|_| p.clone());
        cmd.push_str(&format!(
            " --guest {}",
            shell_word(&p.display().to_string())
        ));
    }
    cmd.push_str(&format!(
        " --scenario {} --variant {} --seed {} --persistence {} --atomicity {}",
        shell_word(&header.scenario),
        shell_word(&header.variant),
        header.seed,
        header.persistence.name(),
        header.atomicity.name()
    ));
    if let Some(b) = &opts.run.nvdimm.backing {
        cmd.push_str(&format!(" --nvdimm {}", shell_word(&b.to_string())));
    }
    if !header.recording.is_stores() {
        cmd.push_str(&format!(" --record {}", header.recording));
    }
    let states: Vec<String> = opts.states.iter().map(ToString::to_string).collect();
    let out = std::path::absolute(opts.out_dir.join("retest"))
        .unwrap_or_else(|_| opts.out_dir.join("retest"));
    cmd.push_str(&format!(
        " --points {} --states {} --out {}",
        shell_word(&points.to_string()),
        shell_word(&states.join(",")),
        shell_word(&out.display().to_string())
    ));
    cmd
}

/// `s` quoted for a POSIX shell when it needs to be.
pub(crate) fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@+%".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// What recording the run gave.
struct Recorded {
    /// Events recorded.
    count: u64,
    /// Checks the guest failed while recording.
    findings: Findings,
    /// The media at the end of the setup phase: the base of every image.
    setup_media: Arc<SharedMedia>,
}

/// Records the run; a guest that crashes here is a tool-level error.
/// `stream` gets the recording as it happens.
fn record(
    opts: &CrashTestOptions,
    trace: &Path,
    stream: Option<RecordingStream>,
) -> Result<Recorded, VmmError> {
    let mut config = opts.run.clone();
    // The user's backing file is the initial content; the test never
    // writes to it.
    config.nvdimm.backing = verify::read_only(opts.run.nvdimm.backing.as_ref());
    config.kind = RunKind::CrashTest {
        trace: trace.to_path_buf(),
        stream,
    };
    let mut console = ConsoleTail::default();
    let outcome = session::run(&config, &mut console).map_err(|e| match e.fault() {
        Fault::Guest => VmmError::Recording(Box::new(e)),
        _ => e,
    })?;
    if outcome.status != 0 && outcome.findings.is_empty() {
        return Err(VmmError::GuestStatus {
            status: outcome.status,
            mode: "record",
            console: console.text(),
        });
    }
    let (Some(_), Some(setup_media)) = (&outcome.media.trace, outcome.media.setup_media) else {
        return Err(never_set_up());
    };
    Ok(Recorded {
        count: outcome.media.events,
        findings: outcome.findings,
        setup_media,
    })
}

/// Walks the trace file of a finished recording `recorded` (points that
/// need the whole trace to resolve).
fn file_walk(
    opts: &CrashTestOptions,
    vopts: &VerifyOptions,
    trace: &Path,
    recorded: &Recorded,
    setup: &SharedSetup,
    queue: &Queue,
    bar: &ProgressBar,
) -> Result<Walk, VmmError> {
    let header = TraceReader::open(trace)?.header().clone();
    let resolved = selection::resolve(&opts.points, TraceReader::open(trace)?, opts.run.seed)?
        .into_iter()
        .collect::<BTreeSet<u64>>();
    let source = Source::File {
        path: trace.to_path_buf(),
        setup: Box::new(Setup::new(header, recorded.setup_media.clone(), vopts)),
        resolved,
    };
    walk::walk(opts, vopts, source, setup, queue, bar)
}

/// The error of a recording in which the guest never ended its setup
/// phase.
fn never_set_up() -> VmmError {
    VmmError::Protocol(
        "the guest never ended its setup phase in record mode, so nothing was recorded".into(),
    )
}

fn progress_bar(show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:30}] {pos}/{len} images verified, {msg} (ETA {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message("points: 0");
    bar
}

/// The report entry of a failed image.
fn failed_image(
    opts: &CrashTestOptions,
    trace: &Path,
    job: &Job,
    descriptions: &HashMap<u64, String>,
) -> FailedImage {
    let trace = std::path::absolute(trace).unwrap_or_else(|_| trace.to_path_buf());
    let mut reproduce = format!(
        "pmemvm verify --trace {} --at seq:{} --image '{}'",
        shell_word(&trace.display().to_string()),
        job.seq,
        job.spec
    );
    if let crate::guest::GuestSource::Path(p) = &opts.run.guest {
        let p = std::path::absolute(p).unwrap_or_else(|_| p.clone());
        reproduce.push_str(&format!(
            " --guest {}",
            shell_word(&p.display().to_string())
        ));
    }
    if let Some(b) = &opts.run.nvdimm.backing {
        reproduce.push_str(&format!(" --nvdimm '{b}'"));
    }
    FailedImage {
        point: format!("seq:{}", job.seq),
        description: descriptions.get(&job.seq).cloned().unwrap_or_default(),
        image: job.spec.to_string(),
        lost_lines: job.lost.iter().map(|l| format!("{l:#x}")).collect(),
        kept_lines: job.kept,
        reproduce,
    }
}
