//! The campaign's report: the distinct bugs across its cells, grouped as a
//! single crash test groups its images ([`bugs::group`]), each with the
//! cells that found it and its smallest reproducer; the cells that could
//! not run; counts. Shard reports merge into the report of the whole
//! campaign ([`merge`]). The JSON fields are described in
//! `traces/REPORT.md`.

use super::cell::{CellBug, CellResult, Status};
use crate::crashtest::bugs::{self, Key};
use crate::guest_report::Named;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The `format` of a campaign report.
pub const FORMAT: &str = "pmemvm-campaign-report-v1";

/// The arguments that define a campaign's matrix and its cells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arguments {
    /// The guest: `bundled`, or a path and the SHA-256 of its file.
    pub guest: String,
    /// Scenario.
    pub scenario: String,
    /// Variants, in the matrix's order.
    pub variants: Vec<String>,
    /// Persistence domains, in the matrix's order.
    pub persistence: Vec<String>,
    /// Seeds, compactly (`1..100,200`).
    pub seeds: String,
    /// Guest RAM in bytes.
    pub mem: u64,
    /// Time limit of each run, seconds.
    pub timeout: u64,
    /// `--points`.
    pub points: String,
    /// `--states`.
    pub states: String,
    /// `--max-images-per-point`.
    pub max_images_per_point: usize,
    /// `--atomicity`.
    pub atomicity: String,
    /// `--nvdimm`, if given.
    pub nvdimm: Option<String>,
    /// `--record` (absent: `stores`, so earlier campaigns keep their identity).
    #[serde(default, skip_serializing_if = "pmemvm_traces::Recording::is_stores")]
    pub recording: pmemvm_traces::Recording,
}

impl Arguments {
    /// The campaign's identity: a hash of the arguments and pmemvm's
    /// version (16 hex digits).
    pub fn identity(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        let mut h = Sha256::new();
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The cell that reproduces a bug with the shortest trace.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Reproducer {
    /// `variant/persistence/seed-N`.
    pub cell: String,
    /// Its variant.
    pub variant: String,
    /// Its persistence domain.
    pub persistence: String,
    /// Its seed.
    pub seed: u64,
    /// Events in its trace.
    pub events: u64,
    /// The command that verifies its first failed image again.
    pub reproduce: String,
    /// The command that re-tests a fix (crash-tests the window of the bug).
    pub retest: String,
    /// The command that crash-tests the cell alone.
    pub crashtest: String,
}

/// A distinct bug of the campaign.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CampaignBug {
    /// The check that failed (empty: unnamed).
    pub check: String,
    /// The guest's message in the smallest reproducer.
    pub message: String,
    /// The cause in one sentence (of the smallest reproducer).
    pub cause: String,
    /// Its grouping key.
    pub key: Key,
    /// The cells that found it, in the matrix's order.
    pub cells: Vec<String>,
    /// Failed images, summed over its cells.
    pub images: u64,
    /// The cell with the fewest events (then the smallest seed).
    pub smallest: Reproducer,
}

/// A cell that could not run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NotRun {
    /// `variant/persistence/seed-N`.
    pub cell: String,
    /// `guest-failure` or `error`.
    pub status: Status,
    /// Why.
    pub reason: String,
}

/// Counters of a campaign report.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CampaignCounts {
    /// Cells of the whole matrix.
    pub cells_total: usize,
    /// Cells with a result in this report.
    pub cells_reported: usize,
    /// Cells of the matrix without one (other shards, interrupted).
    pub cells_missing: usize,
    /// Cells where every image kept its promises.
    pub cells_passed: usize,
    /// Cells that found bugs.
    pub cells_with_bugs: usize,
    /// Cells whose guest failed.
    pub cells_guest_failure: usize,
    /// Cells pmemvm could not run.
    pub cells_error: usize,
    /// Distinct bugs.
    pub bugs: usize,
    /// Images verified, over the cells.
    pub images_verified: u64,
}

/// The campaign's report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CampaignReport {
    /// [`FORMAT`].
    pub format: String,
    /// pmemvm version.
    pub tool_version: String,
    /// The campaign's identity ([`Arguments::identity`]).
    pub campaign: String,
    /// The arguments that define it.
    pub arguments: Arguments,
    /// The shards this report covers (`K/N`); empty: every cell.
    pub shards: Vec<String>,
    /// False when interrupted or when cells are missing.
    pub complete: bool,
    /// True when Ctrl-C stopped the run (of a merged report: any shard's).
    pub interrupted: bool,
    /// Cells whose result an earlier run had stored (not run again).
    pub cells_skipped: usize,
    /// Wall-clock seconds of this run (summed over merged reports).
    pub seconds: f64,
    /// Counters.
    pub counts: CampaignCounts,
    /// The distinct bugs, in the order of the first cell that found each.
    pub bugs: Vec<CampaignBug>,
    /// Cells that could not run, in the matrix's order.
    pub not_run: Vec<NotRun>,
    /// Every cell's result, in the matrix's order.
    pub cells: Vec<CellResult>,
}

/// The report of `cells` (any order; one result per cell index kept) of
/// the campaign of `arguments`, which has `total` cells.
pub fn aggregate(arguments: &Arguments, total: usize, cells: Vec<CellResult>) -> CampaignReport {
    let mut by_index: BTreeMap<usize, CellResult> = BTreeMap::new();
    for c in cells {
        by_index.entry(c.cell.index).or_insert(c);
    }
    let cells: Vec<CellResult> = by_index.into_values().collect();
    // Every bug of every cell, in the matrix's order.
    let found: Vec<(&CellResult, &CellBug)> = cells
        .iter()
        .flat_map(|c| c.bugs.iter().map(move |b| (c, b)))
        .collect();
    let keys: Vec<Key> = found.iter().map(|(_, b)| b.key.clone()).collect();
    // A variant is another program: its bugs are grouped apart.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut start = 0;
    while start < found.len() {
        let variant = &found[start].0.cell.variant;
        let end = start
            + found[start..]
                .iter()
                .take_while(|(c, _)| c.cell.variant == *variant)
                .count();
        groups.extend(
            bugs::group(&keys[start..end])
                .into_iter()
                .map(|members| members.into_iter().map(|i| i + start).collect::<Vec<_>>()),
        );
        start = end;
    }
    let bugs: Vec<CampaignBug> = groups
        .into_iter()
        .map(|members| {
            let lead = bugs::lead(&members, &keys);
            let rep = members
                .iter()
                .copied()
                .min_by_key(|&i| keys[i].lost.len())
                .unwrap_or(lead);
            let smallest = members
                .iter()
                .copied()
                .min_by_key(|&i| {
                    (
                        found[i].0.events,
                        found[i].0.cell.seed,
                        found[i].0.cell.index,
                    )
                })
                .unwrap_or(lead);
            let mut labels: Vec<String> = Vec::new();
            for &i in &members {
                let label = found[i].0.cell.label();
                if !labels.contains(&label) {
                    labels.push(label);
                }
            }
            let (cell, bug) = found[smallest];
            CampaignBug {
                check: keys[lead].check.clone(),
                message: bug.message.clone(),
                cause: bug.cause.clone(),
                key: Key {
                    check: keys[lead].check.clone(),
                    ..keys[rep].clone()
                },
                cells: labels,
                images: members.iter().map(|&i| found[i].1.images).sum(),
                smallest: Reproducer {
                    cell: cell.cell.label(),
                    variant: cell.cell.variant.clone(),
                    persistence: cell.cell.persistence.clone(),
                    seed: cell.cell.seed,
                    events: cell.events,
                    reproduce: bug.reproduce.clone(),
                    retest: bug.retest.clone(),
                    crashtest: cell.crashtest.clone(),
                },
            }
        })
        .collect();
    let count = |s: Status| cells.iter().filter(|c| c.status == s).count();
    let counts = CampaignCounts {
        cells_total: total,
        cells_reported: cells.len(),
        cells_missing: total.saturating_sub(cells.len()),
        cells_passed: count(Status::Passed),
        cells_with_bugs: count(Status::Bugs),
        cells_guest_failure: count(Status::GuestFailure),
        cells_error: count(Status::Error),
        bugs: bugs.len(),
        images_verified: cells.iter().map(|c| c.images_verified).sum(),
    };
    let not_run = cells
        .iter()
        .filter(|c| matches!(c.status, Status::GuestFailure | Status::Error))
        .map(|c| NotRun {
            cell: c.cell.label(),
            status: c.status,
            reason: c.reason.clone().unwrap_or_default(),
        })
        .collect();
    CampaignReport {
        format: FORMAT.into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        campaign: arguments.identity(),
        arguments: arguments.clone(),
        shards: Vec::new(),
        complete: counts.cells_missing == 0,
        interrupted: false,
        cells_skipped: 0,
        seconds: 0.0,
        counts,
        bugs,
        not_run,
        cells,
    }
}

/// Merges shard reports into the report of their campaign: the same bugs
/// and counts an unsharded run gives. Refuses reports of different
/// campaigns, versions or formats.
pub fn merge(reports: Vec<(String, CampaignReport)>) -> Result<CampaignReport, String> {
    let Some((first_name, first)) = reports.first() else {
        return Err("no report to merge".into());
    };
    for (name, r) in &reports {
        if r.format != FORMAT {
            return Err(format!(
                "{name}: format `{}`, not a campaign report ({FORMAT})",
                r.format
            ));
        }
        if r.tool_version != first.tool_version {
            return Err(format!(
                "{name}: made by pmemvm {}, {first_name} by pmemvm {}: reports of different versions do not merge",
                r.tool_version, first.tool_version
            ));
        }
        if r.campaign != first.campaign || r.arguments != first.arguments {
            return Err(format!(
                "{name}: campaign {} ({}), {first_name} is campaign {} ({}): reports of different campaigns do not merge",
                r.campaign,
                r.arguments.describe(),
                first.campaign,
                first.arguments.describe()
            ));
        }
    }
    let (arguments, total) = (first.arguments.clone(), first.counts.cells_total);
    let mut shards: Vec<String> = Vec::new();
    let (mut seconds, mut skipped, mut interrupted) = (0.0, 0, false);
    let mut cells = Vec::new();
    for (_, r) in reports {
        shards.extend(r.shards.iter().cloned());
        seconds += r.seconds;
        skipped += r.cells_skipped;
        interrupted |= r.interrupted;
        cells.extend(r.cells);
    }
    let mut merged = aggregate(&arguments, total, cells);
    shards.sort();
    shards.dedup();
    merged.shards = if merged.counts.cells_missing == 0 {
        Vec::new()
    } else {
        shards
    };
    merged.interrupted = interrupted;
    merged.complete &= !interrupted;
    merged.seconds = seconds;
    merged.cells_skipped = skipped;
    Ok(merged)
}

impl Arguments {
    /// One line: scenario, variants, persistence, seeds.
    pub fn describe(&self) -> String {
        format!(
            "scenario {}, variants {}, persistence {}, seeds {}",
            self.scenario,
            self.variants.join(","),
            self.persistence.join(","),
            self.seeds
        )
    }
}

impl CampaignReport {
    /// The report for people.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let c = &self.counts;
        let _ = writeln!(
            s,
            "pmemvm campaign {}: {}",
            self.campaign,
            self.arguments.describe()
        );
        if !self.shards.is_empty() {
            let _ = writeln!(s, "shard(s): {}", self.shards.join(", "));
        }
        let _ = writeln!(
            s,
            "cells: {} of {} reported ({} passed, {} with bugs, {} guest failure(s), {} error(s)); {} skipped as done by an earlier run; {} images verified; {:.1} s",
            c.cells_reported,
            c.cells_total,
            c.cells_passed,
            c.cells_with_bugs,
            c.cells_guest_failure,
            c.cells_error,
            self.cells_skipped,
            c.images_verified,
            self.seconds
        );
        for n in &self.not_run {
            let what = match n.status {
                Status::GuestFailure => "the guest failed",
                _ => "could not run",
            };
            let _ = writeln!(s, "NOT RUN: {} ({what}): {}", n.cell, n.reason);
        }
        if self.bugs.is_empty() {
            let _ = writeln!(s, "no bug in any reported cell");
        } else {
            let _ = writeln!(s, "FAILED: {} distinct bug(s)", self.bugs.len());
        }
        for (i, b) in self.bugs.iter().enumerate() {
            let _ = writeln!(
                s,
                "[{}] {} (in {} cell(s), {} image(s))",
                i + 1,
                Named(&b.check, &b.message),
                b.cells.len(),
                b.images
            );
            let _ = writeln!(s, "    cause: {}", b.cause);
            let _ = writeln!(s, "    cells: {}", b.cells.join(" "));
            let r = &b.smallest;
            let _ = writeln!(
                s,
                "    smallest reproducer: {} ({} events)",
                r.cell, r.events
            );
            let _ = writeln!(s, "      reproduce: {}", r.reproduce);
            let _ = writeln!(s, "      re-test a fix: {}", r.retest);
        }
        if !self.complete {
            let _ = writeln!(
                s,
                "INCOMPLETE: {} cell(s) of the matrix have no result in this report",
                c.cells_missing
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::matrix::Cell;

    fn args() -> Arguments {
        Arguments {
            guest: "bundled".into(),
            scenario: "s".into(),
            variants: vec!["a".into(), "b".into()],
            persistence: vec!["mem-ctrl".into()],
            seeds: "1..2".into(),
            mem: 1,
            timeout: 1,
            points: "fences".into(),
            states: "minimal".into(),
            max_images_per_point: 1,
            atomicity: "line".into(),
            recording: Default::default(),
            nvdimm: None,
        }
    }

    fn cell(index: usize, seed: u64, events: u64, lost: &[&str]) -> CellResult {
        let c = Cell {
            index,
            variant: if index < 2 { "a" } else { "b" }.into(),
            persistence: "mem-ctrl".into(),
            seed,
        };
        let bugs: Vec<CellBug> = (!lost.is_empty())
            .then(|| CellBug {
                key: Key {
                    check: "k".into(),
                    lost: lost.iter().map(|s| s.to_string()).collect(),
                    operation: String::new(),
                },
                message: format!("seed {seed}"),
                cause: String::new(),
                images: 2,
                points: 1,
                reproduce: format!("verify {index}"),
                retest: String::new(),
            })
            .into_iter()
            .collect();
        let mut r = CellResult::not_run(
            "id",
            &c,
            Status::Passed,
            String::new(),
            "/".as_ref(),
            String::new(),
        );
        r.reason = None;
        r.events = events;
        r.status = if bugs.is_empty() {
            Status::Passed
        } else {
            Status::Bugs
        };
        r.bugs = bugs;
        r
    }

    #[test]
    fn cells_share_a_bug_by_key_and_its_smallest_reproducer_has_the_fewest_events() {
        let cells = vec![
            cell(0, 1, 10, &[]),
            cell(1, 2, 10, &[]),
            cell(2, 1, 40, &["f", "g"]),
            cell(3, 2, 30, &["f"]),
        ];
        let mut reversed = cells.clone();
        reversed.reverse();
        let r = aggregate(&args(), 4, cells);
        assert_eq!(r.bugs.len(), 1, "{:?}", r.bugs);
        let bug = &r.bugs[0];
        assert_eq!(bug.cells, ["b/mem-ctrl/seed-1", "b/mem-ctrl/seed-2"]);
        assert_eq!(bug.smallest.cell, "b/mem-ctrl/seed-2");
        assert_eq!(bug.images, 4);
        assert_eq!(bug.key.lost.len(), 1);
        assert_eq!(r.counts.cells_with_bugs, 2);
        assert!(r.complete);
        // The order the results come in changes nothing.
        assert_eq!(aggregate(&args(), 4, reversed).bugs, r.bugs);
        // The same key in another variant is another bug.
        let two = aggregate(
            &args(),
            4,
            vec![cell(1, 2, 10, &["f"]), cell(2, 1, 40, &["f"])],
        );
        assert_eq!(two.bugs.len(), 2, "{:?}", two.bugs);
        // Half the cells: incomplete.
        let half = aggregate(&args(), 4, vec![cell(0, 1, 10, &[])]);
        assert_eq!((half.counts.cells_missing, half.complete), (3, false));
    }
}
