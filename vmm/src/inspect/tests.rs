//! Tests of `lines` and `why` on hand-written traces, and of the model-free
//! line tracker of the trace tools against the device model.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use pmemvm_device::model::Model;
use pmemvm_traces::analysis::tracker::{LineStatus, LineTracker};
use pmemvm_traces::{
    Atomicity, Device, DeviceRange, Event, EventKind, Flush, Header, Io, Mark, Persistence,
    TraceWriter, Write,
};

use super::lines::{line_status, lines_at};
use super::why::why;
use crate::replay::{apply, model_config};

const BASE: u64 = 0x1_0000_0000;

fn header(persistence: Persistence, atomicity: Atomicity) -> Header {
    Header::new(
        Device {
            base: BASE,
            size: 1 << 20,
        },
        persistence,
        atomicity,
        "unit",
        "test",
        1,
        [0; 32],
    )
}

/// A write of `len` bytes at device offset `off` (init added by [`events`]).
fn w(off: u64, len: usize, rip: u64) -> Write {
    Write::new(BASE + off, off, vec![0x5a; len], rip)
}

fn store(off: u64, rip: u64) -> EventKind {
    EventKind::Store(w(off, 8, rip))
}

fn flush(off: u64) -> Flush {
    Flush::new(BASE + off, off)
}

fn mark(label: &str, page: Option<u64>, op: Option<u64>, range: Option<(u64, u64)>) -> EventKind {
    EventKind::Mark(Mark {
        label: label.into(),
        file: None,
        page,
        op,
        range: range.map(|(offset, len)| DeviceRange { offset, len }),
    })
}

/// A trace file removed when dropped.
struct TempTrace(PathBuf);

impl Drop for TempTrace {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn write_trace(header: &Header, kinds: Vec<EventKind>) -> TempTrace {
    static N: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "pmemvm-inspect-{}-{}.json",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let mut t = TraceWriter::create(&path, header).expect("create trace");
    for ev in Event::numbered(kinds) {
        t.write(&ev).expect("valid event");
    }
    t.finish().expect("finish trace");
    TempTrace(path)
}

fn adr() -> Header {
    header(Persistence::Adr, Atomicity::Line)
}

fn explain(h: &Header, kinds: Vec<EventKind>, line: u64, at: &str) -> String {
    let t = write_trace(h, kinds);
    why(&t.0, line, &at.parse().expect("point"), None)
        .expect("why")
        .explanation
}

#[test]
fn why_flush_without_fence() {
    let text = explain(
        &adr(),
        vec![
            mark("write-begin", None, Some(1), Some((0x4000, 4096))),
            store(0x4000, 0x10abc),
            mark("write-end", None, Some(1), None),
            mark("tag-dirty", Some(1), None, Some((0x4000, 4096))),
            EventKind::Clwb(flush(0x4008)),
            EventKind::Io(Io { port: 0xe9 }),
        ],
        0x4000,
        "end",
    );
    assert_eq!(
        text,
        "line 0x4000 is NOT guaranteed persistent at end (just after seq 6): \
         store seq 2 (rip 0x10abc) wrote it inside mark `write op=1`, \
         clwb seq 5 flushed it after mark `tag-dirty page=1` (seq 4), \
         but no sfence, mfence or rmw followed before the crash point.\n\
         Marks covering the line's device range before the crash point: \
         `write-begin op=1` (seq 1), `tag-dirty page=1` (seq 4)."
    );
}

#[test]
fn why_store_without_flush() {
    let text = explain(
        &adr(),
        vec![
            mark("fault-wp", Some(5), None, Some((0x5000, 4096))),
            store(0x5040, 0x100),
            EventKind::Clwb(flush(0x6000)),
            EventKind::Sfence,
        ],
        0x5048,
        "fence:1",
    );
    assert_eq!(
        text,
        "line 0x5040 is NOT guaranteed persistent at fence:1 (just after seq 4): \
         store seq 2 (rip 0x100) wrote it after mark `fault-wp page=5` (seq 1), \
         but no clwb, clflushopt or clflush of the line followed before the crash point.\n\
         Marks covering the line's device range before the crash point: `fault-wp page=5` (seq 1)."
    );
}

#[test]
fn why_clflush() {
    let text = explain(
        &adr(),
        vec![store(0x80, 0x10), EventKind::Clflush(flush(0xbf))],
        0x80,
        "end",
    );
    assert_eq!(
        text,
        "line 0x80 is guaranteed persistent at end (just after seq 2): \
         store seq 1 (rip 0x10) wrote it, clflush seq 2 flushed it (clflush needs no fence).\n\
         No mark covers the line's device range before the crash point."
    );
}

#[test]
fn why_nt_store_committed_by_fence() {
    let text = explain(
        &adr(),
        vec![EventKind::NtStore(w(0xc0, 8, 0x20)), EventKind::Mfence],
        0xc0,
        "fence:1",
    );
    assert_eq!(
        text,
        "line 0xc0 is guaranteed persistent at fence:1 (just after seq 2): \
         ntstore seq 1 (rip 0x20) wrote it (non-temporal), mfence seq 2 committed it.\n\
         No mark covers the line's device range before the crash point."
    );
    // Before the fence, it is pending.
    let text = explain(
        &adr(),
        vec![EventKind::NtStore(w(0xc0, 8, 0x20)), EventKind::Mfence],
        0xc0,
        "seq:1",
    );
    assert!(
        text.starts_with(
            "line 0xc0 is NOT guaranteed persistent at seq:1 (just after seq 1): \
             ntstore seq 1 (rip 0x20) wrote it (non-temporal), but no sfence, mfence or rmw followed"
        ),
        "{text}"
    );
}

#[test]
fn why_flush_and_fence() {
    let text = explain(
        &adr(),
        vec![
            store(0x0, 0x10),
            EventKind::ClflushOpt(flush(0x0)),
            EventKind::Sfence,
            store(0x8, 0x18),
        ],
        0x0,
        "fence:1",
    );
    assert!(
        text.starts_with(
            "line 0x0 is guaranteed persistent at fence:1 (just after seq 3): store seq 1 (rip 0x10) wrote it, \
             clflushopt seq 2 flushed it, sfence seq 3 committed the flush."
        ),
        "{text}"
    );
    // A store after the flush: the flush covers only the first store.
    let kinds = || {
        vec![
            store(0x0, 0x10),
            EventKind::Clwb(flush(0x0)),
            store(0x8, 0x18),
            EventKind::Sfence,
        ]
    };
    let text = explain(&adr(), kinds(), 0x0, "seq:3");
    assert!(
        text.starts_with(
            "line 0x0 is NOT guaranteed persistent at seq:3 (just after seq 3): store seq 3 (rip 0x18) wrote it \
             after clwb seq 2 flushed the line (that flush covers only up to store seq 1), and no clwb, \
             clflushopt or clflush of the line followed before the crash point."
        ),
        "{text}"
    );
    let text = explain(&adr(), kinds(), 0x0, "end");
    assert!(
        text.starts_with(
            "line 0x0 is NOT guaranteed persistent at end (just after seq 4): store seq 3 (rip 0x18) wrote it, \
             but no clwb, clflushopt or clflush of the line followed before the crash point; the line is \
             guaranteed only up to store seq 1 (made durable by sfence seq 4)."
        ),
        "{text}"
    );
}

#[test]
fn why_eadr_and_word_mode_and_untouched() {
    let eadr = header(Persistence::Eadr, Atomicity::Line);
    let kinds = || {
        vec![
            store(0x40, 0x10),
            EventKind::Io(Io { port: 0xe9 }),
            store(0x48, 0x18),
        ]
    };
    assert!(
        explain(&eadr, kinds(), 0x40, "seq:2").starts_with(
            "line 0x40 is guaranteed persistent at seq:2 (just after seq 2): store seq 1 (rip 0x10) wrote it, \
             and io seq 2 drained it (eADR"
        )
    );
    assert!(
        explain(&eadr, kinds(), 0x40, "end").starts_with(
            "line 0x40 is NOT guaranteed persistent at end (just after seq 3): store seq 3 (rip 0x18) wrote it \
             after the last drain point (seq 2), and no sfence"
        )
    );
    let word = header(Persistence::Adr, Atomicity::Word);
    let text = explain(
        &word,
        vec![
            store(0x40, 0x10),
            store(0x48, 0x18),
            EventKind::Clflush(flush(0x40)),
        ],
        0x40,
        "end",
    );
    assert!(
        text.contains("word 0x40: store seq 1") && text.contains("word 0x48: store seq 2"),
        "{text}"
    );
    assert!(
        explain(&adr(), vec![store(0x40, 0x10)], 0x1000, "end")
            .starts_with("line 0x1000 was not written before the crash point")
    );
}

#[test]
fn why_point_beyond_end() {
    let t = write_trace(&adr(), vec![store(0x40, 0x10)]);
    let e = why(&t.0, 0x40, &"fence:2".parse().expect("point"), None)
        .expect_err("beyond the end")
        .to_string();
    assert!(e.contains("fence:2 but the trace has 0 fences"), "{e}");
}

#[test]
fn lines_report_states_and_deciding_events() {
    let t = write_trace(
        &adr(),
        vec![
            store(0x0, 0x10),
            store(0x40, 0x10),
            store(0x80, 0x10),
            EventKind::NtStore(w(0xc0, 8, 0x20)),
            EventKind::Clwb(flush(0x0)),
            EventKind::Clflush(flush(0x40)),
            EventKind::Sfence,
            EventKind::Clwb(flush(0x80)),
            EventKind::NtStore(w(0xc8, 8, 0x20)),
        ],
    );
    let r = lines_at(&t.0, &"end".parse().expect("point")).expect("lines");
    let got: Vec<(u64, LineStatus)> = r.lines.iter().map(|l| (l.line, l.status)).collect();
    assert_eq!(
        got,
        vec![
            (0x0, LineStatus::Persisted),
            (0x40, LineStatus::Persisted),
            (0x80, LineStatus::FlushedNotFenced),
            (0xc0, LineStatus::PendingNt),
        ]
    );
    let u = &r.lines[0].units[0];
    assert_eq!(
        (u.latest_store, u.persisted_store, u.persisted_by),
        (1, 1, 7)
    );
    assert_eq!(r.lines[1].units[0].persisted_by, 6);
    let f = r.lines[2].units[0].flush.as_ref().expect("pending flush");
    assert_eq!((f.flush, f.store), (8, 3));
    assert_eq!(r.lines[3].units[0].pending_nt, vec![9]);
    let text = r.to_string();
    assert!(
        text.contains("4 lines written (dirty 0, flushed-not-fenced 1, pending-nt 1, persisted 2)"),
        "{text}"
    );
    let json = serde_json::to_value(&r).expect("json");
    assert_eq!(json["lines"][2]["status"], "flushed-not-fenced");
    assert_eq!(json["lines"][2]["line"], "0x80");
}

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// The model-free tracker of `stats`, `show` and the Chrome counters says
/// the same as the device model about every line after every event.
#[test]
fn tracker_agrees_with_the_model() {
    for (persistence, atomicity) in [
        (Persistence::Adr, Atomicity::Line),
        (Persistence::Adr, Atomicity::Word),
        (Persistence::Eadr, Atomicity::Line),
        (Persistence::Eadr, Atomicity::Word),
    ] {
        let h = header(persistence, atomicity);
        for seed in 0..20 {
            let mut rng = Rng(seed);
            let kinds: Vec<EventKind> = (0..200)
                .map(|_| {
                    let off = rng.next(3) * 64 + rng.next(8) * 8;
                    match rng.next(10) {
                        0..=2 => store(off, 0x10),
                        3 => EventKind::NtStore(w(off, 8, 0x10)),
                        4 => EventKind::Rmw(w(off, 8, 0x10)),
                        5 => EventKind::Clwb(flush(off)),
                        6 => EventKind::ClflushOpt(flush(off)),
                        7 => EventKind::Clflush(flush(off)),
                        8 => EventKind::Sfence,
                        _ => mark("m", None, None, None),
                    }
                })
                .collect();
            let mut model = Model::new(model_config(&h));
            let mut tracker: LineTracker = LineTracker::new(&h);
            for ev in Event::numbered(kinds) {
                apply(&mut model, &ev).expect("apply");
                tracker.observe(&ev);
                for line in [0, 64, 128] {
                    assert_eq!(
                        model.line_state(line).map(|s| line_status(&s)),
                        tracker.status(line),
                        "{persistence:?} {atomicity:?} seed {seed} seq {} line {line}",
                        ev.seq
                    );
                }
            }
        }
    }
}

#[test]
fn lines_and_why_name_the_file_on_bad_input() {
    let path = Path::new("/nonexistent/trace.json");
    let e = lines_at(path, &"end".parse().expect("point"))
        .expect_err("missing file")
        .to_string();
    assert!(e.starts_with("/nonexistent/trace.json"), "{e}");
}
