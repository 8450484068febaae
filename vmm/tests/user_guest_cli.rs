//! A user's guest (`--guest ELF`) on the command line: the default scenario,
//! the guest named in the trace, and the promises pmemvm checks by itself.

mod common;
use common::{kvm, pmemvm, run_printed, text};

use guest_tests::PROMISE_CHECK_ELF as PROMISE;
use guest_tests::UNRECORDED_FENCE_ELF as FENCE;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::Command;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pmemvm-user-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn utf8(p: &std::path::Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[test]
fn without_scenario_a_guest_with_one_runs_it_and_one_with_several_exits_2() {
    if !kvm() {
        return;
    }
    let d = dir("default");
    let out = pmemvm(&["crashtest", "--guest", FENCE, "--out", utf8(&d.join("ct"))]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.starts_with("pmemvm crashtest: scenario unrecorded-fence,"),
        "{stdout}"
    );
    let run = pmemvm(&["run", "--guest", FENCE]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));

    let several = d.join("bundled.elf");
    std::fs::write(&several, pmemvm::guest::BUNDLED).expect("write the bundled guest");
    let out_dir = d.join("never");
    for args in [
        &[
            "crashtest",
            "--guest",
            utf8(&several),
            "--out",
            utf8(&out_dir),
        ][..],
        &["run", "--guest", utf8(&several)][..],
    ] {
        let out = pmemvm(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        let expected = format!(
            "pmemvm: --guest {} has 29 scenarios, choose one with --scenario: hello, pagefault, tasks, dax-fsync, generic-080, fsx, pmem-smoke, pmem-log, pmem-gen, ",
            several.display()
        );
        assert!(
            stderr.starts_with(&expected) && stderr.lines().count() == 1,
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
    }
    assert!(!out_dir.exists(), "crashtest ran something");
    std::fs::remove_dir_all(&d).ok();
}

/// Runs `verify --at end` of `trace` with `extra` arguments.
fn verify_end(trace: &std::path::Path, extra: &[&str]) -> std::process::Output {
    pmemvm(
        &[
            &["verify", "--trace", utf8(trace), "--at", "end"][..],
            extra,
        ]
        .concat(),
    )
}

#[test]
fn verify_without_guest_boots_the_recorded_guest_file_while_it_is_unchanged() {
    if !kvm() {
        return;
    }
    let d = dir("verify");
    let copy = d.join("copy.elf");
    std::fs::copy(FENCE, &copy).expect("copy the guest");
    // Recorded with a relative --guest: the header holds the absolute path.
    let out = Command::new(env!("CARGO_BIN_EXE_pmemvm"))
        .args(["crashtest", "--guest", "copy.elf", "--out", "ct"])
        .current_dir(&d)
        .output()
        .expect("pmemvm starts");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let trace = d.join("ct/trace.jsonl");

    let header = pmemvm_traces::TraceReader::open(&trace)
        .expect("trace")
        .header()
        .clone();
    let sha: [u8; 32] = Sha256::digest(std::fs::read(&copy).expect("ELF")).into();
    assert_eq!(header.guest.as_deref(), Some(utf8(&copy)), "absolute path");
    assert_eq!(header.guest_sha256, Some(sha));

    // From another directory, so that the recorded path must be absolute.
    let out = Command::new(env!("CARGO_BIN_EXE_pmemvm"))
        .args(["verify", "--trace", utf8(&trace), "--at", "end"])
        .current_dir("/")
        .output()
        .expect("pmemvm starts");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("PASS: "),
        "{}",
        text(&out.stdout)
    );

    let recorded = format!(
        "pmemvm: trace {} was recorded with guest {} (sha256 {}…), which",
        trace.display(),
        copy.display(),
        &pmemvm_traces::hex::encode(&sha)[..12]
    );
    let mut changed = std::fs::read(&copy).expect("ELF");
    changed.push(0);
    std::fs::write(&copy, changed).expect("change the guest");
    let out = verify_end(&trace, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!("{recorded} has changed since: pass --guest\n")
    );
    // Given explicitly, a changed guest runs, with a warning.
    let out = verify_end(&trace, &["--guest", utf8(&copy)]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: --guest {} is not the guest trace {} was recorded with (",
            copy.display(),
            trace.display()
        )),
        "{stderr}"
    );

    std::fs::remove_file(&copy).expect("delete the guest");
    let out = verify_end(&trace, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!("{recorded} is missing: pass --guest\n")
    );
    std::fs::remove_dir_all(&d).ok();
}

/// A guest whose recovery checks nothing (it always reports a pass) and
/// that promises four lines it flushed: without the fence, pmemvm's own
/// check of the promise fails the images that lost one, as one bug with
/// its re-test; with the fence, and under eADR, nothing fails.
#[test]
fn a_promise_made_without_its_fence_is_one_bug_found_by_pmemvm_alone() {
    if !kvm() {
        return;
    }
    let d = dir("promise");
    let crashtest = |variant: &str, extra: &[&str]| {
        let out = utf8(&d.join(variant)).to_string();
        let mut args = vec!["crashtest", "--guest", PROMISE, "--variant", variant];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", &out, "--json"]);
        let run = pmemvm(&args);
        let report: serde_json::Value = serde_json::from_slice(&run.stdout)
            .unwrap_or_else(|e| panic!("{variant}: not JSON ({e}): {}", text(&run.stderr)));
        (run.status.code(), report)
    };
    let (code, report) = crashtest("no-fence", &[]);
    assert_eq!(code, Some(1), "{:#}", report["failures"]);
    let bugs = report["failures"].as_array().expect("failures");
    assert_eq!(bugs.len(), 1, "{:#}", report["failures"]);
    let b = &bugs[0];
    assert_eq!(b["check"], "promise");
    let message = b["message"].as_str().expect("message");
    assert!(
        message.starts_with("promise seq ")
            && message.contains("(device range 0x1000+0x100) broken at device offset 0x10")
            && message.contains(", promised 0x"),
        "{message}"
    );
    let lost = &b["cause"]["lost"][0];
    assert!(
        lost["flushed_by"].as_u64().is_some(),
        "flushed, not fenced: {lost:#}"
    );
    // The image's reproduction fails the same check, the guest passing it.
    let reproduce = b["first"]["reproduce"].as_str().expect("reproduce");
    let args = common::shell_words(reproduce);
    let args: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    let verify = pmemvm(&args);
    let stdout = text(&verify.stdout);
    assert_eq!(
        verify.status.code(),
        Some(1),
        "{stdout}{}",
        text(&verify.stderr)
    );
    assert!(
        stdout.starts_with("FAIL: ") && stdout.contains("\n  check: promise\n  promise seq "),
        "{stdout}"
    );
    // The re-test fails while the fence is missing and passes with it.
    let retest = b["retest"].as_str().expect("re-test");
    assert_eq!(run_printed(retest, None).0, Some(1), "{retest}");
    let (code, fixed) = run_printed(retest, Some(("--variant", "correct")));
    assert_eq!(code, Some(0), "{retest}: {:#}", fixed["failures"]);

    let (code, report) = crashtest("correct", &[]);
    assert_eq!(code, Some(0), "{:#}", report["failures"]);
    assert!(report["counts"]["images_verified"].as_u64() >= Some(2));
    // Under eADR the promise, a port I/O, drains the caches.
    let (code, report) = crashtest("no-fence", &["--persistence", "cpu"]);
    assert_eq!(code, Some(0), "{:#}", report["failures"]);
    std::fs::remove_dir_all(&d).ok();
}
