//! The emulated NVDIMM end to end: discovery through the NFIT, the exact
//! trace of `pmem-smoke`, determinism, the media after a clean exit and
//! after a power failure, and verify mode on crash images.

use guest_tests::{require_kvm, run_scenario, scenario};
use pmemvm::nvdimm::NvdimmOptions;
use pmemvm::run_kind::{PowerCut, RunKind};
use pmemvm::session::RunConfig;
use pmemvm::verify::{VerifyOptions, verify_trace};
use pmemvm_device::crash::ImageSpec;
use pmemvm_traces::{CrashPoint, EventKind, TraceReader};
use std::path::{Path, PathBuf};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pmemvm-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn smoke(variant: &str, nvdimm: NvdimmOptions) -> RunConfig {
    RunConfig {
        variant: variant.into(),
        nvdimm,
        ..scenario("pmem-smoke")
    }
}

/// `pmem-smoke`'s `variant`, traced to `path`.
fn traced(variant: &str, path: &Path) -> RunConfig {
    RunConfig {
        kind: RunKind::Record {
            trace: Some(path.to_path_buf()),
            power_cut: None,
        },
        ..smoke(variant, NvdimmOptions::default())
    }
}

/// `kind offset size` of each event, for readable comparisons.
fn summary(path: &Path) -> Vec<String> {
    let mut reader = TraceReader::open(path).expect("trace opens");
    let mut out = Vec::new();
    while let Some(ev) = reader.next_event().expect("event") {
        let s = match &ev.kind {
            EventKind::Store(w) | EventKind::NtStore(w) | EventKind::Rmw(w) => {
                format!("{} {:#x} {}", ev.kind.name(), w.offset, w.data.len())
            }
            EventKind::Clwb(f) | EventKind::ClflushOpt(f) | EventKind::Clflush(f) => {
                format!("{} {:#x}", ev.kind.name(), f.line)
            }
            EventKind::Mark(m) => format!("mark {}", m.label),
            EventKind::Io(io) => format!("io {:#x}", io.port),
            EventKind::Promise(p) => format!("promise {} {:#x} {}", p.file, p.offset, p.len),
            other => other.name().to_string(),
        };
        out.push(s);
    }
    out
}

#[test]
fn pmem_smoke_trace_holds_exactly_the_expected_events() {
    require_kvm!();
    let dir = temp_dir("smoke");
    let path = dir.join("t.json");
    let (result, console) = run_scenario(&traced("correct", &path));
    assert_eq!(result.expect("runs").status, 0, "{console}");
    let expected = [
        "mark smoke-begin",
        "store 0x0 1",
        "store 0x40 2",
        "store 0x80 4",
        "store 0xc0 8",
        "store 0x100 8",
        "store 0x108 8",
        "store 0x13c 4",
        "store 0x140 4",
        "ntstore 0x180 8",
        "clwb 0x0",
        "clflushopt 0x40",
        "clflush 0x80",
        "sfence",
        "promise 1 0x0 192",
        "rmw 0x1c0 8",
        "mfence",
        "mark smoke-end",
        "io 0xf0",
    ];
    assert_eq!(summary(&path), expected);
    // The first write to each line carries the line's initial content.
    let mut reader = TraceReader::open(&path).expect("opens");
    let first = reader.next_event().expect("ok").expect("event");
    assert!(
        matches!(first.kind, EventKind::Mark(ref m) if m.range.is_some_and(|r| r.len == 0x200))
    );
    let store = reader.next_event().expect("ok").expect("event");
    let w = store.kind.write().expect("a store");
    assert_eq!(
        w.init.as_deref(),
        Some(&[0xaa; 64]),
        "setup content as init"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The runtime's `memcpy`, `memset` and `memmove` store aligned 8-byte
/// words to the NVDIMM (one exit and one event each), single bytes only at
/// the unaligned edges, and `memmove` copies an overlap from the end.
#[test]
fn memcpy_memset_and_memmove_store_words_to_the_nvdimm() {
    require_kvm!();
    let dir = temp_dir("memfns");
    let path = dir.join("t.json");
    let (result, console) = run_scenario(&traced("memfns", &path));
    assert_eq!(result.expect("runs").status, 0, "{console}");
    let stores = |from: u64, to: u64, size: u64| {
        (from..to)
            .step_by(size as usize)
            .map(move |off| format!("store {off:#x} {size}"))
    };
    let mut expected = vec!["mark memfns".to_string()];
    // memcpy of 256 bytes to 0x200: 32 words.
    expected.extend(stores(0x200, 0x300, 8));
    // memset of 64 bytes at 0x300: 8 words.
    expected.extend(stores(0x300, 0x340, 8));
    // memcpy of 20 bytes to 0x343: 5 head bytes, one word, 7 tail bytes.
    expected.extend(stores(0x343, 0x348, 1));
    expected.extend(stores(0x348, 0x350, 8));
    expected.extend(stores(0x350, 0x357, 1));
    // memmove of 16 bytes from 0x400 to 0x401, from the end: the byte above
    // the last word boundary, one word, then 7 bytes downwards.
    expected.extend(stores(0x410, 0x411, 1));
    expected.extend(stores(0x408, 0x410, 8));
    let mut head: Vec<String> = stores(0x401, 0x408, 1).collect();
    head.reverse();
    expected.extend(head);
    assert_eq!(summary(&path), expected);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_recorded_trace_validates_against_the_json_schema() {
    require_kvm!();
    let dir = temp_dir("schema");
    let path = dir.join("t.json");
    let (result, _) = run_scenario(&traced("correct", &path));
    assert_eq!(result.expect("runs").status, 0);
    let schema_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../traces/schema/trace-v1.schema.json"
    );
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(schema_path).expect("schema")).expect("schema JSON");
    let trace: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("trace")).expect("trace JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&trace)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn two_runs_give_byte_identical_traces_in_both_formats() {
    require_kvm!();
    let dir = temp_dir("determinism");
    for ext in ["json", "jsonl"] {
        let a = dir.join(format!("a.{ext}"));
        let b = dir.join(format!("b.{ext}"));
        for p in [&a, &b] {
            let (result, _) = run_scenario(&traced("correct", p));
            assert_eq!(result.expect("runs").status, 0);
        }
        let (ta, tb) = (std::fs::read(&a).expect("a"), std::fs::read(&b).expect("b"));
        assert!(!ta.is_empty());
        assert!(ta == tb, "{ext} traces differ");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_guest_finds_the_nvdimm_through_the_nfit_whatever_its_size() {
    require_kvm!();
    let dir = temp_dir("nfit");
    for (mib, persistence, domain) in [(64, "mem-ctrl", "ADR"), (128, "cpu", "eADR")] {
        let file = dir.join(format!("pm{mib}.img"));
        let nvdimm = NvdimmOptions {
            backing: Some(
                format!("mem-path={},size={mib}M,share=on", file.display())
                    .parse()
                    .expect("options"),
            ),
            persistence: persistence.parse().expect("persistence"),
            ..NvdimmOptions::default()
        };
        let (result, console) = run_scenario(&smoke("correct", nvdimm));
        assert_eq!(result.expect("runs").status, 0, "{console}");
        assert!(
            console.contains(&format!("{mib} MiB, {domain}")),
            "the guest read size and domain from the NFIT: {console}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

fn read_at(file: &Path, off: usize, len: usize) -> Vec<u8> {
    std::fs::read(file).expect("media file")[off..off + len].to_vec()
}

#[test]
fn media_after_a_clean_exit_holds_every_write() {
    require_kvm!();
    let dir = temp_dir("clean");
    let file = dir.join("pm.img");
    let nvdimm = NvdimmOptions {
        backing: Some(
            format!("mem-path={},size=64M,share=on", file.display())
                .parse()
                .expect("options"),
        ),
        ..NvdimmOptions::default()
    };
    let (result, _) = run_scenario(&smoke("correct", nvdimm));
    assert_eq!(result.expect("runs").status, 0);
    assert_eq!(
        read_at(&file, 0xc0, 8),
        [0x44; 8],
        "an unflushed store reached the media"
    );
    assert_eq!(read_at(&file, 0x1c0, 8), [0x88; 8]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn media_after_a_power_failure_is_the_chosen_image() {
    require_kvm!();
    let dir = temp_dir("powerfail");
    for (image, unflushed) in [("minimal", [0xaa; 8]), ("maximal", [0x44; 8])] {
        let file = dir.join(format!("{image}.img"));
        let nvdimm = NvdimmOptions {
            backing: Some(
                format!("mem-path={},size=64M,share=on", file.display())
                    .parse()
                    .expect("options"),
            ),
            ..NvdimmOptions::default()
        };
        let config = RunConfig {
            kind: RunKind::Record {
                trace: Some(dir.join(format!("{image}.jsonl"))),
                power_cut: Some(PowerCut {
                    at: "fence:1".parse().expect("point"),
                    image: image.parse().expect("image"),
                }),
            },
            ..smoke("correct", nvdimm)
        };
        let (result, _) = run_scenario(&config);
        let outcome = result.expect("runs");
        let (point, _) = outcome.media.power_failure.expect("power failed");
        assert_eq!(point, CrashPoint::Fence(1));
        assert_eq!(read_at(&file, 0, 1), [0x11], "clwb + sfence: persistent");
        assert_eq!(read_at(&file, 0x80, 4), [0x33; 4], "clflush: persistent");
        assert_eq!(read_at(&file, 0xc0, 8), unflushed, "{image}: never flushed");
        assert_eq!(
            read_at(&file, 0x1c0, 8),
            [0xaa; 8],
            "after the crash point: never happened"
        );
        let events = summary(&dir.join(format!("{image}.jsonl")));
        assert_eq!(events.last().map(String::as_str), Some("power-fail"));
    }
    std::fs::remove_dir_all(&dir).ok();
}

fn verify(trace: &Path, point: &str, image: &str) -> (bool, String) {
    let opts = VerifyOptions {
        guest: pmemvm::guest::GuestSource::Bundled,
        mem: 64 << 20,
        timeout_secs: 20,
        backing: None,
    };
    let spec: ImageSpec = image.parse().expect("image");
    let r = verify_trace(trace, &point.parse().expect("point"), &spec, &opts).expect("verify runs");
    (r.verdict.passed, r.verdict.message)
}

#[test]
fn verify_passes_kept_promises_and_names_the_lost_bytes() {
    require_kvm!();
    let dir = temp_dir("verify");
    let good = dir.join("good.json");
    let bad = dir.join("bad.json");
    for (variant, path) in [("correct", &good), ("no-fence", &bad)] {
        let (result, _) = run_scenario(&traced(variant, path));
        assert_eq!(result.expect("runs").status, 0);
    }
    for image in ["minimal", "maximal", "random:7"] {
        assert!(
            verify(&good, "promise:1", image).0,
            "correct at promise:1, {image}"
        );
        assert!(verify(&good, "end", image).0, "correct at end, {image}");
    }
    let (passed, message) = verify(&bad, "promise:1", "minimal");
    assert!(!passed, "a clwb without a fence keeps no promise");
    assert!(
        message.contains("offset 0x0") && message.contains("promised 0x11, found 0xaa"),
        "{message}"
    );
    assert!(
        verify(&bad, "promise:1", "maximal").0,
        "everything written: the promise holds"
    );
    std::fs::remove_dir_all(&dir).ok();
}
