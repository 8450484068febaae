//! `pmemvm crashtest` as a user runs it (real KVM): exit codes, options,
//! the JSON report and its schema, the reproduction command, Ctrl-C.

mod common;
use common::{kvm, shell_words};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pmemvm-ct-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn crashtest(out: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pmemvm"))
        .arg("crashtest")
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .expect("runs")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The JSON report of a run that must have passed, having verified images.
fn passed(out: &Output) -> serde_json::Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = json(out);
    assert!(r["counts"]["images_verified"].as_u64() > Some(10));
    r
}

#[test]
fn a_correct_scenario_passes_with_exit_0() {
    if !kvm() {
        return;
    }
    let d = dir("pass");
    let r = passed(&crashtest(&d, &["--scenario", "pmem-smoke", "--json"]));
    assert_eq!(r["failures"].as_array().map(Vec::len), Some(0));
    assert_eq!(r["complete"], true);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn a_missing_fence_fails_with_exit_1_and_the_reproduction_reproduces() {
    if !kvm() {
        return;
    }
    let d = dir("fail");
    let report = d.join("report.json");
    let out = crashtest(
        &d,
        &[
            "--scenario",
            "pmem-smoke",
            "--variant",
            "no-fence",
            "--report",
        ],
    );
    // `--report` needs its value: a bad command line is status 2.
    assert_eq!(out.status.code(), Some(2));
    let out = crashtest(
        &d,
        &[
            "--scenario",
            "pmem-smoke",
            "--variant",
            "no-fence",
            "--report",
            report.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAILED") && text.contains("promised 0x11, found 0xaa"),
        "{text}"
    );
    // The report validates against its schema.
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("JSON");
    let schema_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../traces/schema/crashtest-report-v1.schema.json"
    );
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(schema_path).expect("schema")).expect("schema JSON");
    let v = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = v.iter_errors(&r).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    // Each reproduction command fails the same way.
    for f in r["failures"].as_array().expect("failures") {
        let cmd = f["first"]["reproduce"].as_str().expect("command");
        let args = shell_words(cmd);
        assert_eq!(args[0], "pmemvm");
        let rep = Command::new(env!("CARGO_BIN_EXE_pmemvm"))
            .args(&args[1..])
            .output()
            .expect("runs");
        assert_eq!(rep.status.code(), Some(1), "{cmd}");
        let msg = f["message"].as_str().expect("message");
        let stdout = String::from_utf8_lossy(&rep.stdout);
        assert!(stdout.contains(msg), "{cmd}");
        assert_eq!(f["check"], "promised-data", "{f}");
        assert!(stdout.contains("check: promised-data"), "{stdout}");
        // The guest's failure names the image; pmemvm's own check of the
        // promise, which it breaks too, is printed after it.
        assert!(
            stdout.contains("\n  also: check promise: promise seq "),
            "{stdout}"
        );
    }
    std::fs::remove_dir_all(&d).ok();
}

/// `pmem-log` crash-tested under `variant` with `options`: the exit status
/// and the failures' check names from the `--report` JSON.
fn pmem_log(name: &str, variant: &str, options: &[&str]) -> (Option<i32>, Vec<String>) {
    let d = dir(name);
    let report = d.join("report.json");
    let out = crashtest(
        &d,
        &[
            &[
                "--scenario",
                "pmem-log",
                "--variant",
                variant,
                "--report",
                report.to_str().expect("utf-8"),
            ],
            options,
        ]
        .concat(),
    );
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap_or_else(|e| {
            panic!(
                "{variant}: no report ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        }))
        .expect("JSON");
    assert!(r["counts"]["images_verified"].as_u64() > Some(10), "{r}");
    let checks = r["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|f| f["check"].as_str().expect("check").to_string())
        .collect();
    std::fs::remove_dir_all(&d).ok();
    (out.status.code(), checks)
}

/// Every check is one of the log's own, and there is one at least.
fn log_checks_only(checks: &[String]) {
    assert!(!checks.is_empty());
    assert!(
        checks
            .iter()
            .all(|c| c == "log-record-intact" || c == "log-promise"),
        "{checks:?}"
    );
}

#[test]
fn a_correct_pmem_log_passes_and_a_commit_before_the_record_fails() {
    if !kvm() {
        return;
    }
    let (status, checks) = pmem_log("log-correct", "correct", &[]);
    assert_eq!((status, checks.len()), (Some(0), 0), "{checks:?}");
    let (status, checks) = pmem_log("log-commit-first", "commit-first", &[]);
    assert_eq!(status, Some(1));
    log_checks_only(&checks);
}

#[test]
fn crashing_after_every_store_catches_a_pmem_log_without_its_fence() {
    if !kvm() {
        return;
    }
    // The tail can reach the media before the record only between the
    // tail's store and the next fence: crashing after every store finds it
    // (so do the default points, just before every fence: bugs_cli.rs).
    let stores = ["--points", "stores"];
    let (status, checks) = pmem_log("log-no-fence", "no-fence", &stores);
    assert_eq!(status, Some(1));
    log_checks_only(&checks);
    // With its fence, no crash after any store loses anything.
    let (status, checks) = pmem_log("log-stores", "correct", &stores);
    assert_eq!((status, checks.len()), (Some(0), 0), "{checks:?}");
}

#[test]
fn points_states_and_limits_change_what_is_visited() {
    if !kvm() {
        return;
    }
    let d = dir("options");
    let count = |args: &[&str]| {
        let out = crashtest(
            &d,
            &[&["--scenario", "pmem-smoke", "--json"], args].concat(),
        );
        assert!(
            out.status.code() == Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        json(&out)["counts"].clone()
    };
    let fences = count(&["--points", "fences", "--states", "minimal"]);
    let stores = count(&["--points", "stores", "--states", "minimal"]);
    let all = count(&["--points", "all", "--states", "minimal"]);
    let marks = count(&["--points", "marks", "--states", "minimal"]);
    let range = count(&["--points", "seq:2..5", "--states", "minimal"]);
    assert!(fences["points"].as_u64() < stores["points"].as_u64());
    assert!(stores["points"].as_u64() < all["points"].as_u64());
    assert!(marks["points"].as_u64() < all["points"].as_u64());
    // seq:2..5 plus the promise and the end.
    assert_eq!(range["points"].as_u64(), Some(6));
    let one = count(&["--points", "all", "--states", "maximal", "--jobs", "1"]);
    assert_eq!(one["points"], all["points"]);
    let exhaustive = count(&["--points", "end", "--states", "exhaustive:4"]);
    assert!(
        exhaustive["points_truncated"].as_u64() >= Some(1),
        "more than 4 images at the end"
    );
    let capped = count(&[
        "--points",
        "all",
        "--states",
        "sample:50",
        "--max-images-per-point",
        "2",
    ]);
    assert!(capped["points_truncated"].as_u64() > Some(0));
    assert!(
        capped["images_generated"].as_u64() <= Some(2 * capped["points"].as_u64().unwrap_or(0))
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn bad_input_exits_2_and_a_failing_guest_3() {
    if !kvm() {
        return;
    }
    let d = dir("bad");
    for (args, want, status) in [
        (
            &["--scenario", "nope"][..],
            "unknown scenario; the guest has:",
            2,
        ),
        (
            &["--scenario", "pmem-smoke", "--points", "sometimes"][..],
            "--points sometimes",
            2,
        ),
        (
            &["--scenario", "pmem-smoke", "--states", "many"][..],
            "--states many",
            2,
        ),
        (
            &["--scenario", "pmem-smoke", "--variant", "bogus"][..],
            "--variant bogus: unknown variant of pmem-smoke; it has: correct, no-fence",
            2,
        ),
        (
            &["--scenario", "pmem-smoke", "--jobs", "0"][..],
            "--jobs 0",
            2,
        ),
        (
            &["--scenario", "panic"][..],
            "the guest exited with status 101 in record mode",
            3,
        ),
        (&["--scenario", "exception"][..], "failed in record mode", 3),
    ] {
        let out = crashtest(&d, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(status), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn ctrl_c_stops_cleanly_with_an_incomplete_report() {
    if !kvm() {
        return;
    }
    let d = dir("interrupt");
    let child = Command::new(env!("CARGO_BIN_EXE_pmemvm"))
        .args([
            "crashtest",
            "--scenario",
            "pmem-smoke",
            "--points",
            "all",
            "--states",
            "sample:400",
            "--jobs",
            "1",
            "--json",
            "--out",
        ])
        .arg(&d)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    // Once the recording has started, the handler is in place and most of
    // the work (initial media, verify VMs, images) is still ahead.
    let started = std::time::Instant::now();
    while std::fs::read_dir(&d).map_or(0, Iterator::count) == 0 {
        assert!(
            started.elapsed().as_secs() < 30,
            "the recording never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    // SAFETY: sends SIGINT to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().expect("ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "interrupted: {stderr}");
    if stderr.contains("INTERRUPTED (Ctrl-C) during the recording") {
        // Stopped before anything was verified: no report.
        assert!(out.stdout.is_empty(), "no report");
    } else {
        let r = json(&out);
        assert_eq!(r["complete"], false, "interrupted");
        assert!(stderr.contains("INTERRUPTED: "), "{stderr}");
        assert!(
            stderr.contains("the report is marked incomplete"),
            "{stderr}"
        );
    }
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn the_users_backing_file_is_never_written_even_with_share_on() {
    if !kvm() {
        return;
    }
    let d = dir("share");
    let file = d.join("nvdimm.img");
    let content: Vec<u8> = (0..64u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &content).expect("backing file");
    let nvdimm = format!("mem-path={},size=64M,share=on", file.display());
    passed(&crashtest(
        &d.join("out"),
        &["--scenario", "pmem-smoke", "--nvdimm", &nvdimm, "--json"],
    ));
    assert!(
        std::fs::read(&file).expect("reads") == content,
        "the crash test changed the backing file"
    );
    std::fs::remove_dir_all(&d).ok();
}
