//! Recording by epochs (`--record epochs`) against recording by stores.
//!
//! At every instant the `epochs` trace offers, its crash images are
//! exactly those of the `stores` trace at the same instant for programs
//! that write no line twice in an epoch, nor after its flush (`pmem-gen`
//! `restricted`), and a subset of them for any program (`pmem-gen` `free`,
//! every bundled scenario and variant): never an image the hardware cannot
//! produce. The crash tests of the bundled bugs give the same verdicts.
//!
//! Instants pair up through the events both traces share: every event but
//! the `store` and `ntstore` writes (flushes, fences, RMWs, port I/O,
//! marks, promises) comes in the same order in both.

use guest_tests::{require_kvm, run_scenario, scenario};
use pmemvm::replay::{apply, model_config};
use pmemvm::run_kind::RunKind;
use pmemvm::session::RunConfig;
use pmemvm_device::crash::ImageSpec;
use pmemvm_device::model::Model;
use pmemvm_traces::{Event, EventKind, Header, Instants, Persistence, Recording, TraceReader};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A recorded trace, read whole.
struct Trace {
    header: Header,
    events: Vec<Event>,
}

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pmemvm-epochs-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temporary directory");
    d
}

/// Records `scenario`/`variant`/`seed` in `recording` mode under `persistence`.
fn record(
    dir: &Path,
    scenario_name: &str,
    variant: &str,
    seed: u64,
    persistence: Persistence,
    recording: Recording,
) -> Trace {
    let path = dir.join(format!(
        "{scenario_name}-{variant}-{seed}-{persistence:?}-{recording}.jsonl"
    ));
    let mut config = RunConfig {
        variant: variant.into(),
        seed,
        kind: RunKind::Record {
            trace: Some(path.clone()),
            power_cut: None,
        },
        ..scenario(scenario_name)
    };
    config.nvdimm.persistence = persistence;
    config.nvdimm.recording = recording;
    let (result, console) = run_scenario(&config);
    let outcome = result.unwrap_or_else(|e| panic!("{scenario_name}/{variant} ({recording}): {e}"));
    assert!(
        matches!(outcome.status, 0 | 1),
        "{scenario_name}/{variant} ({recording}) exited {}: {console}",
        outcome.status
    );
    let mut reader = TraceReader::open(&path).expect("trace opens");
    let header = reader.header().clone();
    let mut events = Vec::new();
    while let Some(ev) = reader.next_event().expect("trace reads") {
        events.push(ev);
    }
    let _ = std::fs::remove_file(&path);
    assert_eq!(header.recording, recording);
    Trace { header, events }
}

/// Events the two traces may have differently: writes; flushes (an NT
/// store's line is written back by a `clwb` in an `epochs` trace); and the
/// doorbell of a full event ring (it fills more often between exits).
fn differs(ev: &Event) -> bool {
    match &ev.kind {
        EventKind::Store(_) | EventKind::NtStore(_) | EventKind::Clwb(_) => true,
        EventKind::Io(io) => io.port == pmemvm_abi::PORT_PMEM_DOORBELL,
        _ => false,
    }
}

/// The events of `t` both recording modes have, in order (fences, RMWs,
/// `clflushopt`, `clflush`, console output, marks, promises).
fn shared(t: &Trace) -> Vec<&Event> {
    t.events.iter().filter(|e| !differs(e)).collect()
}

/// The instants of the `epochs` trace that can be placed in the `stores`
/// trace, each with that point: (epochs seq, stores seq). Placed are
/// `seq:0`, the end, the points just before a fence that ends an epoch, and
/// the ends of the epochs the guest ended with a shared event (a fence and
/// its doorbell, console output, a mark, a promise): the exit came right
/// after it. Not placed: the ends of epochs ended by a full ring's doorbell.
fn paired_instants(epochs: &Trace, stores: &Trace) -> Vec<(u64, u64)> {
    let (se, ss) = (shared(epochs), shared(stores));
    let kinds = |v: &[&Event]| -> Vec<&'static str> { v.iter().map(|e| e.kind.name()).collect() };
    assert_eq!(
        kinds(&se),
        kinds(&ss),
        "the traces share their other events"
    );
    let stores_end = stores.events.last().map_or(0, |e| e.seq);
    // Just before the k-th shared event of the stores trace (from 0), or its end.
    let before_shared = |k: usize| ss.get(k).map_or(stores_end, |e| e.seq - 1);
    let instants = Instants::new(Recording::Epochs, epochs.header.persistence);
    let mut pairs = vec![(0, 0)];
    let mut k = 0;
    for (i, ev) in epochs.events.iter().enumerate() {
        if !differs(ev) {
            k += 1;
        }
        let next = epochs.events.get(i + 1);
        if !instants.is_instant(Some(ev), next) {
            continue;
        }
        let exit_event =
            !differs(ev) && !matches!(ev.kind, EventKind::ClflushOpt(_) | EventKind::Clflush(_));
        let s = if next.is_none() {
            stores_end
        } else if ev.epoch_end && exit_event {
            ss[k - 1].seq
        } else if !ev.epoch_end {
            // Just before the fence that ends the epoch.
            before_shared(k)
        } else {
            continue;
        };
        pairs.push((ev.seq, s));
    }
    pairs
}

/// A model of `t` that knows every line either trace writes (with its
/// content before the run), so that two models list the same units.
fn model(t: &Trace, lines: &BTreeMap<u64, [u8; 64]>) -> Model {
    let mut m = Model::new(model_config(&t.header));
    for (&line, content) in lines {
        m.init_line(line, *content);
    }
    m
}

fn initial_lines(traces: &[&Trace]) -> BTreeMap<u64, [u8; 64]> {
    let mut lines = BTreeMap::new();
    for t in traces {
        for ev in &t.events {
            if let Some(w) = ev.kind.write()
                && let Some(init) = &w.init
            {
                let before = lines.insert(w.line(), **init);
                assert!(
                    before.is_none_or(|b| b == **init),
                    "the traces disagree on line {:#x} before the run",
                    w.line()
                );
            }
        }
    }
    lines
}

/// Compares the images of `e` (epochs) and `s` (stores) at one instant:
/// equal sets when `equal`, else the epochs set inside the stores set.
fn compare(e: &Model, s: &Model, equal: bool, what: &str) {
    let max = |m: &Model| m.image(&ImageSpec::Maximal).expect("maximal image");
    assert_eq!(max(e), max(s), "{what}: the maximal images differ");
    if let (Some(ue), Some(us)) = (e.unit_contents(), s.unit_contents()) {
        for (unit, contents) in &ue {
            let theirs = &us[unit];
            if equal {
                assert_eq!(contents, theirs, "{what}: unit {unit:#x} differs");
            } else {
                assert!(
                    contents.is_subset(theirs),
                    "{what}: unit {unit:#x} can hold a content recording by stores does not allow"
                );
            }
        }
        return;
    }
    let hashes = |m: &Model| -> Option<BTreeSet<[u8; 32]>> {
        Some(
            m.enumerate_images(1 << 12)?
                .iter()
                .map(|(_, image)| image.hash())
                .collect(),
        )
    };
    if let (Some(he), Some(hs)) = (hashes(e), hashes(s)) {
        if equal {
            assert_eq!(he, hs, "{what}: the image sets differ");
        } else {
            assert!(
                he.is_subset(&hs),
                "{what}: an epochs image is not a stores image"
            );
        }
    }
}

/// Replays both traces side by side and compares them at every instant
/// the `epochs` trace offers; returns the number of instants compared.
fn equivalent(epochs: &Trace, stores: &Trace, equal: bool, name: &str) -> usize {
    let lines = initial_lines(&[epochs, stores]);
    let (mut me, mut ms) = (model(epochs, &lines), model(stores, &lines));
    let (mut ie, mut is) = (
        epochs.events.iter().peekable(),
        stores.events.iter().peekable(),
    );
    let pairs = paired_instants(epochs, stores);
    for &(pe, ps) in &pairs {
        while let Some(ev) = ie.next_if(|e| e.seq <= pe) {
            apply(&mut me, ev).expect("epochs event applies");
        }
        while let Some(ev) = is.next_if(|e| e.seq <= ps) {
            apply(&mut ms, ev).expect("stores event applies");
        }
        compare(
            &me,
            &ms,
            equal,
            &format!("{name} at epochs seq:{pe} / stores seq:{ps}"),
        );
    }
    pairs.len()
}

fn both(dir: &Path, name: &str, variant: &str, seed: u64, p: Persistence) -> (Trace, Trace) {
    (
        record(dir, name, variant, seed, p, Recording::Epochs),
        record(dir, name, variant, seed, p, Recording::Stores),
    )
}

#[test]
fn generated_programs_without_rewrites_in_an_epoch_give_the_same_images() {
    require_kvm!();
    let d = dir("restricted");
    for p in [Persistence::Adr, Persistence::Eadr] {
        for seed in 1..=12 {
            let (e, s) = both(&d, "pmem-gen", "restricted", seed, p);
            let n = equivalent(
                &e,
                &s,
                true,
                &format!("pmem-gen restricted seed {seed} {p:?}"),
            );
            assert!(n > 10, "seed {seed}: only {n} instants");
        }
    }
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn generated_programs_with_rewrites_give_a_subset_of_the_images() {
    require_kvm!();
    let d = dir("free");
    let mut strict_subsets = 0;
    for p in [Persistence::Adr, Persistence::Eadr] {
        for seed in 1..=12 {
            let (e, s) = both(&d, "pmem-gen", "free", seed, p);
            equivalent(&e, &s, false, &format!("pmem-gen free seed {seed} {p:?}"));
            let writes = |t: &Trace| t.events.iter().filter(|e| e.kind.is_store_like()).count();
            if writes(&e) < writes(&s) {
                strict_subsets += 1;
            }
        }
    }
    // Rewritten lines are coalesced: the test is not vacuous.
    assert!(strict_subsets > 0, "no program rewrote a line in an epoch");
    let _ = std::fs::remove_dir_all(d);
}

/// The scenarios of the bundled guest that record persistent-memory
/// events, with their variants.
fn bundled() -> Vec<(String, Vec<String>)> {
    let list = pmemvm::session::list_scenarios(&pmemvm::guest::GuestSource::Bundled, 64 << 20, 30)
        .expect("the bundled guest lists its scenarios");
    const NOT_PM: &[&str] = &[
        "hello",
        "pagefault",
        "tasks",
        "bench-pagefault",
        "bench-syscall",
        "idle",
        "bench-pmem",
        "bench-record",
        "panic",
        "exception",
        "nested-fault",
        "spin",
    ];
    list.into_iter()
        .filter(|s| !NOT_PM.contains(&s.name.as_str()))
        .map(|s| (s.name, s.variants.into_iter().map(|v| v.name).collect()))
        .collect()
}

#[test]
fn every_bundled_scenario_and_variant_gives_a_subset_of_the_images() {
    require_kvm!();
    let d = dir("bundled");
    let cells: Vec<(String, String)> = bundled()
        .into_iter()
        .flat_map(|(s, vs)| vs.into_iter().map(move |v| (s.clone(), v)))
        .collect();
    assert!(cells.len() > 150, "only {} scenario variants", cells.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some((name, variant)) = cells.get(i) else {
                        return;
                    };
                    let (e, s) = both(&d, name, variant, 1, Persistence::Adr);
                    equivalent(&e, &s, false, &format!("{name}/{variant}"));
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(d);
}

/// Crash-tests `scenario`/`variant` with the default options, recorded in
/// `recording` mode: the names of the checks that failed (empty: passed).
fn verdict(dir: &Path, scenario_name: &str, variant: &str, recording: Recording) -> Vec<String> {
    let mut run = RunConfig {
        variant: variant.into(),
        ..scenario(scenario_name)
    };
    run.nvdimm.recording = recording;
    let opts = pmemvm::crashtest::CrashTestOptions {
        run,
        points: pmemvm_traces::PointSet::Fences,
        states: pmemvm::crashtest::states::parse_list(pmemvm::crashtest::states::DEFAULT_STATES)
            .expect("default states"),
        max_images_per_point: 256,
        jobs: 2,
        out_dir: dir.join(format!("{scenario_name}-{variant}-{recording}")),
        progress: false,
        interrupted: Default::default(),
    };
    let report = pmemvm::crashtest::run(&opts)
        .unwrap_or_else(|e| panic!("{scenario_name}/{variant} ({recording}): {e}"));
    assert!(report.complete);
    let mut checks: Vec<String> = report.failures.iter().map(|f| f.check.clone()).collect();
    checks.extend(report.record_findings.iter().map(|f| f.check.clone()));
    checks.sort();
    checks.dedup();
    checks
}

#[test]
fn crash_tests_by_epochs_give_the_verdicts_of_crash_tests_by_stores() {
    require_kvm!();
    let d = dir("verdicts");
    let bugs: Vec<String> = bundled()
        .into_iter()
        .filter(|(s, vs)| vs.iter().any(|v| v == s))
        .map(|(s, _)| s)
        .collect();
    assert_eq!(bugs.len(), 11, "the bundled bug variants: {bugs:?}");
    // Every bug on its own scenario; the two correct file systems where the
    // bugs show and on the default scenario (`correct-v410` loses a promise
    // on V1's race script: a finding of both modes); the persistent log.
    let mut cells: Vec<(String, String)> = bugs.iter().map(|b| (b.clone(), b.clone())).collect();
    for s in [
        "dax-fsync",
        "towrite_clear_before_flush",
        "metadata_not_committed",
    ] {
        for v in ["correct", "correct-v410"] {
            cells.push((s.into(), v.into()));
        }
    }
    for v in ["correct", "no-fence", "commit-first"] {
        cells.push(("pmem-log".into(), v.into()));
    }
    for (s, v) in &cells {
        let stores = verdict(&d, s, v, Recording::Stores);
        let epochs = verdict(&d, s, v, Recording::Epochs);
        assert_eq!(
            epochs, stores,
            "{s}/{v}: failed checks by epochs, by stores"
        );
        let is_bug = bugs.contains(v) || matches!(v.as_str(), "no-fence" | "commit-first");
        assert_eq!(
            !stores.is_empty(),
            is_bug || (v == "correct-v410" && s == "towrite_clear_before_flush"),
            "{s}/{v}: {stores:?}"
        );
    }
    let _ = std::fs::remove_dir_all(d);
}
