//! One cell's result: what the campaign's report needs of its crash test,
//! written atomically to `cell.json` in the cell's directory when the cell
//! finishes, so a campaign started again skips it.

use super::matrix::Cell;
use crate::crashtest::bugs::Key;
use crate::crashtest::report::Report;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file of a cell's result, in its directory.
pub const RESULT_FILE: &str = "cell.json";

/// How a cell ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Every image kept its promises.
    Passed,
    /// The crash test found bugs.
    Bugs,
    /// The guest failed (exception, time limit, protocol violation,
    /// non-zero status): `crashtest` would exit 3.
    GuestFailure,
    /// pmemvm could not run the cell (bad input, an internal error):
    /// `crashtest` would exit 2. Not kept: a new run tries it again.
    Error,
}

/// A bug as one cell found it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellBug {
    /// The grouping key single crash tests use (check, lost locations,
    /// operation).
    pub key: Key,
    /// The guest's message.
    pub message: String,
    /// The cause in one sentence.
    pub cause: String,
    /// Images that failed with it.
    pub images: u64,
    /// At how many crash points.
    pub points: u64,
    /// The command that verifies its first image again.
    pub reproduce: String,
    /// The command that re-tests a fix.
    pub retest: String,
}

/// A cell's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellResult {
    /// The campaign's identity.
    pub campaign: String,
    /// Which cell.
    pub cell: Cell,
    /// How it ended.
    pub status: Status,
    /// Why it could not run (guest failure, error).
    pub reason: Option<String>,
    /// Events its recording holds (the length of its trace).
    pub events: u64,
    /// Images verified.
    pub images_verified: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Of which recording the run.
    #[serde(default)]
    pub record_seconds: f64,
    /// Its crash test's output directory.
    pub out_dir: String,
    /// The command that crash-tests the cell alone.
    pub crashtest: String,
    /// Its bugs, in its crash test's order (record-mode findings last).
    pub bugs: Vec<CellBug>,
}

/// The operation named by the key of a check the guest failed while
/// recording (before any crash).
pub const RECORD_MODE: &str = "record mode";

impl CellResult {
    /// The result of a finished crash test `report` of `cell`.
    pub fn from_report(
        campaign: &str,
        cell: &Cell,
        report: &Report,
        out_dir: &Path,
        crashtest: String,
    ) -> CellResult {
        let mut bugs: Vec<CellBug> = report
            .failures
            .iter()
            .map(|f| CellBug {
                key: f.key.clone(),
                message: f.message.clone(),
                cause: f.cause.summary.clone(),
                images: f.images,
                points: f.points,
                reproduce: f.first.reproduce.clone(),
                retest: f.retest.clone(),
            })
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        for f in &report.record_findings {
            if seen.insert(f.check.clone()) {
                bugs.push(CellBug {
                    key: Key {
                        check: f.check.clone(),
                        lost: Default::default(),
                        operation: RECORD_MODE.into(),
                    },
                    message: f.message.clone(),
                    cause: "the guest failed the check while recording, before any crash".into(),
                    images: 0,
                    points: 0,
                    reproduce: crashtest.clone(),
                    retest: crashtest.clone(),
                });
            }
        }
        CellResult {
            campaign: campaign.into(),
            cell: cell.clone(),
            status: if bugs.is_empty() {
                Status::Passed
            } else {
                Status::Bugs
            },
            reason: None,
            events: report.events,
            images_verified: report.counts.images_verified,
            seconds: report.seconds,
            record_seconds: report.record_seconds,
            out_dir: out_dir.display().to_string(),
            crashtest,
            bugs,
        }
    }

    /// The result of a cell that could not run.
    pub fn not_run(
        campaign: &str,
        cell: &Cell,
        status: Status,
        reason: String,
        out_dir: &Path,
        crashtest: String,
    ) -> CellResult {
        CellResult {
            campaign: campaign.into(),
            cell: cell.clone(),
            status,
            reason: Some(reason),
            events: 0,
            images_verified: 0,
            seconds: 0.0,
            record_seconds: 0.0,
            out_dir: out_dir.display().to_string(),
            crashtest,
            bugs: Vec::new(),
        }
    }
}

/// Where the result of `cell` of the campaign in `out` lies.
pub fn path(out: &Path, cell: &Cell) -> PathBuf {
    cell.dir(out).join(RESULT_FILE)
}

/// Writes a cell's result atomically (a temporary file and a rename).
pub fn store(out: &Path, result: &CellResult) -> Result<(), String> {
    let path = path(out, &result.cell);
    let text = serde_json::to_string_pretty(result).map_err(|e| e.to_string())?;
    pmemvm_traces::files::write_output(&path, text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The stored result of `cell` of campaign `campaign`, if a run finished
/// it (a result of another campaign, or one unreadable, is none).
pub fn load(out: &Path, campaign: &str, cell: &Cell) -> Option<CellResult> {
    let path = path(out, cell);
    let text = std::fs::read_to_string(&path).ok()?;
    match serde_json::from_str::<CellResult>(&text) {
        Ok(r) if r.campaign == campaign && r.cell == *cell && r.status != Status::Error => Some(r),
        Ok(_) => None,
        Err(e) => {
            log::warn!(
                "{}: not a cell result ({e}); the cell runs again",
                path.display()
            );
            None
        }
    }
}
