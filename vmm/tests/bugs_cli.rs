//! Crash tests report bugs, not messages (real KVM): each historical bug
//! of the bundled agent is one bug on its own scenario, with the cause and
//! a re-test command that fails while the bug is there and passes on the
//! fixed design.

mod common;
use common::{kvm, pmemvm, run_printed, shell_words as words, text};

use std::path::PathBuf;

/// The eleven bug variants (each has a scenario of the same name) and the
/// correct design their scenario runs against (V1's script applies to
/// v4.5 only).
const BUGS: [(&str, &str); 11] = [
    ("towrite_clear_before_flush", "correct"),
    ("no_pfn_mkwrite_tracking", "correct-v410"),
    ("pmd_lookup_bytes_as_index", "correct-v410"),
    ("pte_before_radix_entry", "correct-v410"),
    ("msync_only_vma_flush", "correct"),
    ("sync_skips_dax", "correct"),
    ("invalidate_drops_dirty_entry", "correct-v410"),
    ("missing_fence_after_clwb", "correct"),
    ("clean_without_wrprotect", "correct-v410"),
    ("mkwrite_pte_upgrade_unlocked", "correct-v410"),
    ("metadata_not_committed", "correct"),
];

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pmemvm-bugs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

#[test]
fn each_historical_bug_is_one_bug_and_its_retest_passes_once_fixed() {
    if !kvm() {
        return;
    }
    for (bug, fixed) in BUGS {
        let d = dir(bug);
        let out = pmemvm(&[
            "crashtest",
            "--scenario",
            bug,
            "--variant",
            bug,
            "--out",
            d.to_str().expect("utf-8"),
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(1), "{bug}: {}", text(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let bugs = report["failures"].as_array().expect("failures");
        assert_eq!(bugs.len(), 1, "{bug}: {:#}", report["failures"]);
        let b = &bugs[0];
        assert!(b["images"].as_u64() >= Some(1) && b["points"].as_u64() >= Some(1));
        assert!(!b["cause"]["summary"].as_str().unwrap_or("").is_empty());
        let retest = b["retest"].as_str().expect("a re-test command");
        assert!(
            words(retest).iter().any(|w| w.starts_with("fences@")),
            "{retest}"
        );
        // The re-test runs the current guest in the bug's window: it fails
        // on the buggy design and passes on the fixed one.
        let (code, again) = run_printed(retest, None);
        assert_eq!(code, Some(1), "{bug}: re-test {retest}: {again:#}");
        assert!(
            again["counts"]["points"].as_u64() <= report["counts"]["points"].as_u64(),
            "{bug}: the re-test visits only the window"
        );
        let (code, after_fix) = run_printed(retest, Some(("--variant", fixed)));
        assert_eq!(
            code,
            Some(0),
            "{bug}: the re-test on {fixed} should pass: {:#}",
            after_fix["failures"]
        );
        assert!(after_fix["counts"]["images_verified"].as_u64() >= Some(1));
        std::fs::remove_dir_all(&d).ok();
    }
}

/// `pmem-log` (the bundled agent's persistent append-only log): `no-fence`
/// flushes each record and forgets the fence before writing the commit
/// record; `commit-first` persists the commit before the record.
#[test]
fn the_default_points_catch_a_log_without_its_fence_as_one_bug_with_its_source_lines() {
    if !kvm() {
        return;
    }
    let d = dir("log");
    let crashtest = |variant: &str, extra: &[&str]| {
        let out_dir = d.join(variant);
        let mut args = vec![
            "crashtest",
            "--scenario",
            "pmem-log",
            "--variant",
            variant,
            "--out",
            out_dir.to_str().expect("utf-8"),
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = pmemvm(&args);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{variant}: not JSON ({e}): {}", text(&out.stderr)));
        (out.status.code(), report)
    };
    let (code, correct) = crashtest("correct", &[]);
    assert_eq!(code, Some(0), "{:#}", correct["failures"]);
    let (code, bug) = crashtest("no-fence", &[]);
    assert_eq!(code, Some(1), "the default points must catch it");
    let bugs = bug["failures"].as_array().expect("failures");
    assert_eq!(
        bugs.len(),
        1,
        "one bug, not one per record: {:#}",
        bug["failures"]
    );
    let b = &bugs[0];
    assert_eq!(b["check"], "log-record-intact");
    assert!(
        b["images"].as_u64() > Some(8),
        "found at every append: {b:#}"
    );
    let lost = &b["cause"]["lost"][0];
    let kept = &b["cause"]["kept_after"];
    let at = |w: &serde_json::Value| w["location"].as_str().unwrap_or("").to_string();
    assert!(
        at(lost).contains("pmem_log::Log::write") && at(lost).contains("pmem_log.rs:"),
        "the lost store's source line: {lost:#}"
    );
    assert!(
        lost["flushed_by"].as_u64().is_some(),
        "flushed, not fenced: {lost:#}"
    );
    assert!(
        at(kept).contains("pmem_log::Log::commit"),
        "the commit store that persisted without the fence before it: {kept:#}"
    );
    let summary = b["cause"]["summary"].as_str().unwrap_or("");
    assert!(summary.contains("a fence is missing"), "{summary}");
    // The old default crashes only where everything flushed is durable.
    let (code, old) = crashtest("no-fence", &["--points", "after-fences"]);
    assert_eq!(code, Some(0), "{:#}", old["failures"]);
    // Committing first is one bug too: an ordering no crash survives.
    let (code, first) = crashtest("commit-first", &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        first["failures"].as_array().map(Vec::len),
        Some(1),
        "{:#}",
        first["failures"]
    );
    // The re-test fails on the buggy build and passes on the fixed one.
    let retest = b["retest"].as_str().expect("re-test");
    assert_eq!(run_printed(retest, None).0, Some(1), "{retest}");
    assert_eq!(
        run_printed(retest, Some(("--variant", "correct"))).0,
        Some(0),
        "{retest}"
    );
    std::fs::remove_dir_all(&d).ok();
}

/// The bugs of a report: each one's check and the locations of the writes
/// its cause lost.
fn bug_set(report: &serde_json::Value) -> std::collections::BTreeSet<String> {
    report["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|b| {
            let mut lost: Vec<String> = b["cause"]["lost"]
                .as_array()
                .expect("lost")
                .iter()
                .map(|w| {
                    w["location"]
                        .as_str()
                        .or(w["rip"].as_str())
                        .unwrap_or("")
                        .to_string()
                })
                .collect();
            lost.sort();
            format!("{}: {}", b["check"], lost.join(", "))
        })
        .collect()
}

/// On the bundled scenarios small enough to verify every image of every
/// point, the default points find the bugs that crashing after every event
/// finds (`traces/CRASH-POINTS.md`; `completeness.rs` does the same on
/// generated programs without VMs).
#[test]
fn on_the_bundled_scenarios_the_default_points_find_what_every_point_finds() {
    if !kvm() {
        return;
    }
    let mut cases: Vec<(&str, &str)> = BUGS.iter().map(|(bug, _)| (*bug, *bug)).collect();
    cases.extend([
        ("pmem-smoke", "no-fence"),
        ("pmem-smoke", "correct"),
        ("pmem-log", "no-fence"),
        ("pmem-log", "commit-first"),
        ("pmem-log", "correct"),
        ("missing_fence_after_clwb", "correct"),
    ]);
    let d = dir("complete");
    let mut compared = 0;
    for (scenario, variant) in cases {
        let run = |points: &str| {
            let out = pmemvm(&[
                "crashtest",
                "--scenario",
                scenario,
                "--variant",
                variant,
                "--points",
                points,
                "--states",
                "exhaustive:4096",
                "--max-images-per-point",
                "4096",
                "--out",
                d.to_str().expect("utf-8"),
                "--json",
            ]);
            let report: serde_json::Value =
                serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                    panic!(
                        "{scenario}/{variant}: not JSON ({e}): {}",
                        text(&out.stderr)
                    )
                });
            report
        };
        let all = run("all");
        if all["counts"]["points_truncated"].as_u64() != Some(0) {
            continue;
        }
        let default = run("fences");
        assert_eq!(default["counts"]["points_truncated"].as_u64(), Some(0));
        assert_eq!(
            bug_set(&default),
            bug_set(&all),
            "{scenario}/{variant}: the default points find other bugs than every point"
        );
        compared += 1;
    }
    assert!(
        compared >= 12,
        "only {compared} scenarios were small enough"
    );
    std::fs::remove_dir_all(&d).ok();
}
