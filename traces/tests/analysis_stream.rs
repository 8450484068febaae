//! `stats` streams: a generated trace of one million events is analysed in
//! bounded memory. (Its own test binary, so the peak resident set measured
//! is this test's alone.)

mod common;

use common::{BASE, header};
use pmemvm_traces::analysis::stats;
use pmemvm_traces::*;

const EVENTS: u64 = 1_000_000;
/// Lines the generated workload cycles through.
const LINES: u64 = 4096;

/// Peak resident set of this process in KiB (Linux), if known.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A store, flush and fence pattern over `LINES` lines: per line a store,
/// every other line flushed, a fence every 16 stores, a mark region every 256.
fn kind(i: u64, first_pass: bool) -> EventKind {
    let line = (i / 4) % LINES * 64;
    match i % 4 {
        0 => {
            let w = Write::new(BASE + line, line, vec![i as u8; 8], 0x10_0000);
            EventKind::Store(if first_pass { w.with_init([0; 64]) } else { w })
        }
        1 if (i / 4).is_multiple_of(2) => EventKind::Clwb(Flush::new(BASE + line, line)),
        1 => EventKind::Store(Write::new(BASE + line + 8, line + 8, vec![1; 8], 0x10_0010)),
        2 if (i / 4).is_multiple_of(16) => EventKind::Sfence,
        2 => EventKind::ClflushOpt(Flush::new(BASE + line, line)),
        _ if (i / 4).is_multiple_of(256) => EventKind::Mark(Mark {
            op: Some(i / 1024),
            range: Some(DeviceRange {
                offset: line,
                len: 4096,
            }),
            ..Mark::new("batch-begin")
        }),
        _ if (i / 4) % 256 == 255 => EventKind::Mark(Mark::new("batch-end")),
        _ => EventKind::Io(Io { port: 0xe9 }),
    }
}

#[test]
fn stats_of_a_million_events_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl");
    let mut w = TraceWriter::create(&path, &header()).unwrap();
    for i in 0..EVENTS {
        w.write(&Event::new(i + 1, kind(i, i < LINES * 4))).unwrap();
    }
    w.finish().unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    let mut r = TraceReader::open(&path).unwrap();
    let s = stats::compute(&mut r).unwrap();
    assert_eq!(s.events, EVENTS);
    assert_eq!(s.lines_touched, LINES);
    assert_eq!(s.kinds.get("store"), EVENTS / 4 + EVENTS / 8);
    assert!(
        s.regions
            .iter()
            .any(|r| r.region == "batch" && r.instances > 0)
    );
    if let Some(kib) = peak_rss_kib() {
        eprintln!("trace {} MiB, peak RSS {} MiB", size >> 20, kib >> 10);
        // Far below the trace's size: nothing holds all events.
        assert!(
            kib * 1024 < size / 2,
            "peak RSS {kib} KiB for a {size}-byte trace"
        );
        assert!(kib < 64 * 1024, "peak RSS {kib} KiB");
    }
}
