//! `pmemvm trace stats|show|lines|why|diff|export` as a process: on traces
//! written here with `TraceWriter`, and on a real pmem-smoke run (KVM).

mod common;
use common::{kvm, pmemvm, text};

use std::path::{Path, PathBuf};

use pmemvm_traces::{
    Atomicity, Device, Event, EventKind, Flush, Header, Mark, Persistence, TraceWriter, Write,
};

const BASE: u64 = 0x1_0000_0000;

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p =
            std::env::temp_dir().join(format!("pmemvm-trace-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A trace: a region, a store flushed but not fenced (line 0x4000), a
/// store never flushed (line 0x5000), a store made durable (line 0x0).
fn write_trace(path: &Path, fence: bool) {
    let header = Header::new(
        Device {
            base: BASE,
            size: 1 << 20,
        },
        Persistence::Adr,
        Atomicity::Line,
        "cli",
        if fence { "correct" } else { "missing-fence" },
        1,
        [0; 32],
    );
    let store = |off: u64| {
        EventKind::Store(
            Write::new(BASE + off, off, vec![1; 8], 0x10_0000 + off).with_init([0; 64]),
        )
    };
    let flush = |off: u64| EventKind::Clwb(Flush::new(BASE + off, off));
    let mut kinds = vec![
        EventKind::Mark(Mark {
            page: Some(4),
            range: Some(pmemvm_traces::DeviceRange {
                offset: 0x4000,
                len: 4096,
            }),
            ..Mark::new("tag-dirty")
        }),
        store(0x0),
        flush(0x0),
        EventKind::Sfence,
        store(0x4000),
        store(0x5000),
        flush(0x4000),
    ];
    if fence {
        kinds.push(EventKind::Sfence);
    }
    kinds.push(EventKind::Mark(Mark::new("done")));
    let mut w = TraceWriter::create(path, &header).expect("create");
    for (i, k) in kinds.into_iter().enumerate() {
        w.write(&Event::new(i as u64 + 1, k)).expect("event");
    }
    w.finish().expect("finish");
}

fn ok(args: &[&str]) -> String {
    let out = pmemvm(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn every_subcommand_on_a_written_trace() {
    let dir = TempDir::new("written");
    let bug = dir.path("bug.jsonl");
    let good = dir.path("good.json");
    write_trace(&bug, false);
    write_trace(&good, true);
    let (b, g) = (bug.to_str().unwrap(), good.to_str().unwrap());

    let stats = ok(&["trace", "stats", b]);
    assert!(
        stats.contains("cli/missing-fence (mem-ctrl, line atomicity): 8 events"),
        "{stats}"
    );
    assert!(
        stats.contains("writes never guaranteed persistent before the end: 2 (in 2 lines)"),
        "{stats}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["trace", "stats", b, "--json"])).unwrap();
    assert_eq!(json["lines_by_status"]["flushed-not-fenced"], 1);

    let show = ok(&["trace", "show", b, "--line", "0x100004000"]);
    assert_eq!(
        show.lines().count(),
        4,
        "titles, mark, store, clwb:\n{show}"
    );
    let show = ok(&[
        "trace", "show", b, "--from", "fence:1", "--kind", "writes", "--json",
    ]);
    let seqs: Vec<u64> = show
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, vec![5, 6]);

    let lines = ok(&["trace", "lines", b]);
    assert!(
        lines
            .contains("3 lines written (dirty 1, flushed-not-fenced 1, pending-nt 0, persisted 1)"),
        "{lines}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["trace", "lines", b, "--json", "--at", "fence:1"])).unwrap();
    assert_eq!(json["lines"][0]["status"], "persisted");

    let why = ok(&["trace", "why", b, "--line", "0x4000", "--at", "end"]);
    assert_eq!(
        why.trim_end(),
        "line 0x4000 is NOT guaranteed persistent at end (just after seq 8): store seq 5 (rip 0x104000) wrote it \
         after mark `tag-dirty page=4` (seq 1), clwb seq 7 flushed it, but no sfence, mfence or rmw followed \
         before the crash point.\nMarks covering the line's device range before the crash point: `tag-dirty page=4` (seq 1)."
    );
    let json: serde_json::Value = serde_json::from_str(&ok(&[
        "trace", "why", g, "--line", "0x4000", "--at", "end", "--json",
    ]))
    .unwrap();
    assert_eq!(json["persistent"], true);
    assert_eq!(json["units"][0]["steps"][2]["kind"], "sfence");

    let out = pmemvm(&["trace", "diff", g, b]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let diff = text(&out.stdout);
    assert!(
        diff.contains("header variant: A correct / B missing-fence"),
        "{diff}"
    );
    assert!(
        diff.contains("first difference at seq 8 (after 7 identical events)"),
        "{diff}"
    );
    assert_eq!(pmemvm(&["trace", "diff", g, g]).status.code(), Some(0));

    let out_json = dir.path("chrome.json");
    let o = out_json.to_str().unwrap();
    let msg = ok(&["trace", "export", b, "--format", "chrome", "-o", o]);
    assert!(msg.contains("trace events from 8 events"), "{msg}");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_json).unwrap()).unwrap();
    assert!(doc["traceEvents"].as_array().is_some_and(|a| a.len() > 8));
}

#[test]
fn bad_input_gets_one_line_naming_the_file_and_line() {
    let dir = TempDir::new("bad");
    let good = dir.path("t.jsonl");
    write_trace(&good, true);
    let content = std::fs::read_to_string(&good).unwrap();
    let not_trace = dir.path("not.json");
    std::fs::write(&not_trace, "{\"name\":\"pkg\"}\n").unwrap();
    let version = dir.path("v2.jsonl");
    std::fs::write(
        &version,
        content.replacen("\"version\":1", "\"version\":2", 1),
    )
    .unwrap();
    let cut = dir.path("cut.jsonl");
    let lines: Vec<&str> = content.lines().collect();
    std::fs::write(&cut, lines[..4].join("\n") + "\n").unwrap();
    let (n, v, c, g) = (
        not_trace.to_str().unwrap(),
        version.to_str().unwrap(),
        cut.to_str().unwrap(),
        good.to_str().unwrap(),
    );
    let export_out = dir.path("o.json");
    let o = export_out.to_str().unwrap();
    for (args, want) in [
        (
            vec!["trace", "stats", n],
            format!("{n}:1: not a pmemvm trace"),
        ),
        (
            vec!["trace", "show", v],
            format!("{v}:1: unsupported trace format version 2"),
        ),
        (vec!["trace", "lines", c], format!("{c}:5: truncated trace")),
        (
            vec!["trace", "export", c, "--format", "chrome", "-o", o],
            format!("{c}:5: truncated trace"),
        ),
        (
            vec!["trace", "why", g, "--line", "0x0", "--at", "fence:5"],
            format!("{g}: crash point fence:5 lies beyond the end"),
        ),
        (
            vec!["trace", "show", g, "--to", "mark:nope"],
            format!("{g}: crash point mark:nope lies beyond"),
        ),
        (
            vec!["trace", "diff", g, c],
            format!("{c}:5: truncated trace"),
        ),
        (
            vec!["trace", "why", g, "--line", "0xzz", "--at", "end"],
            "--line 0xzz: not an address".into(),
        ),
        (
            vec!["trace", "lines", g, "--at", "fence:0"],
            "--at fence:0: bad crash point".into(),
        ),
    ] {
        let out = pmemvm(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&want),
            "{args:?}: want `{want}` in {stderr}"
        );
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    }
    assert!(!export_out.exists(), "no export from a truncated trace");
}

#[test]
fn every_subcommand_on_the_pmem_smoke_trace() {
    if !kvm() {
        return;
    }
    let dir = TempDir::new("smoke");
    for name in ["t.json", "t.jsonl"] {
        let trace = dir.path(name);
        let t = trace.to_str().unwrap();
        ok(&["run", "--scenario", "pmem-smoke", "--trace", t]);
        assert!(ok(&["trace", "stats", t]).contains("pmem-smoke/correct"));
        assert!(ok(&["trace", "show", t]).lines().count() > 10);
        assert!(ok(&["trace", "lines", t, "--at", "fence:1"]).contains("lines written"));
        let why = ok(&["trace", "why", t, "--line", "0x80", "--at", "fence:1"]);
        assert!(
            why.contains("clflush seq") && why.contains("(clflush needs no fence)"),
            "{why}"
        );
        let o = dir.path(&format!("{name}.chrome.json"));
        ok(&[
            "trace",
            "export",
            t,
            "--format",
            "chrome",
            "-o",
            o.to_str().unwrap(),
        ]);
    }
    let (a, b) = (dir.path("t.json"), dir.path("t.jsonl"));
    assert!(ok(&["trace", "diff", a.to_str().unwrap(), b.to_str().unwrap()]).contains("identical"));
}
