//! Hardening of the command line (issue 13): every bad input (an option out
//! of range, a FIFO or device where a file is expected, a trace too large to
//! model) is refused at once with exit status 2 and one line on stderr
//! naming it, never a panic, a hang or partial output.

mod common;
use common::{kvm, pmemvm, text};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use pmemvm_traces::{Atomicity, Device, Header, Persistence};

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p =
            std::env::temp_dir().join(format!("pmemvm-hardening-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The names of the files in the directory, sorted.
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `pmemvm` with `args`; kills it and fails if it runs longer than
/// `limit` (a command blocked on a FIFO). Returns its output and how long
/// it ran.
fn pmemvm_within(args: &[&str], limit: Duration) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pmemvm"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pmemvm starts");
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "pmemvm {args:?} still running after {limit:?} (stderr: {})",
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let elapsed = start.elapsed();
    (child.wait_with_output().expect("output"), elapsed)
}

/// Asserts the refusal of a bad input: exit status 2, nothing on stdout,
/// one line on stderr that contains every one of `words`.
fn assert_refused(args: &[&str], out: &Output, words: &[&str]) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "pmemvm {args:?}: {err}");
    assert!(
        out.stdout.is_empty(),
        "pmemvm {args:?}: stdout {}",
        text(&out.stdout)
    );
    assert_eq!(
        err.lines().count(),
        1,
        "pmemvm {args:?}: not one line: {err}"
    );
    for w in words {
        assert!(err.contains(w), "pmemvm {args:?}: no `{w}` in {err}");
    }
}

/// Runs `pmemvm args` (at most 10 s) and asserts it refuses them.
fn refused(args: &[&str], words: &[&str]) {
    let (out, _) = pmemvm_within(args, Duration::from_secs(10));
    assert_refused(args, &out, words);
}

#[test]
fn timeout_out_of_range_is_refused() {
    for cmd in ["crashtest", "run", "scenarios"] {
        for bad in ["0", "86401", "9223372036854775807"] {
            refused(&[cmd, "--timeout", bad], &["--timeout", bad, "86400"]);
        }
    }
}

#[test]
fn timeout_of_a_day_is_accepted() {
    if !kvm() {
        return;
    }
    let out = pmemvm(&["scenarios", "--timeout", "86400"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("pmem-smoke"));
}

#[test]
fn jobs_out_of_range_is_refused() {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let over = (4 * cores + 1).to_string();
    for bad in [
        "0",
        over.as_str(),
        "2305843009213693952",
        "18446744073709551615",
    ] {
        refused(&["crashtest", "--jobs", bad], &["--jobs", bad]);
    }
}

#[test]
fn mem_out_of_range_is_refused() {
    for bad in ["0", "1M", "4G", "3073M", "16E", "99999999999999999999"] {
        refused(&["run", "--mem", bad], &["--mem"]);
    }
}

#[test]
fn guest_that_is_not_a_regular_file_is_refused_before_any_read() {
    let dir = TempDir::new("guest");
    let fifo = dir.path("guest.fifo");
    mkfifo(&fifo);
    let fifo = fifo.to_str().expect("utf-8");
    let dirname = dir.0.to_str().expect("utf-8");
    for cmd in ["run", "crashtest", "scenarios"] {
        for (guest, kind) in [
            (fifo, "FIFO"),
            ("/dev/zero", "character device"),
            (dirname, "directory"),
        ] {
            refused(&[cmd, "--guest", guest], &[guest, kind]);
        }
    }
    refused(&["lint", "--guest", fifo], &[fifo, "FIFO"]);
    refused(
        &[
            "verify",
            "--trace",
            "t.json",
            "--at",
            "end",
            "--guest",
            "/dev/zero",
        ],
        &["/dev/zero", "character device"],
    );
}

#[test]
fn guest_larger_than_the_ram_is_refused() {
    let dir = TempDir::new("big-guest");
    let big = dir.path("big.elf");
    let f = std::fs::File::create(&big).expect("create");
    f.set_len((8 << 20) + 1).expect("sparse file");
    let big = big.to_str().expect("utf-8");
    refused(
        &["run", "--guest", big, "--mem", "8M"],
        &[big, "8388609 bytes", "8 MiB"],
    );
}

/// Makes a FIFO at `path`.
fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(st.success(), "mkfifo {}", path.display());
}

#[test]
fn trace_that_is_a_fifo_is_refused_at_once() {
    let dir = TempDir::new("trace-fifo");
    let fifo = dir.path("t.jsonl");
    mkfifo(&fifo);
    let t = fifo.to_str().expect("utf-8");
    let commands: [&[&str]; 8] = [
        &["trace", "stats", t],
        &["trace", "show", t],
        &["trace", "lines", t],
        &["trace", "why", t, "--line", "0x0", "--at", "end"],
        &["trace", "states", t, "--at", "end"],
        &["trace", "diff", t, t],
        &[
            "trace",
            "export",
            t,
            "--format",
            "chrome",
            "-o",
            "/dev/null",
        ],
        &["verify", "--trace", t, "--at", "end"],
    ];
    for args in commands {
        let (out, took) = pmemvm_within(args, Duration::from_secs(5));
        assert_refused(args, &out, &[t, "FIFO"]);
        assert!(took < Duration::from_secs(2), "{args:?} took {took:?}");
    }
}

#[test]
fn trace_with_a_device_beyond_the_nvdimm_limit_is_refused() {
    let dir = TempDir::new("trace-size");
    let path = dir.path("huge.jsonl");
    let header = Header::new(
        Device {
            base: 0x1_0000_0000,
            size: 9223372036854775744,
        },
        Persistence::Adr,
        Atomicity::Line,
        "pmem-smoke",
        "correct",
        1,
        [0; 32],
    );
    let mut body = serde_json::to_string(&header).expect("header");
    body.push_str("\n{\"end\":{\"events\":0}}\n");
    std::fs::write(&path, body).expect("write trace");
    let t = path.to_str().expect("utf-8");
    let commands: [&[&str]; 7] = [
        &["trace", "stats", t],
        &["trace", "show", t],
        &["trace", "lines", t],
        &["trace", "why", t, "--line", "0x0", "--at", "end"],
        &["trace", "states", t, "--at", "end"],
        &[
            "trace",
            "export",
            t,
            "--format",
            "chrome",
            "-o",
            "/dev/null",
        ],
        &["verify", "--trace", t, "--at", "end"],
    ];
    for args in commands {
        refused(
            args,
            &[
                t,
                "device size 9223372036854775744 is larger than the 64 GiB limit",
            ],
        );
    }
}

/// True when `path` is a character device.
fn is_char_device(path: &str) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_char_device())
}

/// A valid trace with no events, written with the library's writer.
fn empty_trace(path: &Path) {
    let header = Header::new(
        Device {
            base: 0x1_0000_0000,
            size: 1 << 20,
        },
        Persistence::Adr,
        Atomicity::Line,
        "pmem-smoke",
        "correct",
        1,
        [0; 32],
    );
    pmemvm_traces::TraceWriter::create(path, &header)
        .expect("create")
        .finish()
        .expect("finish");
}

#[test]
fn bad_output_paths_fail_before_the_work_and_leave_nothing() {
    let dir = TempDir::new("bad-output");
    let d = dir.0.to_str().expect("utf-8").to_string();
    let missing = dir.path("missing/r.json");
    let missing = missing.to_str().expect("utf-8");
    let trace = dir.path("t.jsonl");
    empty_trace(&trace);
    let t = trace.to_str().expect("utf-8");
    let before = dir.names();
    let cases: [(&[&str], &str); 7] = [
        (&["crashtest", "--report", missing], "--report"),
        (&["crashtest", "--report", &d], "--report"),
        (&["crashtest", "--html", missing], "--html"),
        (&["crashtest", "--html", &d], "--html"),
        (&["run", "--trace", missing], "--trace"),
        (
            &["trace", "export", t, "--format", "chrome", "-o", &d],
            "-o",
        ),
        (
            &["trace", "export", t, "--format", "chrome", "-o", missing],
            "-o",
        ),
    ];
    for (args, option) in cases {
        let (out, took) = pmemvm_within(args, Duration::from_secs(10));
        let what = if args.contains(&missing) {
            "does not exist"
        } else {
            "is a directory"
        };
        assert_refused(args, &out, &[option, what]);
        assert!(took < Duration::from_secs(2), "{args:?} took {took:?}");
        assert_eq!(dir.names(), before, "{args:?} left files behind");
    }
}

#[test]
fn export_writes_through_a_symlink_and_in_place_to_a_device() {
    let dir = TempDir::new("export-output");
    let trace = dir.path("t.jsonl");
    empty_trace(&trace);
    let t = trace.to_str().expect("utf-8");
    let target = dir.path("real.json");
    let link = dir.path("link.json");
    std::os::unix::fs::symlink("real.json", &link).expect("symlink");
    let l = link.to_str().expect("utf-8");
    for _ in 0..2 {
        // First through a dangling link (the file is created where it
        // points), then over the file it now names.
        let out = pmemvm(&["trace", "export", t, "--format", "chrome", "-o", l]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(std::fs::symlink_metadata(&link).expect("link").is_symlink());
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&target).expect("target written")).expect("JSON");
        assert!(json.is_object(), "{json}");
        assert_eq!(dir.names(), ["link.json", "real.json", "t.jsonl"]);
    }
    // A failed export (a trace cut after its header) leaves the target as it was.
    let before = std::fs::read(&target).expect("target");
    let cut = dir.path("cut.jsonl");
    let header = std::fs::read_to_string(&trace).expect("trace");
    std::fs::write(&cut, header.lines().next().expect("header line")).expect("cut trace");
    let c = cut.to_str().expect("utf-8");
    let out = pmemvm(&["trace", "export", c, "--format", "chrome", "-o", l]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("truncated"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(&target).expect("target"), before);
    assert_eq!(
        dir.names(),
        ["cut.jsonl", "link.json", "real.json", "t.jsonl"]
    );

    let out = pmemvm(&[
        "trace",
        "export",
        t,
        "--format",
        "chrome",
        "-o",
        "/dev/null",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(is_char_device("/dev/null"));
}

#[test]
fn crashtest_report_to_dev_null_a_symlink_and_a_file() {
    if !kvm() {
        return;
    }
    let dir = TempDir::new("report");
    let out_dir = dir.path("out");
    let o = out_dir.to_str().expect("utf-8");
    let smoke = ["crashtest", "--scenario", "pmem-smoke", "--out", o];
    let with = |extra: &[&str]| {
        let args: Vec<&str> = smoke.iter().chain(extra).copied().collect();
        let out = pmemvm(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
    };
    with(&["--report", "/dev/null", "--html", "/dev/null"]);
    assert!(is_char_device("/dev/null"));

    let link = dir.path("r.json");
    std::os::unix::fs::symlink("real.json", &link).expect("symlink");
    let html = dir.path("r.html");
    std::fs::write(&html, "old").expect("old page");
    with(&[
        "--report",
        link.to_str().expect("utf-8"),
        "--html",
        html.to_str().expect("utf-8"),
    ]);
    assert!(std::fs::symlink_metadata(&link).expect("link").is_symlink());
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path("real.json")).expect("report"))
            .expect("JSON report");
    assert!(report.get("failures").is_some(), "{report}");
    assert!(
        std::fs::read_to_string(&html)
            .expect("page")
            .contains("<html")
    );
    assert_eq!(dir.names(), ["out", "r.html", "r.json", "real.json"]);
}

#[test]
fn unknown_scenario_of_run_is_one_line_on_stderr() {
    if !kvm() {
        return;
    }
    refused(
        &["run", "--scenario", "nope"],
        &["--scenario nope: unknown scenario", "pmem-smoke"],
    );
}

#[test]
fn os_error_is_printed_once() {
    let dir = TempDir::new("os-error");
    let missing = dir.path("missing.jsonl");
    let m = missing.to_str().expect("utf-8");
    for args in [
        &["trace", "stats", m][..],
        &["trace", "lines", m],
        &["verify", "--trace", m, "--at", "end"],
        &[
            "trace",
            "export",
            m,
            "--format",
            "chrome",
            "-o",
            "/dev/null",
        ],
    ] {
        let (out, _) = pmemvm_within(args, Duration::from_secs(10));
        assert_refused(args, &out, &[m]);
        assert_eq!(
            text(&out.stderr)
                .matches("No such file or directory")
                .count(),
            1,
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // A device error (--nvdimm's backing file) too.
    let backing = format!("mem-path={m}/x,size=2M,share=on");
    let args = ["run", "--nvdimm", &backing];
    let (out, _) = pmemvm_within(&args, Duration::from_secs(10));
    assert_refused(&args, &out, &[m]);
    let err = text(&out.stderr);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn run_trace_is_written_through_a_symlink() {
    if !kvm() {
        return;
    }
    let dir = TempDir::new("run-trace");
    let link = dir.path("t.jsonl");
    std::os::unix::fs::symlink("real.jsonl", &link).expect("symlink");
    let l = link.to_str().expect("utf-8");
    let out = pmemvm(&["run", "--scenario", "pmem-smoke", "--trace", l]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(std::fs::symlink_metadata(&link).expect("link").is_symlink());
    assert_eq!(dir.names(), ["real.jsonl", "t.jsonl"]);
    let stats = pmemvm(&["trace", "stats", l]);
    assert_eq!(stats.status.code(), Some(0), "{}", text(&stats.stderr));
}

#[test]
fn command_line_errors_are_one_line_naming_the_argument() {
    for (args, says) in [
        (
            &["run", "--timeout", "abc"][..],
            "'abc' for '--timeout <SECS>'",
        ),
        (&["crashtest", "--bogus"][..], "'--bogus'"),
        (&["verify"][..], "--trace <FILE> --at <POINT>"),
        (&["frobnicate"][..], "'frobnicate'"),
    ] {
        let out = pmemvm(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("pmemvm: ") && stderr.contains(says) && stderr.lines().count() == 1,
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn values_are_shown_escaped_and_cut_and_the_nvdimm_prefix_once() {
    let long = "x".repeat(3000);
    for (args, shown, absent) in [
        (
            vec!["crashtest", "--points", long.as_str()],
            "... (2880 more bytes)",
            "x".repeat(200),
        ),
        (
            vec!["run", "--persistence", "a\u{1b}[31mb"],
            "a\\u{1b}[31mb",
            "\u{1b}".to_string(),
        ),
        (
            vec!["run", "--nvdimm", "mem-path=/x,size=zz"],
            "--nvdimm mem-path=/x,size=zz: size: `zz`: expected a number",
            "size `zz`".to_string(),
        ),
    ] {
        let (out, _) = pmemvm_within(&args, Duration::from_secs(10));
        assert_refused(&args, &out, &[shown]);
        let err = text(&out.stderr);
        assert!(!err.contains(&absent), "{args:?}: {err}");
    }
}

#[test]
fn a_point_beyond_the_end_names_the_trace() {
    let dir = TempDir::new("beyond");
    let trace = dir.path("t.jsonl");
    empty_trace(&trace);
    let t = trace.to_str().expect("utf-8");
    for args in [
        vec!["trace", "lines", t, "--at", "seq:5"],
        vec!["trace", "why", t, "--line", "0", "--at", "seq:5"],
        vec!["trace", "states", t, "--at", "seq:5"],
    ] {
        refused(
            &args,
            &[&format!("{t}: crash point seq:5 lies beyond the end")],
        );
    }
}

#[test]
fn broken_traces_get_one_short_line_naming_the_file() {
    let dir = TempDir::new("broken");
    let good = dir.path("good.jsonl");
    empty_trace(&good);
    let header = std::fs::read_to_string(&good).expect("trace");
    let header = header.lines().next().expect("header line");
    let kind = "k".repeat(100_000);
    let cases = [
        (
            "kind.jsonl",
            format!("{header}\n{{\"seq\":1,\"kind\":\"{kind}\"}}\n"),
            "unknown event kind",
        ),
        (
            "twice.jsonl",
            format!("{header}\n{header}\n"),
            "twice.jsonl:2",
        ),
        (
            "junk.jsonl",
            format!("{}\n", header.replacen('{', "{\"junk\":1,", 1)),
            "invalid header: unknown field `junk`",
        ),
    ];
    for (name, content, words) in cases {
        let path = dir.path(name);
        std::fs::write(&path, content).expect("write");
        let p = path.to_str().expect("utf-8");
        for args in [
            vec!["trace", "stats", p],
            vec!["verify", "--trace", p, "--at", "end"],
        ] {
            let (out, _) = pmemvm_within(&args, Duration::from_secs(10));
            assert_refused(&args, &out, &[words, p]);
            let err = text(&out.stderr);
            assert!(err.len() < 1000, "{args:?}: {} bytes", err.len());
            assert!(
                !err.contains("--power-fail-at") && !err.contains("--nvdimm"),
                "{err}"
            );
        }
    }
}
