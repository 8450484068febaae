//! The model-free analyses (stats, show, diff, Chrome export) on
//! hand-written traces, and their errors on bad input.

mod common;

use std::collections::HashMap;

use common::{BASE, header};
use pmemvm_traces::analysis::show::{Filter, KindSet};
use pmemvm_traces::analysis::{chrome, diff, show, stats};
use pmemvm_traces::*;

fn w(off: u64, len: usize) -> Write {
    Write::new(BASE + off, off, vec![7; len], 0x10_0000 + off)
}

fn fl(off: u64) -> Flush {
    Flush::new(BASE + off, off)
}

fn mark(label: &str, range: Option<(u64, u64)>) -> EventKind {
    EventKind::Mark(Mark {
        op: Some(1),
        range: range.map(|(offset, len)| DeviceRange { offset, len }),
        ..Mark::new(label)
    })
}

fn sample() -> Vec<Event> {
    Event::numbered(vec![
        mark("fsync-begin", Some((0, 4096))),
        EventKind::Store(w(0x0, 8)),
        EventKind::Store(w(0x40, 4)),
        EventKind::Clwb(fl(0x0)),
        EventKind::Clwb(fl(0x0)),  // redundant
        EventKind::Clwb(fl(0x80)), // unnecessary: never written
        EventKind::Sfence,
        EventKind::Clwb(fl(0x0)), // unnecessary: persisted
        mark("fsync-end", None),
        EventKind::NtStore(w(0xc0, 8)),
        EventKind::Rmw(w(0x100, 8)),
        EventKind::Store(w(0x48, 8)),
    ])
}

fn reader(format: Format, evs: &[Event]) -> (Vec<u8>, &'static str) {
    let name = match format {
        Format::Json => "t.json",
        Format::Jsonl => "t.jsonl",
    };
    (common::encode(format, &header(), evs), name)
}

fn stats_of(evs: &[Event]) -> stats::Stats {
    let (bytes, name) = reader(Format::Jsonl, evs);
    let mut r = TraceReader::from_reader(&bytes[..], name).unwrap();
    stats::compute(&mut r).unwrap()
}

#[test]
fn stats_counts_and_smells() {
    let s = stats_of(&sample());
    assert_eq!(s.events, 12);
    assert_eq!(s.kinds.get("clwb"), 4);
    assert_eq!(s.kinds.get("store"), 3);
    assert_eq!(s.store_sizes.get(&8), Some(&4));
    assert_eq!(s.store_sizes.get(&4), Some(&1));
    assert_eq!(s.bytes_written, 36);
    assert_eq!(s.bytes_by_kind.get("ntstore"), 8);
    assert_eq!(s.lines_touched, 4);
    assert_eq!(s.lines_flushed, 2);
    assert_eq!(s.fences, 2);
    assert_eq!(s.flushes, 4);
    assert_eq!(s.unnecessary_flushes, 2);
    assert_eq!(s.redundant_flushes, 1);
    // Line 0x40 (two stores), the rmw's own write: never durable; the NT
    // store was committed by the rmw.
    assert_eq!(s.stores_not_durable, 3);
    assert_eq!(s.lines_not_durable, 2);
    assert_eq!(s.lines_by_status["dirty"], 2);
    assert_eq!(s.lines_by_status["persisted"], 2);
    assert_eq!(s.regions.len(), 1);
    let fsync = &s.regions[0];
    assert_eq!((fsync.region.as_str(), fsync.instances), ("fsync", 1));
    assert_eq!(fsync.activity.events, 8);
    assert_eq!(fsync.activity.redundant_flushes, 1);
    assert_eq!(fsync.activity.unnecessary_flushes, 2);
    assert_eq!(fsync.activity.lines_not_durable, 0);
    assert_eq!(s.outside_regions.lines_not_durable, 2);
    let text = s.to_string();
    for want in [
        "pmem-smoke/correct (mem-ctrl, line atomicity): 12 events",
        "stores by size: 4 B x1, 8 B x4",
        "of a line with nothing left to persist: 2",
        "redundant (line already flushed, no fence since): 1",
        "writes never guaranteed persistent before the end: 3 (in 2 lines)",
        "  fsync                            1        8",
    ] {
        assert!(text.contains(want), "`{want}` not in\n{text}");
    }
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["kinds"]["clwb"], 4);
    assert_eq!(json["regions"][0]["redundant_flushes"], 1);
}

fn show_rows(evs: &[Event], filter: Filter) -> Vec<show::Row> {
    let (bytes, name) = reader(Format::Json, evs);
    let mut r = TraceReader::from_reader(&bytes[..], name).unwrap();
    let mut rows = Vec::new();
    show::run(&mut r, filter, |row| {
        rows.push(row.clone());
        Ok(())
    })
    .unwrap();
    rows
}

#[test]
fn show_filters() {
    let evs = sample();
    let seqs = |f: Filter| -> Vec<u64> { show_rows(&evs, f).iter().map(|r| r.event.seq).collect() };
    assert_eq!(seqs(Filter::default()), (1..=12).collect::<Vec<_>>());
    let range = Filter {
        after: 3,
        until: Some(7),
        ..Filter::default()
    };
    assert_eq!(seqs(range), vec![4, 5, 6, 7]);
    let line = Filter {
        line: Some(0x40),
        ..Filter::default()
    };
    // Its stores, the marks covering it, the fence while it was dirty.
    assert_eq!(seqs(line), vec![1, 3, 7, 11, 12]);
    let kinds = Filter {
        kinds: Some(KindSet::parse("fences,ntstore").unwrap()),
        ..Filter::default()
    };
    assert_eq!(seqs(kinds), vec![7, 10, 11]);
    assert!(KindSet::parse("store,nope").unwrap_err().contains("`nope`"));
    let rows = show_rows(&evs, Filter::default());
    assert_eq!(rows[1].region.as_deref(), Some("fsync op=1"));
    assert_eq!(rows[9].region, None);
    let text = rows[1].to_string();
    assert!(
        text.starts_with("       2 store       0x0         0x0            8 0707070707070707"),
        "{text}"
    );
    assert!(text.ends_with("0x100000    fsync op=1"), "{text}");
    let json = serde_json::to_value(&rows[1]).unwrap();
    assert_eq!(json["line"], "0x0");
    assert_eq!(json["region"], "fsync op=1");
    assert!(json.get("init").is_none());
}

#[test]
fn diff_finds_the_first_difference() {
    let a = sample();
    let mut kinds: Vec<EventKind> = a.iter().map(|e| e.kind.clone()).collect();
    kinds[6] = EventKind::Mfence;
    kinds.truncate(11);
    let b = Event::numbered(kinds);
    let (ba, _) = reader(Format::Json, &a);
    let (bb, _) = reader(Format::Jsonl, &b);
    let mut ra = TraceReader::from_reader(&ba[..], "a.json").unwrap();
    let mut rb = TraceReader::from_reader(&bb[..], "b.jsonl").unwrap();
    let d = diff::compare(&mut ra, &mut rb).unwrap();
    assert!(!d.identical);
    assert_eq!(d.common_events, 6);
    let first = d.first_difference.as_ref().unwrap();
    assert_eq!(first.seq, 7);
    assert_eq!(first.a.as_ref().unwrap().event.kind, EventKind::Sfence);
    assert_eq!(first.b.as_ref().unwrap().event.kind, EventKind::Mfence);
    assert_eq!((d.a.events, d.b.events), (12, 11));
    let text = d.to_string();
    assert!(
        text.contains("first difference at seq 7 (after 6 identical events)"),
        "{text}"
    );
    assert!(text.contains("  sfence"), "{text}");
    // Same trace in both layouts: identical.
    let (bj, _) = reader(Format::Jsonl, &a);
    let mut ra = TraceReader::from_reader(&ba[..], "a.json").unwrap();
    let mut rj = TraceReader::from_reader(&bj[..], "a.jsonl").unwrap();
    assert!(diff::compare(&mut ra, &mut rj).unwrap().identical);
}

/// Parses a Chrome export and checks the format: required fields, phases,
/// monotonic timestamps per track, balanced slices.
fn check_chrome(doc: &serde_json::Value) -> Vec<serde_json::Value> {
    let evs = doc["traceEvents"].as_array().expect("traceEvents").clone();
    let mut last_ts: HashMap<(u64, u64, String), f64> = HashMap::new();
    let mut depth: HashMap<(u64, u64), i64> = HashMap::new();
    for e in &evs {
        for field in ["name", "ph", "ts", "pid", "tid"] {
            assert!(e.get(field).is_some(), "`{field}` missing in {e}");
        }
        let ph = e["ph"].as_str().unwrap();
        assert!(["M", "B", "E", "i", "C"].contains(&ph), "phase {ph}");
        let (pid, tid) = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
        let ts = e["ts"].as_f64().unwrap();
        // Counters are a track per name; the rest a track per thread.
        let track = if ph == "C" {
            (pid, tid, e["name"].as_str().unwrap().to_string())
        } else {
            (pid, tid, String::new())
        };
        let last = last_ts.entry(track).or_insert(0.0);
        assert!(ts >= *last, "ts goes back on a track at {e}");
        *last = ts;
        match ph {
            "B" => *depth.entry((pid, tid)).or_default() += 1,
            "E" => {
                let d = depth.entry((pid, tid)).or_default();
                *d -= 1;
                assert!(*d >= 0, "E without B at {e}");
            }
            "i" => assert!(["t", "g", "p"].contains(&e["s"].as_str().unwrap_or("t"))),
            "C" => assert!(e["args"].as_object().unwrap().values().all(|v| v.is_u64())),
            _ => {}
        }
    }
    assert!(depth.values().all(|d| *d == 0), "unbalanced slices");
    evs
}

#[test]
fn chrome_export_parses_back() {
    let mut kinds: Vec<EventKind> = sample().into_iter().map(|e| e.kind).collect();
    // Overlapping regions: `a` closes while `b` is open inside it.
    kinds.push(mark("a-begin", None));
    kinds.push(mark("b-begin", None));
    kinds.push(mark("a-end", None));
    kinds.push(mark("tag-dirty", Some((0, 64))));
    kinds.push(mark("c-begin", None));
    let evs = Event::numbered(kinds);
    let (bytes, name) = reader(Format::Jsonl, &evs);
    let mut r = TraceReader::from_reader(&bytes[..], name).unwrap();
    let mut out = Vec::new();
    let summary = chrome::write(&mut r, &mut out, "out.json".as_ref()).unwrap();
    assert_eq!(summary.events_read, 17);
    let doc: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
    let ce = check_chrome(&doc);
    assert_eq!(summary.events_written as usize, ce.len());
    let phases = |ph: &str| ce.iter().filter(|e| e["ph"] == ph).count();
    assert_eq!(phases("M"), 2);
    // fsync, a, b (twice: reopened), c.
    assert_eq!(phases("B"), 5);
    assert_eq!(phases("E"), 5);
    let stores: Vec<_> = ce.iter().filter(|e| e["name"] == "store").collect();
    assert_eq!(stores.len(), 3);
    assert_eq!(stores[0]["ts"], 2);
    assert_eq!(stores[0]["tid"], chrome::VCPU_TID);
    assert_eq!(stores[0]["args"]["line"], "0x0");
    assert!(
        ce.iter()
            .any(|e| e["name"] == "tag-dirty op=1" && e["ph"] == "i")
    );
    let last_counter = ce.iter().rev().find(|e| e["ph"] == "C").unwrap();
    assert_eq!(last_counter["args"]["dirty"], 2);
    assert_eq!(last_counter["args"]["persisted"], 2);
    // Deterministic: the same input gives the same bytes.
    let mut r = TraceReader::from_reader(&bytes[..], name).unwrap();
    let mut again = Vec::new();
    chrome::write(&mut r, &mut again, "out.json".as_ref()).unwrap();
    assert_eq!(out, again);
}

#[test]
fn chrome_export_writes_a_file_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.json");
    let mut tw = TraceWriter::create(&trace, &header()).unwrap();
    for ev in sample() {
        tw.write(&ev).unwrap();
    }
    tw.finish().unwrap();
    let out = dir.path().join("out.json");
    let mut r = TraceReader::open(&trace).unwrap();
    chrome::export(&mut r, &out).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    check_chrome(&doc);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
    // A trace that fails midway leaves no output behind.
    let text = std::fs::read_to_string(&trace).unwrap();
    std::fs::write(&trace, &text[..text.len() / 2]).unwrap();
    let bad = dir.path().join("bad.json");
    let mut r = TraceReader::open(&trace).unwrap();
    assert!(chrome::export(&mut r, &bad).is_err());
    assert!(!bad.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn bad_input_is_located() {
    let good = String::from_utf8(common::encode(Format::Jsonl, &header(), &sample())).unwrap();
    let cases = [
        ("hello".to_string(), "not a pmemvm trace"),
        (
            good.replacen("\"version\":1", "\"version\":9", 1),
            "unsupported trace format version 9",
        ),
        (good[..good.len() / 2].to_string(), "truncated"),
    ];
    for (text, want) in cases {
        let err = TraceReader::from_reader(text.as_bytes(), "x.jsonl")
            .and_then(|mut r| stats::compute(&mut r))
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("x.jsonl:"), "{msg}");
        assert!(msg.contains(want), "{msg}");
        assert!(err.location().and_then(|l| l.line).is_some(), "{msg}");
    }
    // A truncated trace fails the export too, naming the line.
    let cut = &good[..good.len() / 2];
    let mut r = TraceReader::from_reader(cut.as_bytes(), "x.jsonl").unwrap();
    let e = chrome::write(&mut r, Vec::new(), "o.json".as_ref()).unwrap_err();
    assert!(e.to_string().starts_with("x.jsonl:"), "{e}");
}
