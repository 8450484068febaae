//! `pmemvm campaign` and `pmemvm report merge`.

use super::{CheckedGuestArgs, NvdimmArgs};
use pmemvm::campaign::matrix::{self, Shard};
use pmemvm::campaign::report::{self, Arguments, CampaignReport};
use pmemvm::campaign::{self, CampaignOptions};
use pmemvm::crashtest::{CrashTestOptions, states};
use pmemvm::session::RunConfig;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Arguments of `pmemvm campaign`.
#[derive(Debug, clap::Args)]
pub struct CampaignArgs {
    #[command(flatten)]
    guest: CheckedGuestArgs,
    /// Scenario (`pmemvm scenarios` lists them). Default: `dax-fsync` on the
    /// bundled guest, the only scenario of a `--guest` that has one.
    #[arg(long)]
    scenario: Option<String>,
    /// Seeds: numbers and inclusive ranges, e.g. `1..1000` or `1,5,9..12`.
    #[arg(long, default_value = "1")]
    seeds: String,
    /// Variants, comma-separated, or `all` (every variant the guest lists).
    #[arg(long, default_value = "correct")]
    variants: String,
    /// Persistence domains, comma-separated: mem-ctrl (ADR), cpu (eADR).
    #[arg(long, value_name = "DOMAINS", default_value = "mem-ctrl")]
    persistence: String,
    /// How stores are recorded, as `crashtest --record` takes it: stores or epochs.
    #[arg(long, value_name = "MODE", default_value = "stores")]
    record: String,
    /// Failure atomicity unit of the model: line or word.
    #[arg(long, value_name = "UNIT", default_value = "line")]
    atomicity: String,
    /// Backing file of the NVDIMM, as `crashtest --nvdimm` takes it.
    #[arg(long, value_name = "OPTIONS")]
    nvdimm: Vec<String>,
    /// Crash points of each cell, as `crashtest --points` takes them.
    #[arg(long, default_value = "fences")]
    points: String,
    /// Crash images at each point, as `crashtest --states` takes them.
    #[arg(long, default_value = states::DEFAULT_STATES)]
    states: String,
    /// At most this many images per crash point.
    #[arg(long, default_value_t = 256)]
    max_images_per_point: usize,
    /// Worker VMs in all (default: the number of cores): that many cells
    /// run at once, the VMs divided among them.
    #[arg(long)]
    jobs: Option<usize>,
    /// Run shard K of N (from 1) of the cells: those whose index is K-1
    /// modulo N. `auto`: from SLURM_ARRAY_TASK_ID and
    /// SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX and PMEMVM_SHARDS.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// The campaign's directory: its identity, and each cell's trace and
    /// result (kept: a run again with the same arguments skips done cells).
    #[arg(long, value_name = "DIR", default_value = "pmemvm-campaign")]
    out: PathBuf,
    /// Also write the report as JSON there (`pmemvm report merge` reads it).
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

/// Runs the campaign; exit statuses as `crashtest`'s.
pub fn run(a: &CampaignArgs) -> anyhow::Result<i32> {
    for (option, path) in [("--report", &a.report), ("--html", &a.html)] {
        if let Some(path) = path {
            super::check_output(option, path)?;
        }
    }
    let seeds =
        matrix::parse_seeds(&a.seeds).map_err(|e| super::bad_value("--seeds", &a.seeds, e))?;
    let shard = match a.shard.as_deref() {
        None => None,
        Some("auto") => Some(
            Shard::from_env(&|k| std::env::var(k).ok())
                .map_err(|e| anyhow::anyhow!("--shard auto: {e}"))?,
        ),
        Some(s) => Some(
            s.parse::<Shard>()
                .map_err(|e| super::bad_value("--shard", s, e))?,
        ),
    };
    let guest = a.guest.guest()?;
    let points: pmemvm_traces::PointSet = a
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
    let mut persistence: Vec<String> = Vec::new();
    for p in a.persistence.split(',').map(str::trim) {
        let checked = NvdimmArgs {
            nvdimm: Vec::new(),
            persistence: p.into(),
            atomicity: "line".into(),
            record: "stores".into(),
        };
        checked.options()?;
        if !persistence.iter().any(|q| q == p) {
            persistence.push(p.into());
        }
    }
    let nvdimm = NvdimmArgs {
        nvdimm: a.nvdimm.clone(),
        persistence: "mem-ctrl".into(),
        atomicity: a.atomicity.clone(),
        record: a.record.clone(),
    }
    .options()?;
    let (scenario, variants) = matrix_of(a, &guest)?;
    let arguments = Arguments {
        guest: campaign::guest_identity(&guest.source)?,
        scenario: scenario.clone(),
        variants,
        persistence,
        seeds: matrix::seeds_spec(&seeds),
        mem: guest.mem,
        timeout: guest.timeout,
        points: points.to_string(),
        states: states
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        max_images_per_point: a.max_images_per_point,
        atomicity: nvdimm.atomicity.name().into(),
        nvdimm: nvdimm.backing.as_ref().map(ToString::to_string),
        recording: nvdimm.recording,
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    // Copies Ctrl-C into the campaign's own flag until it ends.
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
    let progress = !a.json && std::io::stderr().is_terminal();
    let opts = CampaignOptions {
        base: CrashTestOptions {
            run: RunConfig {
                guest: guest.source,
                scenario,
                mem: guest.mem,
                timeout_secs: guest.timeout,
                nvdimm,
                ..RunConfig::default()
            },
            points,
            states,
            max_images_per_point: a.max_images_per_point,
            jobs,
            out_dir: a.out.clone(),
            progress: false,
            interrupted: interrupted.clone(),
        },
        arguments,
        seeds,
        shard,
        out_dir: a.out.clone(),
        jobs,
        progress,
        interrupted: interrupted.clone(),
    };
    let result = campaign::run(&opts);
    let stopped = pmemvm::interrupt::requested();
    interrupted.store(true, Ordering::SeqCst);
    let _ = watcher.join();
    let mut report = result?;
    report.interrupted |= stopped;
    report.complete &= !stopped;
    if report.cells_skipped > 0 {
        eprintln!(
            "pmemvm: {} cell(s) done by an earlier run in {}: skipped",
            report.cells_skipped,
            a.out.display()
        );
    }
    finish(&report, a.report.as_ref(), a.html.as_ref(), a.json)
}

/// The scenario (as `crashtest` chooses it) and the variants of
/// `--variants` (`all`: the guest's for the scenario), checked with the
/// guest, asked once in list mode.
fn matrix_of(a: &CampaignArgs, guest: &super::Guest) -> anyhow::Result<(String, Vec<String>)> {
    if let Some(s) = &a.scenario {
        pmemvm::session::check_name("scenario", s)?;
    }
    let known = pmemvm::session::list_scenarios(&guest.source, guest.mem, guest.timeout)?;
    let names: Vec<&str> = known.iter().map(|s| s.name.as_str()).collect();
    let scenario = match (&a.scenario, &guest.source, known.as_slice()) {
        (Some(s), _, _) => s.clone(),
        (None, pmemvm::guest::GuestSource::Bundled, _) => super::BUNDLED_DEFAULT_SCENARIO.into(),
        (None, _, [only]) => only.name.clone(),
        (None, source, _) => anyhow::bail!(
            "--guest {} has {} scenarios, choose one with --scenario: {}",
            source.name(),
            known.len(),
            names.join(", ")
        ),
    };
    anyhow::ensure!(
        names.contains(&scenario.as_str()),
        "--scenario {}: unknown scenario; the guest has: {}",
        pmemvm_abi::shown::Shown(&scenario),
        names.join(", ")
    );
    let variants = variants(&a.variants, &known, &scenario)?;
    Ok((scenario, variants))
}

/// The variants of `--variants`: `all` is the guest's for the scenario.
fn variants(
    spec: &str,
    known: &[pmemvm::guest_report::ScenarioInfo],
    scenario: &str,
) -> anyhow::Result<Vec<String>> {
    let listed: Vec<String> = known
        .iter()
        .find(|s| s.name == scenario)
        .map(|s| s.variants.iter().map(|v| v.name.clone()).collect())
        .unwrap_or_default();
    let asked: Vec<String> = if spec.trim() == "all" {
        anyhow::ensure!(
            !listed.is_empty(),
            "--variants all: scenario {scenario} lists no variants; name them"
        );
        listed.clone()
    } else {
        spec.split(',').map(|v| v.trim().to_string()).collect()
    };
    let mut out: Vec<String> = Vec::new();
    for v in asked {
        pmemvm::session::check_name("variant", &v)?;
        anyhow::ensure!(
            matrix::plain_name(&v),
            "--variants {}: a variant names a directory of the campaign: letters, digits, `._-+`",
            pmemvm_abi::shown::Shown(&v)
        );
        anyhow::ensure!(
            listed.is_empty() || listed.contains(&v),
            "--variants {}: scenario {scenario} has no such variant; it has: {}",
            pmemvm_abi::shown::Shown(&v),
            listed.join(", ")
        );
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

/// Writes and prints `report`; its exit status.
fn finish(
    report: &CampaignReport,
    path: Option<&PathBuf>,
    html: Option<&PathBuf>,
    json: bool,
) -> anyhow::Result<i32> {
    if let Some(path) = path {
        super::write_output(
            "--report",
            path,
            serde_json::to_string_pretty(report)?.as_bytes(),
        )?;
    }
    if let Some(path) = html {
        let page = campaign::html::render(report)?;
        super::write_output("--html", path, page.as_bytes())?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{}", report.to_text());
    }
    let c = &report.counts;
    if report.interrupted {
        eprintln!(
            "pmemvm: INTERRUPTED: {} cell(s) of {} have a result, {} bug(s) found before the stop; the report is marked incomplete",
            c.cells_reported,
            c.cells_total,
            report.bugs.len()
        );
        return Ok(super::EXIT_INTERRUPTED);
    }
    Ok(if !report.bugs.is_empty() {
        super::EXIT_FINDINGS
    } else if c.cells_guest_failure > 0 {
        super::EXIT_GUEST_FAILURE
    } else if c.cells_error > 0 {
        super::EXIT_CANNOT_RUN
    } else {
        0
    })
}

/// `pmemvm report ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Merge the reports of a campaign's shards into the campaign's report.
    Merge(MergeArgs),
}

/// Arguments of `pmemvm report merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The shards' reports (`pmemvm campaign --report`).
    #[arg(required = true, value_name = "REPORT")]
    reports: Vec<PathBuf>,
    /// Write the merged report as JSON there.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Also write the merged report as one self-contained HTML page there.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Print the merged report as JSON on stdout instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `pmemvm report`; exit statuses as the campaign's.
pub fn report(c: &ReportCommand) -> anyhow::Result<i32> {
    let ReportCommand::Merge(a) = c;
    for (option, path) in [("--report", &a.report), ("--html", &a.html)] {
        if let Some(path) = path {
            super::check_output(option, path)?;
        }
    }
    let mut reports = Vec::new();
    for path in &a.reports {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let r: CampaignReport = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{name}: not a campaign report ({e})"))?;
        reports.push((name, r));
    }
    let merged = report::merge(reports).map_err(|e| anyhow::anyhow!("{e}"))?;
    finish(&merged, a.report.as_ref(), a.html.as_ref(), a.json)
}
