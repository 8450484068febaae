//! The `pmemvm` command line, run as a process (real KVM).

mod common;
use common::{kvm, pmemvm, text};

#[test]
fn run_hello_prints_the_guest_line_and_exits_zero() {
    if !kvm() {
        return;
    }
    let out = pmemvm(&["run", "--scenario", "hello"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("hello from the pmemvm guest"));
}

#[test]
fn a_guest_failure_exits_3_and_the_guests_status_is_printed() {
    if !kvm() {
        return;
    }
    let out = pmemvm(&["run", "--scenario", "panic"]);
    assert_eq!(out.status.code(), Some(3), "not the guest's 101");
    assert!(
        text(&out.stderr).contains("the guest exited with status 101"),
        "{}",
        text(&out.stderr)
    );
    let out = pmemvm(&["run", "--scenario", "exception"]);
    assert_eq!(out.status.code(), Some(3), "guest failure");
    assert!(
        text(&out.stderr).contains("vector 0"),
        "{}",
        text(&out.stderr)
    );
    let out = pmemvm(&["run", "--scenario", "spin", "--timeout", "1"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("timed out after 1 s"));
}

#[test]
fn scenarios_lists_what_the_guest_reports() {
    if !kvm() {
        return;
    }
    let out = pmemvm(&["scenarios"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("pagefault") && stdout.contains("maps 1000 pages"),
        "{stdout}"
    );
    let log = stdout
        .lines()
        .find(|l| l.contains("pmem-log"))
        .unwrap_or_else(|| panic!("no pmem-log: {stdout}"));
    for variant in ["correct", "no-fence", "commit-first"] {
        assert!(log.contains(variant), "{variant} not named: {log}");
    }
    let out = pmemvm(&["scenarios", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(list.as_array().is_some_and(|a| a.len() >= 7));
}

#[test]
fn bad_input_gets_one_clear_line_and_status_2() {
    for (args, want) in [
        (
            &["run", "--guest", "/nonexistent"][..],
            "guest ELF /nonexistent: cannot read",
        ),
        (&["run", "--mem", "12Q"][..], "--mem 12Q"),
        (&["run", "--mem", "1M"][..], "guest RAM must be between"),
        (&["run", "--mem", "9M"][..], "multiple of 2 MiB"),
        (
            &["run", "--scenario", &"x".repeat(80)][..],
            "at most 63 bytes",
        ),
        (&["run", "--nvdimm", "size=64M"][..], "--nvdimm size=64M"),
        (
            &[
                "run",
                "--nvdimm",
                "mem-path=/tmp/a,size=64M",
                "--nvdimm",
                "mem-path=/tmp/b,size=64M",
            ][..],
            "not supported yet",
        ),
        (
            &["run", "--nvdimm", "mem-path=/tmp/pmemvm-x.img,size=3M"][..],
            "2 MiB",
        ),
        (
            &["run", "--persistence", "battery"][..],
            "--persistence battery",
        ),
        (&["run", "--atomicity", "byte"][..], "--atomicity byte"),
        (
            &["run", "--power-fail-at", "fence:x"][..],
            "--power-fail-at fence:x",
        ),
        (
            &["run", "--on-power-fail", "half"][..],
            "--on-power-fail half",
        ),
        (&["run", "--trace", "/tmp/t.txt"][..], "/tmp/t.txt"),
        (
            &["run", "--scenario", "hello", "--power-fail-at", "fence:1"][..],
            "--power-fail-at fence:1",
        ),
    ] {
        let out = pmemvm(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    }
}
