//! The crash-test report: counts, time, and each bug once with
//! the command that reproduces it. Text for people, JSON for scripts (the
//! schema is in `traces/REPORT.md`).

use crate::guest_report::{Finding, Named};
use pmemvm_traces::PointReason;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// The cause of one failed image, as grouping sees it (`bugs` groups by it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Key {
    /// The check's stable name (empty: unnamed).
    pub check: String,
    /// The program locations (function, or RIP) of the lost writes.
    pub lost: BTreeSet<String>,
    /// The guest operation the point lies in: the label of the last mark
    /// before it (empty: none).
    pub operation: String,
}

/// One verified image that failed.
#[derive(Debug, Clone, Serialize)]
pub struct FailedImage {
    /// Crash point (`seq:N`).
    pub point: String,
    /// The point in the guest's words (its marks around it).
    pub description: String,
    /// The explicit image name.
    pub image: String,
    /// Lines (device offsets) whose content is older than their latest write.
    pub lost_lines: Vec<String>,
    /// Lines the run touched that hold their latest write.
    pub kept_lines: usize,
    /// The command that verifies exactly this image again.
    pub reproduce: String,
}

/// A write named in a bug's cause.
#[derive(Debug, Clone, Serialize)]
pub struct CauseWrite {
    /// Its sequence number in the trace (of the example image's run).
    pub seq: u64,
    /// The guest instruction that made it (hex).
    pub rip: String,
    /// `function (file:line)` when the guest has symbols.
    pub location: Option<String>,
    /// Device offset of its line (lost writes).
    pub line: Option<String>,
    /// What was missing for it to be persistent (lost writes).
    pub missing: Option<String>,
    /// The flush that covered it without a fence after (lost writes).
    pub flushed_by: Option<u64>,
}

/// What caused a bug, from its first image.
#[derive(Debug, Clone, Serialize)]
pub struct Cause {
    /// The writes lost, one per program location of the bug's key.
    pub lost: Vec<CauseWrite>,
    /// The last write in flight that persisted although it came after the
    /// first lost one (typically the commit of the lost data).
    pub kept_after: Option<CauseWrite>,
    /// The same in one sentence.
    pub summary: String,
}

/// A bug: every failed image with the same cause (the check that failed
/// and the program locations of the writes lost; see `bugs.rs`).
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// The stable name of the check that failed (empty: the guest gave none).
    pub check: String,
    /// The guest's message for the first image (details: offsets, values).
    pub message: String,
    /// How many verified images failed with this cause.
    pub images: u64,
    /// At how many crash points.
    pub points: u64,
    /// The writes lost and what was missing.
    pub cause: Cause,
    /// The first image.
    pub first: FailedImage,
    /// The image with the fewest lost lines.
    pub smallest: FailedImage,
    /// A command that records the current guest again and crash-tests only
    /// the window between the guest's marks where the bug showed: it fails
    /// while the bug is there and passes once it is fixed.
    pub retest: String,
    /// The bug's grouping key (its check, and the smallest set of lost
    /// locations and the operation of its images), for grouping the bugs
    /// of several crash tests the same way (`pmemvm campaign`).
    #[serde(skip)]
    pub key: Key,
}

/// What happened at one crash point (for the report's timeline).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PointResult {
    /// The seq just after which the point lies.
    pub seq: u64,
    /// Unique images verified there.
    pub verified: u64,
    /// Of which failed.
    pub failed: u64,
}

/// Counters of a crash test.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Crash points visited.
    pub points: u64,
    /// Images built.
    pub images_generated: u64,
    /// Distinct by (content, promises made).
    pub images_unique: u64,
    /// Verified by the guest.
    pub images_verified: u64,
    /// Points whose images were cut at `--max-images-per-point`.
    pub points_truncated: u64,
    /// Points visited, by why they were chosen.
    pub point_reasons: BTreeMap<PointReason, u64>,
}

/// Seconds spent by the verify VMs, by phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TimeBreakdown {
    /// Booting each VM to its snapshot point.
    pub boot: f64,
    /// Restoring dirty RAM pages and the vCPU state.
    pub restore_ram: f64,
    /// Re-registering the RAM memslot.
    pub reregister: f64,
    /// Restoring the NVDIMM and applying images.
    pub media: f64,
    /// The guest's recovery and checks.
    pub guest: f64,
}

impl From<crate::verify::Timings> for TimeBreakdown {
    fn from(t: crate::verify::Timings) -> Self {
        TimeBreakdown {
            boot: t.boot.as_secs_f64(),
            restore_ram: t.restore_ram.as_secs_f64(),
            reregister: t.reregister.as_secs_f64(),
            media: t.media.as_secs_f64(),
            guest: t.guest.as_secs_f64(),
        }
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// pmemvm version.
    pub tool_version: String,
    /// Scenario.
    pub scenario: String,
    /// Variant.
    pub variant: String,
    /// Seed.
    pub seed: u64,
    /// `mem-ctrl` or `cpu`.
    pub persistence: String,
    /// `line` or `word`.
    pub atomicity: String,
    /// `--points`.
    pub points: String,
    /// `--states`.
    pub states: String,
    /// The recorded trace.
    pub trace: String,
    /// False when the test was interrupted.
    pub complete: bool,
    /// Events recorded.
    pub events: u64,
    /// Checks the guest failed in record mode (the first of each check).
    pub record_findings: Vec<Finding>,
    /// Findings of record mode beyond those kept.
    pub record_findings_not_kept: u64,
    /// Counters.
    pub counts: Counts,
    /// Wall-clock seconds of the whole test (recording included).
    pub seconds: f64,
    /// Of which recording the run.
    pub record_seconds: f64,
    /// Wall-clock seconds of walking the recorded events and building the
    /// images (while the guest records, and after it for points that need
    /// the whole trace).
    pub walk_seconds: f64,
    /// Verified images per second of verification: from the end of the
    /// recording (or the moment the queue of images filled up, if earlier)
    /// to the last verdict.
    pub images_per_second: f64,
    /// Seconds the verify VMs spent, summed over workers, by phase.
    pub time_in_verifiers: TimeBreakdown,
    /// Bugs, in the order of their first image.
    pub failures: Vec<Failure>,
    /// Every visited point with its verified and failed images, in trace order.
    pub point_results: Vec<PointResult>,
}

impl Report {
    /// True when nothing failed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.record_findings.is_empty()
    }

    /// The report for people.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let c = &self.counts;
        let _ = writeln!(
            s,
            "pmemvm crashtest: scenario {}, variant {}, seed {}, persistence {}, atomicity {}",
            self.scenario, self.variant, self.seed, self.persistence, self.atomicity
        );
        let _ = writeln!(s, "recorded {} events; trace: {}", self.events, self.trace);
        let reasons: Vec<String> = c
            .point_reasons
            .iter()
            .map(|(r, n)| r.describe(*n))
            .collect();
        let _ = writeln!(
            s,
            "crash points: {} ({}: {}); states: {}",
            c.points,
            self.points,
            if reasons.is_empty() {
                "none".to_string()
            } else {
                reasons.join(", ")
            },
            self.states
        );
        let _ = writeln!(
            s,
            "images: {} generated, {} unique, {} verified, {} point(s) truncated",
            c.images_generated, c.images_unique, c.images_verified, c.points_truncated
        );
        let _ = writeln!(
            s,
            "time: {:.2} s (recording {:.2} s), {:.0} verified images per second{}",
            self.seconds,
            self.record_seconds,
            self.images_per_second,
            if self.complete {
                ""
            } else {
                " (INTERRUPTED: incomplete)"
            }
        );
        for f in &self.record_findings {
            let _ = writeln!(s, "RECORD-MODE FINDING: {f}");
        }
        if self.record_findings_not_kept > 0 {
            let _ = writeln!(
                s,
                "RECORD-MODE FINDINGS: {} more not kept",
                self.record_findings_not_kept
            );
        }
        if self.failures.is_empty() {
            if self.complete {
                let _ = writeln!(s, "no failure: every verified image kept its promises");
            } else {
                let _ = writeln!(
                    s,
                    "INTERRUPTED: no failure among the {} image(s) verified before the stop; the test is incomplete",
                    c.images_verified
                );
            }
            return s;
        }
        let _ = writeln!(s, "FAILED: {} bug(s)", self.failures.len());
        for (i, f) in self.failures.iter().enumerate() {
            let _ = writeln!(
                s,
                "[{}] {} ({} image(s) at {} point(s))",
                i + 1,
                Named(&f.check, &f.message),
                f.images,
                f.points
            );
            let _ = writeln!(s, "    cause: {}", f.cause.summary);
            for (name, image) in [("first", &f.first), ("smallest", &f.smallest)] {
                if name == "smallest" && image.reproduce == f.first.reproduce {
                    continue;
                }
                let _ = writeln!(s, "    {name} at {}: {}", image.point, image.description);
                let _ = writeln!(
                    s,
                    "      lost lines: {} (kept {})",
                    if image.lost_lines.is_empty() {
                        "none".to_string()
                    } else {
                        image.lost_lines.join(", ")
                    },
                    image.kept_lines
                );
                let _ = writeln!(s, "      reproduce: {}", image.reproduce);
            }
            let _ = writeln!(s, "    re-test a fix: {}", f.retest);
        }
        s
    }
}
