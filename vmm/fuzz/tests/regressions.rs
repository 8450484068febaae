//! The default suite's share of the fuzzing harness: every seed and every
//! input that ever failed (`vmm/fuzz/regressions/TARGET/*`) runs through its
//! target without a panic, within the memory cap and a time limit; and the
//! harness reports each kind of failure (the self-test targets, through the
//! `pmemvm-fuzz` binary).

use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use pmemvm_fuzz::targets::{self, TARGETS};
use pmemvm_fuzz::{DEFAULT_MEM_CAP, Outcome, execute, seeds_and_regressions};

/// Longest one input may take here (a debug build, a loaded machine).
const LIMIT: Duration = Duration::from_secs(60);

fn replay(name: &'static str) {
    let target = targets::target(name).expect("a target");
    let inputs = seeds_and_regressions(target);
    assert!(!inputs.is_empty(), "{name}: no seed");
    for (file, input) in inputs {
        let (tx, rx) = mpsc::channel();
        let what = file.clone();
        std::thread::spawn(move || {
            let (outcome, peak) = execute(target, &input, DEFAULT_MEM_CAP);
            let _ = tx.send((outcome, peak));
        });
        match rx.recv_timeout(LIMIT) {
            Ok((Outcome::Ok(_), _)) => {}
            Ok((Outcome::Panic(msg), _)) => panic!("{name}: {what}: {msg}"),
            Err(_) => panic!("{name}: {what}: still running after {LIMIT:?} (a hang)"),
        }
    }
}

#[test]
fn every_target_has_a_replay_test() {
    let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "trace",
            "point",
            "image",
            "nvdimm",
            "elf",
            "ring",
            "hypercall"
        ],
        "add a test below for each new target"
    );
}

#[test]
fn trace_seeds_and_regressions() {
    replay("trace");
}

#[test]
fn point_seeds_and_regressions() {
    replay("point");
}

#[test]
fn image_seeds_and_regressions() {
    replay("image");
}

#[test]
fn nvdimm_seeds_and_regressions() {
    replay("nvdimm");
}

#[test]
fn elf_seeds_and_regressions() {
    replay("elf");
}

#[test]
fn ring_seeds_and_regressions() {
    replay("ring");
}

#[test]
fn hypercall_seeds_and_regressions() {
    replay("hypercall");
}

#[test]
fn the_seeds_are_accepted() {
    // The seeds reach the deep end of each target: a valid trace in both
    // layouts, a guest ELF, a ring with entries.
    use pmemvm_traces::{Format, TraceReader};
    let traces = (targets::target("trace").unwrap().seeds)();
    let mut formats = Vec::new();
    for t in &traces {
        let mut r = TraceReader::from_reader(&t[..], "seed").expect("a seed trace");
        formats.push(r.format());
        r.by_ref().for_each(|e| {
            e.expect("a seed event");
        });
    }
    assert!(formats.contains(&Format::Json) && formats.contains(&Format::Jsonl));
    for elf in (targets::target("elf").unwrap().seeds)() {
        pmemvm::elf::GuestElf::parse("seed", &elf).expect("a seed ELF");
    }
}

/// Runs the harness binary on a self-test target, which fails on purpose.
fn self_test(name: &str, expect: &str) {
    let out = tempdir();
    let run = Command::new(env!("CARGO_BIN_EXE_pmemvm-fuzz"))
        .args(["--target", name, "--execs", "2000", "--timeout-ms", "300"])
        .arg("--out")
        .arg(&out)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("runs pmemvm-fuzz");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{name}: {stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("FAILURE {name}: {expect}")),
        "{name}: {stderr}"
    );
    let saved: Vec<_> = std::fs::read_dir(out.join(name))
        .expect("failures saved")
        .collect();
    assert!(!saved.is_empty(), "{name}: no input saved");
    for f in saved {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        assert!(
            bytes.contains(&0xff),
            "{name}: the saved input is not the failing one"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "pmemvm-fuzz-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    assert!(Path::new(&dir).is_dir());
    dir
}

#[test]
fn the_harness_reports_a_panic() {
    self_test("selftest-panic", "panic: injected panic");
}

#[test]
fn the_harness_reports_an_allocation_over_the_cap() {
    self_test(
        "selftest-oom",
        "memory: an allocation would go over the cap",
    );
}

#[test]
fn the_harness_reports_a_hang() {
    self_test("selftest-hang", "hang: one execution took more than 300 ms");
}

#[test]
fn the_harness_reports_an_abort() {
    self_test("selftest-abort", "abort (SIGABRT)");
}
