//! Verify mode of the DAX agent fails when it should and passes when it
//! should: a hand-damaged image (a promised line put back to its content
//! before the run) fails naming the lost bytes; every promise of `fsx`
//! seeds 1..5 holds on the minimal image.

use guest_tests::{require_kvm, run_scenario, scenario};
use pmemvm::crashtest::{self, CrashTestOptions, states};
use pmemvm::guest::GuestSource;
use pmemvm::replay::replay_to;
use pmemvm::run_kind::RunKind;
use pmemvm::verify::{VerifyOptions, initial_media, verify_media};
use pmemvm_device::crash::ImageSpec;
use pmemvm_traces::{CrashPoint, EventKind, PointSet, TraceReader};
use std::path::PathBuf;

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pmemvm-daxv-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn a_promised_line_put_back_to_its_old_content_fails_naming_the_bytes() {
    require_kvm!();
    let dir = temp_dir("damaged");
    let trace = dir.join("t.jsonl");
    let mut config = scenario("generic-080");
    config.kind = RunKind::Record {
        trace: Some(trace.clone()),
        power_cut: None,
    };
    let (result, console) = run_scenario(&config);
    assert_eq!(result.expect("records").status, 0, "{console}");
    let opts = VerifyOptions {
        guest: GuestSource::Bundled,
        mem: 64 << 20,
        timeout_secs: 20,
        backing: None,
    };
    let end = replay_to(&trace, &CrashPoint::End).expect("replays");
    let image = end.model.image(&ImageSpec::Minimal).expect("minimal image");
    // A promised line whose content changed during the run, and what it held before.
    let ranges: Vec<(u64, u64)> = TraceReader::open(&trace)
        .expect("opens")
        .filter_map(|ev| match ev.expect("event").kind {
            EventKind::Promise(p) => Some(
                p.ranges
                    .iter()
                    .map(|r| (r.offset, r.len))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect();
    let mut initial = std::collections::BTreeMap::new();
    for ev in TraceReader::open(&trace).expect("opens") {
        if let Some(w) = ev.expect("event").kind.write()
            && let Some(init) = &w.init
        {
            initial.insert(w.line(), **init);
        }
    }
    let (line, old) = image
        .lines
        .iter()
        .find_map(|(off, now)| {
            let promised = ranges.iter().any(|(o, l)| (*o..o + l).contains(off));
            let before = initial.get(off)?;
            (promised && before != now).then_some((*off, *before))
        })
        .expect("a promised line the run changed");
    let base = initial_media(&end.header, &opts).expect("initial media");
    let mut good = base.as_slice().to_vec();
    image.apply(&mut good);
    let verdict = verify_media(&end.header, &opts, &good, end.verify.clone()).expect("verifies");
    assert!(
        verdict.passed,
        "the undamaged image passes: {}",
        verdict.message
    );
    let mut damaged = good;
    damaged[line as usize..line as usize + 64].copy_from_slice(&old);
    let verdict = verify_media(&end.header, &opts, &damaged, end.verify).expect("verifies");
    assert!(!verdict.passed, "the damaged image must fail");
    let msg = verdict.message;
    assert!(
        msg.contains("file ") && msg.contains("offset") && msg.contains("found"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("{:#x}", line & !0xfff)) || msg.contains("device offset"),
        "{msg}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn fsx_keeps_every_promise_on_the_minimal_image_for_seeds_1_to_5() {
    require_kvm!();
    for seed in 1..=5 {
        let dir = temp_dir(&format!("fsx{seed}"));
        let mut opts = CrashTestOptions {
            run: scenario("fsx"),
            // Only the points every crash test visits: after each promise, and the end.
            points: PointSet::SeqRange { start: 0, end: 0 },
            states: states::parse_list("minimal").expect("states"),
            max_images_per_point: 1,
            jobs: 2,
            out_dir: dir.clone(),
            progress: false,
            interrupted: Default::default(),
        };
        opts.run.seed = seed;
        let report = crashtest::run(&opts).expect("crash test runs");
        assert!(
            report.counts.points > 10,
            "seed {seed}: {} points",
            report.counts.points
        );
        assert!(
            report.passed(),
            "seed {seed}: {:?}",
            report
                .failures
                .iter()
                .map(|f| &f.message)
                .collect::<Vec<_>>()
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
