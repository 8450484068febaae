//! The mini DAX file system of the bundled agent under real KVM: every
//! scenario runs in record mode, deterministically; generic-080's trace
//! shows the write-protect fault, the DIRTY tag and the flush of the page;
//! verify mode passes at the end of every scenario.

use guest_tests::{require_kvm, run_scenario, scenario};
use pmemvm::run_kind::RunKind;
use pmemvm::verify::{VerifyOptions, verify_trace};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A fresh temporary directory for one test.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pmemvm-dax-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Records `name` with `seed` into `trace`; asserts it exits 0.
fn record(name: &str, seed: u64, trace: &Path) {
    let mut config = scenario(name);
    config.seed = seed;
    config.kind = RunKind::Record {
        trace: Some(trace.to_path_buf()),
        power_cut: None,
    };
    let (result, console) = run_scenario(&config);
    let outcome = result.unwrap_or_else(|e| panic!("{name} seed {seed}: {e}\n{console}"));
    assert_eq!(outcome.status, 0, "{name} seed {seed}: {console}");
    assert!(console.contains("operations done"), "{console}");
}

fn events(trace: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(trace).expect("trace");
    let doc: Value = serde_json::from_str(&text).expect("trace is JSON");
    doc["events"].as_array().expect("events").clone()
}

fn is_mark(e: &Value, label: &str) -> bool {
    e["kind"] == "mark" && e["label"] == label
}

fn hex(v: &Value) -> u64 {
    let s = v.as_str().expect("hex string");
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex")
}

#[test]
fn every_scenario_records_deterministically() {
    require_kvm!();
    let dir = temp_dir("determinism");
    for (name, seed) in [
        ("dax-fsync", 1),
        ("generic-080", 1),
        ("fsx", 1),
        ("fsx", 4),
        ("pmem-log", 1),
        ("pmem-log", 2),
    ] {
        let a = dir.join(format!("{name}-{seed}-a.json"));
        let b = dir.join(format!("{name}-{seed}-b.json"));
        record(name, seed, &a);
        record(name, seed, &b);
        assert!(
            std::fs::read(&a).expect("a") == std::fs::read(&b).expect("b"),
            "{name} seed {seed}: two runs gave different traces"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn generic_080_tags_dirty_on_the_write_protect_fault_and_flushes_the_page() {
    require_kvm!();
    let dir = temp_dir("g080");
    let trace = dir.join("g080.json");
    record("generic-080", 1, &trace);
    let ev = events(&trace);
    let pos = |label: &str| {
        ev.iter()
            .position(|e| is_mark(e, label))
            .unwrap_or_else(|| panic!("no `{label}` mark"))
    };
    let (wp, tag, fsync) = (pos("fault-wp"), pos("tag-dirty"), pos("fsync-begin"));
    assert_eq!(ev[wp]["page"], 0);
    assert_eq!(ev[tag]["page"], 0);
    let page = hex(&ev[wp]["range"]["offset"]);
    assert_eq!(ev[wp]["range"]["len"], 4096);
    let store = ev
        .iter()
        .position(|e| e["kind"] == "store" && hex(&e["offset"]) == page)
        .expect("the store of 'B'");
    assert!(
        wp < tag && tag < store && store < fsync,
        "order: fault-wp {wp}, tag-dirty {tag}, store {store}, fsync {fsync}"
    );
    let fence = fsync
        + ev[fsync..]
            .iter()
            .position(|e| e["kind"] == "sfence")
            .expect("a fence after fsync-begin");
    let mut lines: Vec<u64> = ev[fsync..fence]
        .iter()
        .filter(|e| e["kind"] == "clwb")
        .map(|e| hex(&e["line"]))
        .collect();
    lines.sort_unstable();
    let expected: Vec<u64> = (0..64).map(|i| page + i * 64).collect();
    assert_eq!(
        lines, expected,
        "clwb of every line of the page before the fence"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn verify_passes_at_the_end_of_every_scenario() {
    require_kvm!();
    let dir = temp_dir("verify");
    let opts = VerifyOptions {
        guest: pmemvm::guest::GuestSource::Bundled,
        mem: pmemvm::session::DEFAULT_MEM,
        timeout_secs: pmemvm::session::DEFAULT_TIMEOUT_SECS,
        backing: None,
    };
    for (name, seed) in [
        ("dax-fsync", 1),
        ("generic-080", 1),
        ("fsx", 2),
        ("pmem-log", 3),
    ] {
        let trace = dir.join(format!("{name}.json"));
        record(name, seed, &trace);
        for image in ["minimal", "maximal"] {
            let v = verify_trace(
                &trace,
                &"end".parse().expect("point"),
                &image.parse().expect("image"),
                &opts,
            )
            .unwrap_or_else(|e| panic!("{name} {image}: {e}"));
            assert!(v.verdict.passed, "{name} {image}: {}", v.verdict.message);
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}
