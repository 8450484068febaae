//! `pmemvm crashtest`.

use super::{CheckedGuestArgs, NvdimmArgs, WorkloadArgs};
use pmemvm::crashtest::{self, CrashTestOptions, states};
use pmemvm::session::RunConfig;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Arguments of `pmemvm crashtest`.
#[derive(Debug, clap::Args)]
pub struct CrashTestArgs {
    #[command(flatten)]
    guest: CheckedGuestArgs,
    #[command(flatten)]
    workload: WorkloadArgs,
    #[command(flatten)]
    nvdimm: NvdimmArgs,
    /// Crash points. `fences` (default): just before every fence (sfence,
    /// mfence, locked RMW) and clflush, and under eADR every drain point,
    /// with writes in flight; `after-fences`: just after every fence that
    /// follows a write; `stores`, `marks`: just after each; `all`; `seq:A..B`;
    /// `random:N`; one point (seq:N, fence:K, store:K, promise:K,
    /// mark:LABEL[#K], end); `SET@FROM..TO`: a set's points from one point
    /// to another (either may be empty). Every set also crashes just after
    /// every promise, every `crash` mark and the last event.
    #[arg(long, default_value = "fences")]
    points: String,
    /// Crash images at each point: minimal, maximal, exhaustive:N, subsets:K, sample:N.
    #[arg(long, default_value = states::DEFAULT_STATES)]
    states: String,
    /// At most this many images per crash point.
    #[arg(long, default_value_t = 256)]
    max_images_per_point: usize,
    /// Worker VMs (default: the number of cores; at most 4 per core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Directory for the trace (kept for the reproduction commands).
    #[arg(long, value_name = "DIR", default_value = "pmemvm-crashtest")]
    out: PathBuf,
    /// Also write the report as JSON there.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Also write the report as one self-contained HTML page there.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Print the report as JSON on stdout instead of text.
    #[arg(long)]
    json: bool,
}

/// `--jobs` accepts at most this many worker VMs per core.
const MAX_JOBS_PER_CORE: usize = 4;

/// Runs the crash test; exit 0 no failure, 1 failures found.
pub fn run(a: &CrashTestArgs) -> anyhow::Result<i32> {
    for (option, path) in [("--report", &a.report), ("--html", &a.html)] {
        if let Some(path) = path {
            super::check_output(option, path)?;
        }
    }
    let guest = a.guest.guest()?;
    let points = a
        .points
        .parse()
        .map_err(|e| super::bad_value("--points", &a.points, e))?;
    let states = states::parse_list(&a.states)?;
    anyhow::ensure!(
        a.max_images_per_point > 0,
        "--max-images-per-point 0: at least one image per point is needed"
    );
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let max_jobs = MAX_JOBS_PER_CORE * cores;
    let jobs = a.jobs.unwrap_or(cores);
    anyhow::ensure!(
        (1..=max_jobs).contains(&jobs),
        "--jobs {jobs}: the number of worker VMs must be between 1 and {max_jobs} ({MAX_JOBS_PER_CORE} per core)"
    );
    let scenario = a.workload.scenario(&guest)?;
    let interrupted = Arc::new(AtomicBool::new(false));
    // Copies Ctrl-C into the test's own flag until the test ends.
    let watcher = {
        let flag = interrupted.clone();
        std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                if pmemvm::interrupt::requested() {
                    flag.store(true, Ordering::SeqCst);
                }
                std::thread::sleep(pmemvm::watchdog::POLL);
            }
        })
    };
    let opts = CrashTestOptions {
        run: RunConfig {
            guest: guest.source,
            scenario,
            variant: a.workload.variant.clone(),
            seed: a.workload.seed,
            mem: guest.mem,
            timeout_secs: guest.timeout,
            nvdimm: a.nvdimm.options()?,
            ..RunConfig::default()
        },
        points,
        states,
        max_images_per_point: a.max_images_per_point,
        jobs,
        out_dir: a.out.clone(),
        progress: !a.json && std::io::stderr().is_terminal(),
        interrupted: interrupted.clone(),
    };
    let result = crashtest::run(&opts);
    let stopped = pmemvm::interrupt::requested();
    interrupted.store(true, Ordering::SeqCst);
    let _ = watcher.join();
    let report = result.map_err(|e| match e.fault() {
        pmemvm::Fault::Interrupted => pmemvm::VmmError::Interrupted(
            "during the recording: nothing was verified, no report written",
        ),
        _ => e,
    })?;
    if let Some(path) = &a.report {
        super::write_output(
            "--report",
            path,
            serde_json::to_string_pretty(&report)?.as_bytes(),
        )?;
    }
    if let Some(path) = &a.html {
        let page = crashtest::html::render_report(&report)?;
        super::write_output("--html", path, page.as_bytes())?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    if stopped || !report.complete {
        eprintln!(
            "pmemvm: INTERRUPTED: {} image(s) verified, {} bug(s) found before the stop; the report is marked incomplete",
            report.counts.images_verified,
            report.failures.len()
        );
        return Ok(super::EXIT_INTERRUPTED);
    }
    Ok(if report.passed() {
        0
    } else {
        super::EXIT_FINDINGS
    })
}
