//! The C SDK as a new user meets it: `pmemvm new --lang c` in a directory
//! outside the workspace, built there with `make` and the system C compiler
//! only, and crash-tested (`correct` passes, `no-fence` and `commit-first`
//! fail with one bug each); a guest written against PMDK's libpmem
//! (`guest-tests/c-libpmem`) built unchanged in such a project, whose
//! missing `pmem_drain` is found; x86 intrinsics recorded through the
//! forced include and pointed at by `pmemvm lint` without it; the libc
//! checked inside a guest.

mod common;
use common::{kvm, outside, pmemvm, text, utf8};

use std::path::{Path, PathBuf};
use std::process::Command;

/// `pmemvm new DIR --lang c` into `d/name`; the project's directory.
fn new_project(d: &Path, name: &str) -> PathBuf {
    let project = d.join(name);
    let made = pmemvm(&["new", utf8(&project), "--lang", "c"]);
    assert_eq!(made.status.code(), Some(0), "{}", text(&made.stderr));
    project
}

/// `make` in `project` with `args`, as a user would run it; the guest ELF.
fn make(project: &Path, args: &[&str]) -> PathBuf {
    let out = Command::new("make")
        .args(args)
        .current_dir(project)
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .output()
        .expect("make starts");
    assert!(
        out.status.success(),
        "the project builds with make: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    project.join(project.file_name().expect("a name"))
}

/// A project with the test guest of `guest-tests/c-libpmem` in place of
/// the log, built with `make` and `args`.
fn c_libpmem_guest(d: &Path, name: &str, args: &[&str]) -> PathBuf {
    let project = new_project(d, name);
    std::fs::remove_file(project.join("log.c")).expect("the template's log.c");
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-tests/c-libpmem");
    for entry in std::fs::read_dir(&sources).expect("guest-tests/c-libpmem") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, project.join(path.file_name().expect("a name"))).expect("copy");
    }
    make(&project, args)
}

/// `pmemvm crashtest` of `variant` of `scenario` (None: the only one);
/// exit status and stdout.
fn crashtest(guest: &Path, scenario: Option<&str>, variant: &str, out: &Path) -> (i32, String) {
    let mut args = vec!["crashtest", "--guest", utf8(guest), "--variant", variant];
    if let Some(s) = scenario {
        args.extend(["--scenario", s]);
    }
    args.extend(["--out", utf8(out)]);
    let o = pmemvm(&args);
    (o.status.code().unwrap_or(-1), text(&o.stdout))
}

/// Asserts a crash test found exactly one bug, of `check`, whose report
/// says `cause`.
fn one_bug(what: &str, (status, stdout): (i32, String), check: &str, cause: &str) {
    assert_eq!(status, 1, "{what}: {stdout}");
    assert!(stdout.contains("FAILED: 1 bug(s)"), "{what}: {stdout}");
    assert!(
        stdout.contains(&format!("[1] {check}: ")),
        "{what}: {stdout}"
    );
    assert!(stdout.contains(cause), "{what}: {stdout}");
}

/// Asserts a crash test found nothing.
fn no_failure(what: &str, (status, stdout): (i32, String)) {
    assert_eq!(status, 0, "{what}: {stdout}");
    assert!(stdout.contains("no failure"), "{what}: {stdout}");
}

/// `pmemvm lint --guest` of `guest`: exit status and stdout.
fn lint(guest: &Path) -> (i32, String) {
    let o = pmemvm(&["lint", "--guest", utf8(guest)]);
    (o.status.code().unwrap_or(-1), text(&o.stdout))
}

#[test]
fn a_new_c_project_builds_with_make_outside_the_workspace_and_its_variants_crash_test_as_documented()
 {
    if !kvm() {
        return;
    }
    let d = outside("c-log");
    let project = new_project(&d, "c-log");
    for file in ["Makefile", "log.c", "README.md"] {
        let body = std::fs::read_to_string(project.join(file)).expect(file);
        assert!(
            !body.contains("{name}") && !body.contains("{pmemvm}"),
            "{file} filled in"
        );
    }
    let guest = make(&project, &[]);
    let (status, stdout) = lint(&guest);
    assert_eq!(status, 0, "the template lints clean: {stdout}");
    let listed = pmemvm(&["scenarios", "--guest", utf8(&guest), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    let variants: Vec<&str> = json[0]["variants"]
        .as_array()
        .expect("a list of variants")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(json[0]["name"], "log");
    assert_eq!(variants, ["correct", "no-fence", "commit-first"]);
    no_failure(
        "correct",
        crashtest(&guest, None, "correct", &d.join("correct")),
    );
    one_bug(
        "no-fence",
        crashtest(&guest, None, "no-fence", &d.join("no-fence")),
        "log-record-intact",
        &format!("in write_record ({}:", project.join("log.c").display()),
    );
    one_bug(
        "commit-first",
        crashtest(&guest, None, "commit-first", &d.join("commit-first")),
        "log-record-intact",
        "nothing in flight was lost",
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn a_guest_written_against_pmdk_libpmem_builds_unchanged_and_its_missing_drain_is_found() {
    if !kvm() {
        return;
    }
    let d = outside("c-libpmem");
    let guest = c_libpmem_guest(&d, "kv", &[]);
    let (status, stdout) = lint(&guest);
    assert_eq!(status, 0, "libpmem's calls are the recorded API: {stdout}");
    no_failure(
        "kv correct",
        crashtest(&guest, Some("kv"), "correct", &d.join("correct")),
    );
    one_bug(
        "kv no-drain",
        crashtest(&guest, Some("kv"), "no-drain", &d.join("no-drain")),
        "kv-entry-intact",
        "no fence ordered it before the store",
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn intrinsics_are_recorded_with_the_forced_include_and_lint_points_at_them_without_it() {
    if !kvm() {
        return;
    }
    let d = outside("c-intrin");
    let with = c_libpmem_guest(&d, "with", &[]);
    let (status, stdout) = lint(&with);
    assert_eq!(status, 0, "with pmemvm/intrin.h: {stdout}");
    no_failure(
        "intrin, forced include",
        crashtest(&with, Some("intrin"), "correct", &d.join("with-out")),
    );
    let without = c_libpmem_guest(&d, "without", &["INTRIN="]);
    let (status, stdout) = lint(&without);
    assert_eq!(status, 1, "without pmemvm/intrin.h: {stdout}");
    let source = without.with_file_name("intrin.c");
    let place = format!("write_records ({}:", source.display());
    for mnemonic in ["clwb", "sfence", "movnti"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(&format!("  {mnemonic}  in ")) && l.contains(&place)),
            "lint names the {mnemonic} and its line: {stdout}"
        );
    }
    let o = pmemvm(&[
        "crashtest",
        "--guest",
        utf8(&without),
        "--scenario",
        "intrin",
        "--out",
        utf8(&d.join("without-out")),
    ]);
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains("outside the recorded persistent-memory API")
            && stderr.contains("pmemvm lint --guest"),
        "crashtest warns: {stderr}"
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn the_libc_and_the_runtime_work_inside_a_guest_and_memcpy_stores_words() {
    if !kvm() {
        return;
    }
    let d = outside("c-libc");
    let guest = c_libpmem_guest(&d, "libc", &[]);
    let run = |seed: &str, trace: &Path| {
        let o = pmemvm(&[
            "run",
            "--guest",
            utf8(&guest),
            "--scenario",
            "libc",
            "--seed",
            seed,
            "--trace",
            utf8(trace),
        ]);
        let stdout = text(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "{stdout}{}", text(&o.stderr));
        assert!(!stdout.contains("FAILED"), "{stdout}");
        assert!(
            stdout.contains("printf works 1\n") && stdout.contains("[putchar and puts work]\n"),
            "{stdout}"
        );
        let first = stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("rand after --seed {seed}: ")))
            .unwrap_or_else(|| panic!("rand's first number: {stdout}"))
            .to_string();
        (stdout, first)
    };
    let trace = d.join("libc.jsonl");
    let (stdout, one) = run("1", &trace);
    assert!(
        stdout.contains("libc: ") && stdout.contains(" checks, 0 failed"),
        "{stdout}"
    );
    let (_, again) = run("1", &d.join("again.jsonl"));
    let (_, two) = run("2", &d.join("two.jsonl"));
    assert_eq!(one, again, "rand follows --seed");
    assert_ne!(one, two, "rand follows --seed");
    let aborted = pmemvm(&[
        "run",
        "--guest",
        utf8(&guest),
        "--scenario",
        "libc",
        "--variant",
        "assert",
    ]);
    let stdout = text(&aborted.stdout);
    assert_eq!(aborted.status.code(), Some(3), "a failed assert: {stdout}");
    assert!(
        text(&aborted.stderr).contains("the guest exited with status 134"),
        "{}",
        text(&aborted.stderr)
    );
    assert!(
        stdout.contains("assertion failed: checks < 0 (libc_checks.c:")
            && stdout.contains("abort() called"),
        "{stdout}"
    );
    // memcpy and memset of 256 bytes to the NVDIMM: 32 stores of 8 bytes each.
    let events = std::fs::read_to_string(&trace).expect("trace");
    for base in [0x10000u64, 0x20000] {
        let sizes: Vec<u64> = events
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["kind"] == "store")
            .filter(|e| {
                e["offset"]
                    .as_str()
                    .and_then(|o| u64::from_str_radix(o.trim_start_matches("0x"), 16).ok())
                    .is_some_and(|o| (base..base + 256).contains(&o))
            })
            .filter_map(|e| e["size"].as_u64())
            .collect();
        assert_eq!(sizes, [8; 32], "stores at {base:#x}");
    }
    std::fs::remove_dir_all(&d).ok();
}
