//! `bench-record`, the workloads of `pmemvm bench record`, recorded both
//! ways (KVM): the traces hold every record's lines, flushes and fences,
//! the untraced variants record nothing, and `pmemvm bench record` on one
//! workload reports its exits.

mod common;
use common::{TempDir, kvm, pmemvm, text, utf8};

use pmemvm_traces::{EventKind, TraceReader};
use std::collections::BTreeMap;
use std::path::Path;

/// Bytes `bench-record`'s appends write in a pass.
const APPEND_BYTES: u64 = 256 << 10;

/// What a trace holds: the stores' sizes (size, count), the number of
/// `clwb`s and of fences, the fences that end an epoch, and the bytes the
/// stores leave, by device offset.
#[derive(Default)]
struct Summary {
    store_sizes: BTreeMap<usize, u64>,
    clwbs: u64,
    sfences: u64,
    sfences_ending_epochs: u64,
    other: u64,
    bytes: BTreeMap<u64, u8>,
}

fn summary(path: &Path) -> Summary {
    let mut reader = TraceReader::open(path).expect("trace opens");
    let mut s = Summary::default();
    while let Some(ev) = reader.next_event().expect("event") {
        match &ev.kind {
            EventKind::Store(w) => {
                *s.store_sizes.entry(w.data.len()).or_default() += 1;
                for (i, b) in w.data.iter().enumerate() {
                    s.bytes.insert(w.offset + i as u64, *b);
                }
            }
            EventKind::Clwb(_) => s.clwbs += 1,
            EventKind::Sfence => {
                s.sfences += 1;
                s.sfences_ending_epochs += u64::from(ev.epoch_end);
            }
            _ => s.other += 1,
        }
    }
    s
}

/// Records `variant` of `bench-record` in mode `record` into `trace`.
fn record(variant: &str, record: &str, trace: &Path) {
    let out = pmemvm(&[
        "run",
        "--scenario",
        "bench-record",
        "--variant",
        variant,
        "--record",
        record,
        "--trace",
        utf8(trace),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{variant} --record {record}: {}",
        text(&out.stderr)
    );
}

/// The byte at device offset `at` after one pass of `append-256` (the
/// guest's `record_word`): bytes 0-6 of word `w` of record `r` hold
/// `r << 9 | w`, 7 bits each, byte 7 the pass (0); every top bit is set.
fn appended(at: u64) -> u8 {
    let (record, word, byte) = (at / 256, at % 256 / 8, at % 8);
    let bits = if byte == 7 {
        0
    } else {
        ((record << 9) | word) >> (7 * byte)
    };
    0x80 | (bits & 0x7f) as u8
}

#[test]
fn append_256_traces_every_line_of_every_record_in_both_modes() {
    if !kvm() {
        return;
    }
    let dir = TempDir::new("bench-record-append");
    let records = APPEND_BYTES / 256;
    let (stores, epochs) = (dir.path("stores.jsonl"), dir.path("epochs.jsonl"));
    record("append-256", "stores", &stores);
    record("append-256", "epochs", &epochs);
    let (s, e) = (summary(&stores), summary(&epochs));
    // Stores: every 8-byte store; epochs: each line the record changed, whole.
    assert_eq!(s.store_sizes, BTreeMap::from([(8, APPEND_BYTES / 8)]));
    assert_eq!(e.store_sizes, BTreeMap::from([(64, APPEND_BYTES / 64)]));
    for t in [&s, &e] {
        assert_eq!(t.clwbs, APPEND_BYTES / 64, "a clwb per line");
        assert_eq!(t.sfences, records, "a fence per record");
        assert_eq!(t.other, 0, "nothing else is recorded");
        assert_eq!(t.bytes.len() as u64, APPEND_BYTES);
        assert!(t.bytes.iter().all(|(at, b)| *b == appended(*at)));
    }
    assert_eq!(s.sfences_ending_epochs, 0);
    assert_eq!(
        e.sfences_ending_epochs, records,
        "each fence ends its epoch"
    );
}

#[test]
fn the_untraced_variants_and_the_floor_record_nothing() {
    if !kvm() {
        return;
    }
    let dir = TempDir::new("bench-record-untraced");
    for (variant, mode) in [
        ("append-64-setup", "epochs"),
        ("copy-1m-setup", "stores"),
        ("none", "epochs"),
    ] {
        let trace = dir.path(&format!("{variant}-{mode}.jsonl"));
        record(variant, mode, &trace);
        let t = summary(&trace);
        assert!(
            t.store_sizes.is_empty() && t.clwbs + t.sfences + t.other == 0,
            "{variant} --record {mode} recorded events"
        );
    }
    let out = pmemvm(&[
        "run",
        "--scenario",
        "bench-record",
        "--variant",
        "none-setup",
    ]);
    assert_ne!(out.status.code(), Some(0), "an unknown variant fails");
}

#[test]
fn bench_record_reports_each_mode_and_its_exits() {
    if !kvm() {
        return;
    }
    let out = pmemvm(&[
        "bench",
        "record",
        "--reps",
        "1",
        "--workloads",
        "append-4k",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r["workload"], "append-4k");
    for mode in ["stores", "epochs", "untraced"] {
        assert!(r[mode]["median_us"].as_f64().expect(mode) > 0.0, "{mode}");
    }
    // 64 records of 4 KiB a pass: 512 stores and a fence exit each.
    assert_eq!(r["stores_exits"], 64.0 * 513.0);
    assert_eq!(r["epochs_exits"], 64.0);
    assert_eq!(r["untraced_exits"], 64.0);
    let out = pmemvm(&["bench", "record", "--workloads", "append-3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown workload"));
}
