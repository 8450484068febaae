//! `pmemvm campaign`: crash-test a matrix of seeds, variants and
//! persistence domains, and report the distinct bugs across it.
//!
//! Each cell of the matrix is one crash test ([`crashtest::run`]) in
//! `DIR/cells/<variant>/<persistence>/seed-<n>/`; its result is written
//! there atomically when it finishes ([`cell`]), so a campaign started
//! again with the same arguments skips the cells already done, and one
//! with other arguments in the same directory is refused (`DIR/campaign.json`
//! holds the campaign's identity). Cells run concurrently, the worker VMs
//! (`jobs`) divided among them. `shard` runs a deterministic part of the
//! cells; [`report::merge`] combines the shards' reports.

pub mod cell;
pub mod html;
pub mod matrix;
pub mod report;

use crate::crashtest::shell_word;
use crate::crashtest::{self, CrashTestOptions};
use crate::error::{Fault, VmmError};
use cell::{CellResult, Status};
use indicatif::{ProgressBar, ProgressStyle};
use matrix::{Cell, Shard};
use pmemvm_device::model::Persistence;
use report::{Arguments, CampaignReport};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The file naming the campaign in its directory.
pub const IDENTITY_FILE: &str = "campaign.json";

/// Everything a campaign needs.
#[derive(Debug, Clone)]
pub struct CampaignOptions {
    /// The crash test of every cell; its variant, seed, persistence domain,
    /// output directory, jobs, progress and interrupt flag are the cell's.
    pub base: CrashTestOptions,
    /// The arguments that define the matrix (variants, persistence, seeds)
    /// and the cells.
    pub arguments: Arguments,
    /// The seeds, sorted.
    pub seeds: Vec<u64>,
    /// Only this shard of the cells.
    pub shard: Option<Shard>,
    /// The campaign's directory.
    pub out_dir: PathBuf,
    /// Worker VMs in all.
    pub jobs: usize,
    /// Show a progress bar.
    pub progress: bool,
    /// Set (by Ctrl-C) to stop: cells under way end incomplete and are not
    /// kept.
    pub interrupted: Arc<AtomicBool>,
}

/// What `campaign.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct Identity {
    format: String,
    tool_version: String,
    campaign: String,
    arguments: Arguments,
}

/// The guest as a campaign's identity names it: `bundled`, or its path
/// and the SHA-256 of its content.
pub fn guest_identity(source: &crate::guest::GuestSource) -> Result<String, VmmError> {
    use sha2::{Digest, Sha256};
    match source {
        crate::guest::GuestSource::Bundled => Ok("bundled".into()),
        crate::guest::GuestSource::Path(p) => {
            let bytes = std::fs::read(p).map_err(|e| VmmError::Config {
                what: format!("--guest {}", p.display()),
                reason: e.to_string(),
            })?;
            let hash: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let p = std::path::absolute(p).unwrap_or_else(|_| p.clone());
            Ok(format!("{} (sha256 {hash})", p.display()))
        }
    }
}

/// Runs the campaign: its shard's cells not already done, then the report
/// of every cell of the shard.
pub fn run(opts: &CampaignOptions) -> Result<CampaignReport, VmmError> {
    let begin = Instant::now();
    let a = &opts.arguments;
    let campaign = claim(&opts.out_dir, a)?;
    let all = matrix::cells(&a.variants, &a.persistence, &opts.seeds);
    let mine: Vec<Cell> = all
        .iter()
        .filter(|c| opts.shard.is_none_or(|s| s.contains(c.index)))
        .cloned()
        .collect();
    let mut results: Vec<CellResult> = Vec::new();
    let mut todo: Vec<Cell> = Vec::new();
    for c in mine {
        match cell::load(&opts.out_dir, &campaign, &c) {
            Some(r) => results.push(r),
            None => todo.push(c),
        }
    }
    let skipped = results.len();
    if skipped > 0 {
        log::info!("{skipped} cell(s) done by an earlier run: skipped");
    }
    let bar = progress_bar(opts.progress, todo.len());
    let ran = run_cells(opts, &campaign, &todo, &bar)?;
    bar.finish_and_clear();
    results.extend(ran);
    let mut report = report::aggregate(a, all.len(), results);
    report.shards = opts.shard.iter().map(ToString::to_string).collect();
    report.cells_skipped = skipped;
    report.seconds = begin.elapsed().as_secs_f64();
    report.interrupted = opts.interrupted.load(Ordering::SeqCst) || crate::interrupt::requested();
    report.complete &= !report.interrupted;
    Ok(report)
}

/// Checks that `out` holds no other campaign, and names it this one's.
fn claim(out: &Path, a: &Arguments) -> Result<String, VmmError> {
    let config = |reason: String| VmmError::Config {
        what: format!("--out {}", out.display()),
        reason,
    };
    std::fs::create_dir_all(out).map_err(|e| config(e.to_string()))?;
    let campaign = a.identity();
    let path = out.join(IDENTITY_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let theirs: Identity = serde_json::from_str(&text).map_err(|e| {
            config(format!(
                "{} is not a campaign's identity ({e}); use another directory",
                path.display()
            ))
        })?;
        if theirs.campaign != campaign {
            return Err(config(format!(
                "holds campaign {} (pmemvm {}; {}), these arguments make campaign {} ({}): \
                 run it with its own arguments to resume it, or use another --out",
                theirs.campaign,
                theirs.tool_version,
                theirs.arguments.describe(),
                campaign,
                a.describe()
            )));
        }
        return Ok(campaign);
    }
    let id = Identity {
        format: report::FORMAT.into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        campaign: campaign.clone(),
        arguments: a.clone(),
    };
    let text = serde_json::to_string_pretty(&id).map_err(|e| VmmError::Internal(e.to_string()))?;
    pmemvm_traces::files::write_output(&path, text.as_bytes())
        .map_err(|e| config(e.to_string()))?;
    Ok(campaign)
}

/// Runs `todo`: as many cells at once as there are jobs (at most one per
/// cell), the jobs divided among them.
fn run_cells(
    opts: &CampaignOptions,
    campaign: &str,
    todo: &[Cell],
    bar: &ProgressBar,
) -> Result<Vec<CellResult>, VmmError> {
    let workers = opts.jobs.clamp(1, todo.len().max(1));
    let per_cell = (opts.jobs / workers).max(1);
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let failed: Mutex<Option<VmmError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    if opts.interrupted.load(Ordering::SeqCst) {
                        break;
                    }
                    let Some(c) = todo.get(next.fetch_add(1, Ordering::SeqCst)) else {
                        break;
                    };
                    match run_cell(opts, campaign, c, per_cell) {
                        Ok(Some(r)) => {
                            if let Ok(mut v) = results.lock() {
                                v.push(r);
                            }
                        }
                        Ok(None) => {}
                        Err(e) => {
                            if let Ok(mut f) = failed.lock() {
                                f.get_or_insert(e);
                            }
                            opts.interrupted.store(true, Ordering::SeqCst);
                        }
                    }
                    bar.inc(1);
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(results.into_inner().unwrap_or_default())
}

/// Runs one cell and stores its result; none when interrupted.
fn run_cell(
    opts: &CampaignOptions,
    campaign: &str,
    c: &Cell,
    jobs: usize,
) -> Result<Option<CellResult>, VmmError> {
    let dir = c.dir(&opts.out_dir);
    let persistence: Persistence = c.persistence.parse().map_err(|_| VmmError::Config {
        what: format!("--persistence {}", c.persistence),
        reason: "expected mem-ctrl or cpu".into(),
    })?;
    let mut o = opts.base.clone();
    o.run.variant = c.variant.clone();
    o.run.seed = c.seed;
    o.run.nvdimm.persistence = persistence;
    o.out_dir = dir.clone();
    o.jobs = jobs;
    o.progress = false;
    o.interrupted = opts.interrupted.clone();
    let command = crashtest_command(&o, &c.persistence);
    let result = match crashtest::run(&o) {
        Ok(r) if !r.complete => return Ok(None),
        Ok(r) => CellResult::from_report(campaign, c, &r, &dir, command),
        Err(e) => match e.fault() {
            Fault::Interrupted => return Ok(None),
            Fault::Guest => CellResult::not_run(
                campaign,
                c,
                Status::GuestFailure,
                e.to_string(),
                &dir,
                command,
            ),
            Fault::Input | Fault::Internal => {
                CellResult::not_run(campaign, c, Status::Error, e.to_string(), &dir, command)
            }
        },
    };
    if result.status != Status::Error
        && let Err(e) = cell::store(&opts.out_dir, &result)
    {
        return Err(VmmError::Config {
            what: format!("--out {}", opts.out_dir.display()),
            reason: format!("cannot keep the result of cell {}: {e}", c.label()),
        });
    }
    Ok(Some(result))
}

/// The command that crash-tests one cell alone.
fn crashtest_command(o: &CrashTestOptions, persistence: &str) -> String {
    let mut cmd = String::from("pmemvm crashtest");
    if let crate::guest::GuestSource::Path(p) = &o.run.guest {
        let p = std::path::absolute(p).unwrap_or_else(|_| p.clone());
        cmd.push_str(&format!(
            " --guest {}",
            shell_word(&p.display().to_string())
        ));
    }
    let states: Vec<String> = o.states.iter().map(ToString::to_string).collect();
    cmd.push_str(&format!(
        " --scenario {} --variant {} --seed {} --persistence {persistence} --atomicity {} \
         --points {} --states {} --max-images-per-point {} --mem {} --timeout {}",
        shell_word(&o.run.scenario),
        shell_word(&o.run.variant),
        o.run.seed,
        o.run.nvdimm.atomicity.name(),
        shell_word(&o.points.to_string()),
        shell_word(&states.join(",")),
        o.max_images_per_point,
        o.run.mem,
        o.run.timeout_secs
    ));
    if let Some(b) = &o.run.nvdimm.backing {
        cmd.push_str(&format!(" --nvdimm {}", shell_word(&b.to_string())));
    }
    if !o.run.nvdimm.recording.is_stores() {
        cmd.push_str(&format!(" --record {}", o.run.nvdimm.recording));
    }
    let out = std::path::absolute(&o.out_dir).unwrap_or_else(|_| o.out_dir.clone());
    cmd.push_str(&format!(
        " --out {}",
        shell_word(&out.display().to_string())
    ));
    cmd
}

fn progress_bar(show: bool, cells: usize) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(cells as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:30}] {pos}/{len} cells crash-tested (ETA {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
