//! The hostile test guest (`guest-tests/hostile`): every misbehaviour ends
//! with its documented exit status (2 pmemvm could not run, 3 the guest
//! failed, 1 a finding) and a one-line message that says what the guest
//! did, in bounded memory; a guest that misbehaves while recovering fails
//! that image, never the whole test.

mod common;

use common::{kvm, text};
use guest_tests::HOSTILE_ELF as HOSTILE;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};

/// What one run of pmemvm left.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    /// Peak resident memory, in MiB.
    peak_mib: i64,
}

/// Runs `pmemvm` with `args`, its output in files, and measures its peak
/// memory (`wait4`).
#[expect(clippy::zombie_processes, reason = "the child is reaped by wait4")]
fn pmemvm(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("dir");
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let child = Command::new(env!("CARGO_BIN_EXE_pmemvm"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(std::fs::File::create(&out).expect("out"))
        .stderr(std::fs::File::create(&err).expect("err"))
        .stdin(Stdio::null())
        .spawn()
        .expect("pmemvm starts");
    let mut status = 0;
    // SAFETY: rusage is plain data.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, writing to the two locals.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4");
    Run {
        status: ExitStatus::from_raw(status),
        stdout: text(&std::fs::read(out).expect("out")),
        stderr: text(&std::fs::read(err).expect("err")),
        peak_mib: usage.ru_maxrss / 1024,
    }
}

/// Runs `command` on the hostile guest's `scenario` and `variant`
/// (`extra` options after), and checks the exit status, that stderr's
/// last line contains `message`, and the peak memory.
fn expect(
    command: &str,
    scenario: &str,
    variant: &str,
    extra: &[&str],
    status: i32,
    message: &str,
) -> Run {
    let out = tempfile::tempdir().expect("dir");
    let out_dir = out.path().join("ct");
    let mut args = vec![
        command,
        "--guest",
        HOSTILE,
        "--scenario",
        scenario,
        "--variant",
        variant,
    ];
    if command == "crashtest" {
        args.extend(["--out", out_dir.to_str().expect("utf-8"), "--jobs", "2"]);
    }
    args.extend(extra);
    let run = pmemvm(&args);
    let what = format!(
        "{command} {scenario}/{variant}: {}\n{}",
        run.stderr, run.stdout
    );
    assert_eq!(run.status.code(), Some(status), "{what}");
    let last = run.stderr.lines().last().unwrap_or("");
    assert!(last.contains(message), "{what}");
    assert!(!run.stderr.contains("panicked"), "{what}");
    assert!(
        run.peak_mib < 400,
        "{what}: peak memory {} MiB",
        run.peak_mib
    );
    run
}

#[test]
fn garbage_in_the_event_ring_is_the_guests_failure() {
    if !kvm() {
        return;
    }
    for (variant, message) in [
        ("unknown-kind", "event ring: unknown entry kind 57005"),
        ("head-far-ahead", "corrupt event ring"),
        ("nt-store-elsewhere", "announced NT store of 8 bytes at"),
    ] {
        expect("run", "ring", variant, &[], 3, message);
        expect("crashtest", "ring", variant, &[], 3, message);
    }
}

#[test]
fn absurd_hypercall_arguments_are_refused() {
    if !kvm() {
        return;
    }
    // Every bad buffer is answered with an error code: the guest checks
    // each and exits 0.
    let run = expect("run", "hypercalls", "bad-buffers", &[], 0, "");
    assert!(
        run.stdout.contains("hostile: 0 bad answer(s)"),
        "{}",
        run.stdout
    );
    for (variant, message) in [
        (
            "promise-outside-device",
            "promise range 0x4000000+64 is empty or outside the NVDIMM",
        ),
        (
            "mark-outside-device",
            "mark range 0xfffffffffffffff7+64 is empty or outside",
        ),
    ] {
        expect("run", "hypercalls", variant, &[], 3, message);
        expect("crashtest", "hypercalls", variant, &[], 3, message);
    }
}

#[test]
fn floods_cost_bounded_memory() {
    if !kvm() {
        return;
    }
    // 20,000 marks with labels of the longest length the trace takes.
    let out = tempfile::tempdir().expect("dir");
    let trace = out.path().join("marks.jsonl");
    let run = expect(
        "run",
        "floods",
        "marks",
        &["--trace", trace.to_str().expect("utf-8")],
        0,
        "",
    );
    drop(run);
    let stats = pmemvm(&["trace", "stats", trace.to_str().expect("utf-8")]);
    assert_eq!(
        stats.status.code(),
        Some(0),
        "the reader takes what the writer wrote: {}",
        stats.stderr
    );
    // 100,000 findings of 1 MiB: the first of each check are kept.
    let run = expect("crashtest", "floods", "findings", &["--json"], 1, "");
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON report");
    assert_eq!(report["record_findings"].as_array().map(Vec::len), Some(33));
    assert_eq!(report["record_findings_not_kept"], 100_001 - 33 + 1 - 1);
    // 256 MiB of console output, then status 1 without a finding.
    expect(
        "crashtest",
        "floods",
        "console",
        &[],
        3,
        "the guest exited with status 1 in record mode: hostile: the last line of a console flood",
    );
    // 50,000 stores to four lines, never flushed.
    expect(
        "crashtest",
        "floods",
        "unflushed-stores",
        &["--states", "minimal"],
        0,
        "",
    );
}

#[test]
fn the_guests_exit_status_is_printed_and_mapped_into_the_contract() {
    if !kvm() {
        return;
    }
    expect("run", "exit", "0", &[], 0, "");
    for status in ["1", "7", "101", "134", "256"] {
        expect(
            "run",
            "exit",
            status,
            &[],
            3,
            &format!("pmemvm: the guest exited with status {status}"),
        );
        expect(
            "crashtest",
            "exit",
            status,
            &[],
            3,
            &format!("the guest exited with status {status} in record mode"),
        );
    }
}

#[test]
fn misbehaviour_while_recovering_fails_the_image_not_the_test() {
    if !kvm() {
        return;
    }
    for (variant, check, extra) in [
        ("setup-done", "guest-crashed", &[][..]),
        ("no-verdict", "no-verdict", &[][..]),
        ("spin", "guest-crashed", &["--timeout", "1"][..]),
    ] {
        let mut args = vec!["--json", "--states", "minimal"];
        args.extend(extra);
        let run = expect("crashtest", "verify", variant, &args, 1, "");
        let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON report");
        let bugs = report["failures"].as_array().expect("failures");
        assert_eq!(bugs.len(), 1, "{variant}: {bugs:?}");
        assert_eq!(bugs[0]["check"], check, "{variant}");
    }
}

#[test]
fn list_mode_keeps_at_most_the_documented_number_of_scenarios() {
    if !kvm() {
        return;
    }
    let run = pmemvm(&["scenarios", "--guest", HOSTILE, "--json"]);
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    let list: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let n = list
        .as_array()
        .map(Vec::len)
        .or_else(|| list["scenarios"].as_array().map(Vec::len));
    assert_eq!(
        n,
        Some(pmemvm_abi::hc::MAX_SCENARIOS),
        "{}",
        &run.stdout[..200]
    );
}

/// Starts `pmemvm` with `args`, sends SIGINT after `after`, and returns
/// its exit code, stderr and how long it took to end after the signal.
fn interrupt(
    args: &[&str],
    after: std::time::Duration,
) -> (Option<i32>, String, std::time::Duration) {
    let child = Command::new(env!("CARGO_BIN_EXE_pmemvm"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pmemvm starts");
    std::thread::sleep(after);
    let signalled = std::time::Instant::now();
    // SAFETY: signals our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().expect("pmemvm ends");
    (out.status.code(), text(&out.stderr), signalled.elapsed())
}

#[test]
fn ctrl_c_stops_a_recording_within_a_second_and_exits_130() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("ct");
    let out = out.to_str().expect("utf-8");
    let spin = ["--guest", HOSTILE, "--scenario", "spin", "--timeout", "60"];
    let run: Vec<&str> = ["run"].iter().chain(&spin).copied().collect();
    let crashtest: Vec<&str> = ["crashtest"]
        .iter()
        .chain(&spin)
        .chain(&["--out", out])
        .copied()
        .collect();
    for args in [run, crashtest] {
        let (code, stderr, took) = interrupt(&args, std::time::Duration::from_secs(2));
        assert_eq!(code, Some(130), "{args:?}: {stderr}");
        assert!(stderr.contains("INTERRUPTED"), "{args:?}: {stderr}");
        assert!(
            took < std::time::Duration::from_millis(1500),
            "{args:?}: {took:?}"
        );
    }
}

#[test]
fn ctrl_c_during_verification_writes_a_report_marked_incomplete() {
    if !kvm() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let report = dir.path().join("report.json");
    let out = dir.path().join("ct");
    let args = [
        "crashtest",
        "--guest",
        HOSTILE,
        "--scenario",
        "verify",
        "--variant",
        "spin",
        "--timeout",
        "30",
        "--jobs",
        "1",
        "--out",
        out.to_str().expect("utf-8"),
        "--report",
        report.to_str().expect("utf-8"),
    ];
    let (code, stderr, took) = interrupt(&args, std::time::Duration::from_secs(4));
    assert_eq!(code, Some(130), "{stderr}");
    assert!(
        stderr.contains("INTERRUPTED: 0 image(s) verified"),
        "{stderr}"
    );
    assert!(took < std::time::Duration::from_millis(1500), "{took:?}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("the report is written"))
            .expect("JSON");
    assert_eq!(report["complete"], false);
}
