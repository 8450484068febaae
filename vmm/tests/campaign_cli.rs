//! `pmemvm campaign` and `pmemvm report merge` as a user runs them (real
//! KVM): the distinct bugs across a matrix, resuming, sharding and merging.

mod common;
use common::{kvm, text};

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// The small matrix of the tests: pmem-log's correct and no-fence variants
/// (the second loses a record: one bug), seeds 1 and 2.
const MATRIX: &[&str] = &[
    "--scenario",
    "pmem-log",
    "--variants",
    "correct,no-fence",
    "--seeds",
    "1..2",
    "--jobs",
    "2",
];

fn pmemvm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pmemvm"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("runs")
}

/// `pmemvm campaign MATRIX --out out --json` with the options and values
/// of `extra` (pairs) replacing or added to MATRIX's.
fn campaign(out: &Path, extra: &[&str]) -> Output {
    let out = out.to_str().expect("utf-8");
    let mut args = vec!["campaign", "--out", out, "--json"];
    args.extend(MATRIX);
    for pair in extra.chunks(2) {
        match args.iter().position(|a| *a == pair[0]) {
            Some(at) => args[at + 1] = pair[1],
            None => args.extend(pair),
        }
    }
    pmemvm(&args)
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

/// Checks `report` against the campaign report's JSON Schema.
fn valid(report: &Value) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../traces/schema/campaign-report-v1.schema.json"
    );
    let schema: Value =
        serde_json::from_slice(&std::fs::read(path).expect("schema")).expect("schema JSON");
    let v = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = v.iter_errors(report).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

/// A report's bugs without the paths of its directory: what two runs of
/// one campaign in two directories share.
fn bugs(report: &Value) -> Vec<Value> {
    report["bugs"]
        .as_array()
        .expect("bugs")
        .iter()
        .map(|b| {
            serde_json::json!({
                "check": b["check"], "key": b["key"], "cells": b["cells"],
                "images": b["images"], "cause": b["cause"],
                "smallest": b["smallest"]["cell"], "events": b["smallest"]["events"],
            })
        })
        .collect()
}

#[test]
fn a_campaign_reports_the_buggy_variant_s_bug_once_with_its_cells() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let out = campaign(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let r = json(&out);
    valid(&r);
    assert_eq!(r["counts"]["cells_total"], 4, "{r}");
    assert_eq!(r["counts"]["cells_passed"], 2, "{r}");
    assert_eq!(r["counts"]["cells_with_bugs"], 2, "{r}");
    assert_eq!(r["counts"]["bugs"], 1, "{r}");
    assert_eq!(r["complete"], true);
    let bug = &r["bugs"][0];
    assert_eq!(bug["check"], "log-record-intact", "{bug}");
    assert_eq!(
        bug["cells"],
        serde_json::json!(["no-fence/mem-ctrl/seed-1", "no-fence/mem-ctrl/seed-2"])
    );
    assert_eq!(bug["smallest"]["cell"], "no-fence/mem-ctrl/seed-1", "{bug}");
    let reproduce = bug["smallest"]["reproduce"].as_str().expect("command");
    assert!(
        reproduce.starts_with("pmemvm verify --trace "),
        "{reproduce}"
    );
    // Every correct cell passed, and stored its result.
    for cell in r["cells"].as_array().expect("cells") {
        let correct = cell["cell"]["variant"] == "correct";
        assert_eq!(
            cell["status"],
            if correct { "passed" } else { "bugs" },
            "{cell}"
        );
        let label = format!(
            "cells/{}/mem-ctrl/seed-{}/cell.json",
            cell["cell"]["variant"].as_str().expect("variant"),
            cell["cell"]["seed"]
        );
        assert!(dir.path().join(label).is_file());
    }
    // The same in text and HTML, without running a cell again.
    let html = dir.path().join("campaign.html");
    let out = pmemvm(&[
        "campaign",
        "--html",
        html.to_str().expect("utf-8"),
        "--out",
        dir.path().to_str().expect("utf-8"),
        "--scenario",
        "pmem-log",
        "--variants",
        "correct,no-fence",
        "--seeds",
        "1,2",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(t.contains("FAILED: 1 distinct bug(s)"), "{t}");
    assert!(
        t.contains("smallest reproducer: no-fence/mem-ctrl/seed-1"),
        "{t}"
    );
    let page = std::fs::read_to_string(&html).expect("the page");
    assert!(page.contains("1 BUG(S)"), "{page}");
    assert_eq!(page.matches("class=\"sq fail\"").count(), 2, "{page}");
    assert_eq!(page.matches("class=\"sq pass\"").count(), 2, "{page}");
}

#[test]
fn a_campaign_run_again_skips_the_cells_done_and_refuses_other_arguments() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let first = campaign(dir.path(), &[]);
    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stderr));
    let first = json(&first);
    assert_eq!(first["cells_skipped"], 0);
    let again = campaign(dir.path(), &[]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("4 cell(s) done by an earlier run"),
        "{}",
        text(&again.stderr)
    );
    let again = json(&again);
    assert_eq!(again["cells_skipped"], 4);
    assert_eq!(again["counts"], first["counts"]);
    assert_eq!(again["bugs"], first["bugs"]);
    // One result lost: only that cell runs again.
    let lost = dir.path().join("cells/no-fence/mem-ctrl/seed-2/cell.json");
    std::fs::remove_file(&lost).expect("remove");
    let third = campaign(dir.path(), &[]);
    assert_eq!(third.status.code(), Some(1), "{}", text(&third.stderr));
    let third = json(&third);
    assert_eq!(third["cells_skipped"], 3);
    assert!(lost.is_file(), "the cell ran again and kept its result");
    assert_eq!(third["counts"], first["counts"]);
    assert_eq!(third["bugs"], first["bugs"]);
    // Other seeds in the same directory: another campaign, refused.
    let other = campaign(dir.path(), &["--seeds", "1..3"]);
    assert_eq!(other.status.code(), Some(2));
    let err = text(&other.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("--out") && err.contains("holds campaign") && err.contains("seeds 1..2"),
        "{err}"
    );
}

#[test]
fn a_campaign_killed_halfway_finishes_without_redoing_its_finished_cells() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().to_str().expect("utf-8");
    let args = [
        "campaign",
        "--out",
        out,
        "--scenario",
        "pmem-log",
        "--variants",
        "correct",
        "--seeds",
        "1..8",
        "--jobs",
        "1",
        "--json",
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_pmemvm"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let results = || {
        (1..=8)
            .filter(|s| {
                dir.path()
                    .join(format!("cells/correct/mem-ctrl/seed-{s}/cell.json"))
                    .is_file()
            })
            .count()
    };
    let start = std::time::Instant::now();
    while results() == 0 && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().expect("kill");
    child.wait().expect("ends");
    let done = results();
    assert!((1..8).contains(&done), "{done} cell(s) done when killed");
    let again = pmemvm(&args);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    let r = json(&again);
    assert_eq!(r["cells_skipped"], done, "{r}");
    assert_eq!(r["counts"]["cells_passed"], 8, "{r}");
    assert_eq!(r["complete"], true);
}

#[test]
fn three_shards_merged_give_the_unsharded_report_and_other_campaigns_do_not_merge() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let whole = campaign(&dir.path().join("whole"), &[]);
    assert_eq!(whole.status.code(), Some(1), "{}", text(&whole.stderr));
    let whole = json(&whole);
    let shared = dir.path().join("shards");
    let mut reports = Vec::new();
    for (k, cells) in [("1/3", 2), ("2/3", 1), ("3/3", 1)] {
        let file = dir.path().join(format!("shard-{}.json", &k[..1]));
        let file = file.to_str().expect("utf-8").to_string();
        let out = campaign(&shared, &["--shard", k, "--report", &file]);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            text(&out.stderr)
        );
        let r = json(&out);
        valid(&r);
        assert_eq!(r["counts"]["cells_reported"], cells, "{r}");
        assert_eq!(r["complete"], false);
        reports.push(file);
    }
    let merged_file = dir.path().join("merged.json");
    let merged_file = merged_file.to_str().expect("utf-8");
    let out = pmemvm(&[
        "report",
        "merge",
        &reports[0],
        &reports[1],
        &reports[2],
        "--report",
        merged_file,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let merged = json(&out);
    valid(&merged);
    assert_eq!(merged["counts"], whole["counts"]);
    assert_eq!(bugs(&merged), bugs(&whole));
    assert_eq!(merged["campaign"], whole["campaign"]);
    assert_eq!(merged["complete"], true);
    assert_eq!(merged["shards"], serde_json::json!([]));
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(merged_file).expect("written"))
            .expect("json");
    assert_eq!(written["counts"], whole["counts"]);
    // A report of another campaign (other seeds) is refused.
    let other_file = dir.path().join("other.json");
    let other_file = other_file.to_str().expect("utf-8");
    let other = campaign(
        &dir.path().join("other"),
        &["--seeds", "3", "--report", other_file],
    );
    assert_eq!(other.status.code(), Some(1), "{}", text(&other.stderr));
    let out = pmemvm(&["report", "merge", &reports[0], other_file]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("different campaigns") && err.contains(other_file),
        "{err}"
    );
    // And one of another version.
    let mut r: Value =
        serde_json::from_str(&std::fs::read_to_string(&reports[1]).expect("read")).expect("json");
    r["tool_version"] = "0.0.0-other".into();
    let old = dir.path().join("old.json");
    std::fs::write(&old, r.to_string()).expect("write");
    let out = pmemvm(&["report", "merge", &reports[0], old.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("different versions"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_matrices_are_one_line_errors_naming_the_option() {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().to_str().expect("utf-8");
    for (args, named) in [
        (&["--seeds", "5..1"][..], "--seeds 5..1"),
        (&["--seeds", "1..x"][..], "--seeds 1..x"),
        (&["--shard", "3/2"][..], "--shard 3/2"),
        (&["--shard", "half"][..], "--shard half"),
    ] {
        let mut all = vec!["campaign", "--out", out, "--scenario", "pmem-log"];
        all.extend(args);
        let o = pmemvm(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = text(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(named), "{err}");
    }
}

#[test]
fn cells_whose_guest_fails_are_listed_not_run_and_exit_3() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().to_str().expect("utf-8");
    let run = || {
        pmemvm(&[
            "campaign",
            "--out",
            out,
            "--scenario",
            "panic",
            "--seeds",
            "1..2",
            "--json",
        ])
    };
    let first = run();
    assert_eq!(first.status.code(), Some(3), "{}", text(&first.stderr));
    let r = json(&first);
    valid(&r);
    assert_eq!(r["counts"]["cells_guest_failure"], 2, "{r}");
    assert_eq!(r["counts"]["bugs"], 0, "{r}");
    let not_run = r["not_run"].as_array().expect("not_run");
    assert_eq!(not_run.len(), 2, "{r}");
    assert_eq!(not_run[0]["status"], "guest-failure");
    assert!(
        not_run[0]["reason"]
            .as_str()
            .is_some_and(|s| s.contains("status 101")),
        "{r}"
    );
    // Kept: a run again does not boot them again, and says the same.
    let again = run();
    assert_eq!(again.status.code(), Some(3));
    assert_eq!(json(&again)["cells_skipped"], 2);
    // A variant the scenario does not have: one line, exit 2.
    let o = pmemvm(&[
        "campaign",
        "--out",
        out,
        "--scenario",
        "pmem-log",
        "--variants",
        "correct,nope",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("--variants nope") && err.contains("no-fence"),
        "{err}"
    );
}

#[test]
fn ctrl_c_stops_a_campaign_with_a_report_marked_incomplete() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    // Each cell's images spin in recovery until the 30 s time limit.
    let child = Command::new(env!("CARGO_BIN_EXE_pmemvm"))
        .args([
            "campaign",
            "--guest",
            guest_tests::HOSTILE_ELF,
            "--scenario",
            "verify",
            "--variants",
            "spin",
            "--seeds",
            "1..3",
            "--timeout",
            "30",
            "--jobs",
            "1",
            "--json",
            "--out",
        ])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    std::thread::sleep(std::time::Duration::from_secs(4));
    let signalled = std::time::Instant::now();
    // SAFETY: signals our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().expect("ends");
    let took = signalled.elapsed();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(took < std::time::Duration::from_secs(3), "{took:?}");
    let r = json(&out);
    valid(&r);
    assert_eq!(r["complete"], false, "{r}");
    assert_eq!(r["interrupted"], true, "{r}");
}
