//! `--record epochs` on the command line: the trace says how it was
//! recorded and marks its epochs, every command reads it, a crash point
//! inside an epoch is refused with the nearest instants, and a crash test
//! finds the commonest persistent-memory bug in that mode.

mod common;
use common::{kvm, outside, pmemvm, text, utf8};

/// Records `pmem-log`/`variant` by epochs into `dir/t.jsonl`.
fn record(dir: &std::path::Path, variant: &str) -> std::path::PathBuf {
    let trace = dir.join(format!("{variant}.jsonl"));
    let out = pmemvm(&[
        "run",
        "--scenario",
        "pmem-log",
        "--variant",
        variant,
        "--record",
        "epochs",
        "--trace",
        utf8(&trace),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    trace
}

/// The events of a `.jsonl` trace, the header first.
fn lines(trace: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(trace)
        .expect("trace")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

#[test]
fn an_epochs_trace_says_so_and_marks_its_epochs() {
    if !kvm() {
        return;
    }
    let dir = outside("epochs-trace");
    let trace = record(&dir, "correct");
    let all = lines(&trace);
    assert_eq!(all[0]["recording"], "epochs");
    let events = &all[1..all.len() - 1];
    // Every fence ends an epoch (the doorbell after it), and no store
    // carries an instruction address.
    for e in events {
        if e["kind"] == "sfence" {
            assert_eq!(e["epoch_end"], true, "{e}");
        }
        if e["kind"] == "store" {
            assert_eq!(e["rip"], "0x0", "{e}");
        }
    }
    assert!(events.iter().all(|e| e["kind"] != "ntstore"));
    for cmd in [
        vec!["trace", "stats", utf8(&trace)],
        vec!["trace", "show", utf8(&trace)],
        vec!["trace", "lines", utf8(&trace), "--at", "end"],
    ] {
        let out = pmemvm(&cmd);
        assert_eq!(out.status.code(), Some(0), "{cmd:?}: {}", text(&out.stderr));
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_point_inside_an_epoch_is_refused_with_the_nearest_instants() {
    if !kvm() {
        return;
    }
    let dir = outside("epochs-points");
    let trace = record(&dir, "correct");
    let all = lines(&trace);
    let events = &all[1..all.len() - 1];
    // The first store of the first epoch with stores, and its closing fence.
    let first_store = events
        .iter()
        .position(|e| e["kind"] == "store")
        .expect("a store");
    let fence = first_store
        + events[first_store..]
            .iter()
            .position(|e| e["epoch_end"] == true)
            .expect("the epoch ends");
    assert_eq!(events[fence]["kind"], "sfence");
    let inside = format!("seq:{}", first_store + 1);
    for cmd in [
        vec!["trace", "states", utf8(&trace), "--at", &inside],
        vec![
            "trace",
            "why",
            utf8(&trace),
            "--line",
            "0x1000",
            "--at",
            &inside,
        ],
        vec!["verify", "--trace", utf8(&trace), "--at", &inside],
    ] {
        let out = pmemvm(&cmd);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd:?}: {err}");
        assert!(err.contains("inside an epoch"), "{cmd:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    // Just before the fence that ends the epoch (ADR) is an instant.
    let before_fence = format!("seq:{fence}");
    let out = pmemvm(&["trace", "states", utf8(&trace), "--at", &before_fence]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // A recording's power cut and a crash test's single point likewise.
    let cut = pmemvm(&[
        "run",
        "--scenario",
        "pmem-log",
        "--record",
        "epochs",
        "--power-fail-at",
        &inside,
    ]);
    assert_eq!(cut.status.code(), Some(2), "{}", text(&cut.stderr));
    assert!(text(&cut.stderr).contains("inside an epoch"));
    let ct = pmemvm(&[
        "crashtest",
        "--scenario",
        "pmem-log",
        "--record",
        "epochs",
        "--points",
        &inside,
        "--out",
        utf8(&dir.join("ct")),
    ]);
    assert_eq!(ct.status.code(), Some(2), "{}", text(&ct.stderr));
    assert!(text(&ct.stderr).contains("inside an epoch"));
    let bad = pmemvm(&["run", "--record", "fast"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("--record fast: unknown recording mode"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_crash_test_by_epochs_finds_a_missing_fence() {
    if !kvm() {
        return;
    }
    let dir = outside("epochs-crashtest");
    let out = pmemvm(&[
        "crashtest",
        "--scenario",
        "pmem-log",
        "--variant",
        "no-fence",
        "--record",
        "epochs",
        "--out",
        utf8(&dir),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("FAILED: 1 bug(s)"), "{stdout}");
    assert!(
        stdout.contains("recorded by epochs: no instruction")
            && stdout.contains("a fence is missing"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
