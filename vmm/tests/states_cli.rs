//! `pmemvm trace states` on hand-written traces: the image counts of the
//! model's textbook cases, in text and JSON.

use pmemvm_traces::{
    Atomicity, Device, Event, EventKind, Flush, Header, Persistence, TraceWriter, Write,
};
use std::path::{Path, PathBuf};
use std::process::Command;

const BASE: u64 = 0x1_0000_0000;

fn store(seq: u64, offset: u64, byte: u8, init: bool) -> Event {
    let mut w = Write::new(BASE + offset, offset, vec![byte; 8], 0x10_0000);
    if init {
        w = w.with_init([0; 64]);
    }
    Event::new(seq, EventKind::Store(w))
}

fn ntstore(seq: u64, offset: u64, byte: u8) -> Event {
    let w = Write::new(BASE + offset, offset, vec![byte; 8], 0x10_0000).with_init([0; 64]);
    Event::new(seq, EventKind::NtStore(w))
}

fn write_trace(dir: &Path, name: &str, persistence: Persistence, events: &[Event]) -> PathBuf {
    let path = dir.join(format!("{name}.json"));
    let header = Header::new(
        Device {
            base: BASE,
            size: 2 << 20,
        },
        persistence,
        Atomicity::Line,
        "hand-written",
        "none",
        0,
        [0; 32],
    );
    let mut w = TraceWriter::create(&path, &header).expect("writer");
    for ev in events {
        w.write(ev).expect("event");
    }
    w.finish().expect("finish");
    path
}

fn count(path: &Path, at: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pmemvm"))
        .args(["trace", "states"])
        .arg(path)
        .args(["--at", at, "--json"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(doc["exhaustive"], true);
    let listed = doc["images"].as_array().map_or(0, Vec::len);
    let count = doc["count"].as_str().unwrap_or_default().to_string();
    assert_eq!(count, listed.to_string(), "count and listed images agree");
    count
}

#[test]
fn textbook_cases_have_the_expected_number_of_images() {
    let dir = std::env::temp_dir().join(format!("pmemvm-states-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let flushed = [
        store(1, 0, 1, true),
        Event::new(2, EventKind::Clwb(Flush::new(BASE, 0))),
        Event::new(3, EventKind::Sfence),
    ];
    let t = write_trace(&dir, "flushed", Persistence::Adr, &flushed);
    assert_eq!(count(&t, "end"), "1", "store x; clwb x; sfence");
    assert_eq!(count(&t, "seq:2"), "2", "store x; clwb x (no fence yet)");

    let two_lines = [store(1, 0, 1, true), store(2, 64, 2, true)];
    let adr = write_trace(&dir, "adr", Persistence::Adr, &two_lines);
    let eadr = write_trace(&dir, "eadr", Persistence::Eadr, &two_lines);
    assert_eq!(count(&adr, "end"), "4", "store x; store y under ADR");
    assert_eq!(count(&eadr, "end"), "3", "store x; store y under eADR");

    let nt_then_cached = [ntstore(1, 0, 1), store(2, 8, 2, false)];
    let nt = write_trace(&dir, "nt", Persistence::Adr, &nt_then_cached);
    assert_eq!(
        count(&nt, "end"),
        "4",
        "ntstore x; store x' (same line) under ADR"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_points_and_files_are_named_in_one_line() {
    let dir = std::env::temp_dir().join(format!("pmemvm-states-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let t = write_trace(&dir, "t", Persistence::Adr, &[store(1, 0, 1, true)]);
    let garbage = dir.join("garbage.json");
    std::fs::write(&garbage, "{\"hello\": 1}").expect("write");
    for (file, at, want) in [
        (&t, "fence:2", "fence:2 but the trace has 0 fences"),
        (&t, "nonsense", "--at nonsense"),
        (&garbage, "end", "garbage.json"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_pmemvm"))
            .args(["trace", "states"])
            .arg(file)
            .args(["--at", at])
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(want), "{at}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
