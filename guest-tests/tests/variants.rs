//! The historical DAX durability bugs as variants of the bundled agent:
//! each bug variant's own scenario loses promised bytes at `mark:crash`
//! (verify on the minimal image fails naming them), the correct designs
//! keep them, race scripts are deterministic, and every scenario runs to
//! completion under every variant.

use guest_tests::{require_kvm, run_scenario, scenario};
use pmemvm::run_kind::RunKind;
use pmemvm::verify::{VerifyOptions, verify_trace};
use std::path::{Path, PathBuf};

/// The eleven bug variants; each has a scenario of the same name.
const BUGS: [&str; 11] = [
    "towrite_clear_before_flush",
    "no_pfn_mkwrite_tracking",
    "pmd_lookup_bytes_as_index",
    "pte_before_radix_entry",
    "msync_only_vma_flush",
    "sync_skips_dax",
    "invalidate_drops_dirty_entry",
    "missing_fence_after_clwb",
    "clean_without_wrprotect",
    "mkwrite_pte_upgrade_unlocked",
    "metadata_not_committed",
];

/// Race scripts (several cooperative tasks).
const RACES: [&str; 3] = [
    "towrite_clear_before_flush",
    "pte_before_radix_entry",
    "mkwrite_pte_upgrade_unlocked",
];

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pmemvm-variants-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Records `name` under `variant` (into `trace` if given); asserts exit 0.
fn record(name: &str, variant: &str, trace: Option<&Path>) {
    let mut config = scenario(name);
    config.variant = variant.into();
    config.kind = RunKind::Record {
        trace: trace.map(Path::to_path_buf),
        power_cut: None,
    };
    let (result, console) = run_scenario(&config);
    let outcome = result.unwrap_or_else(|e| panic!("{name} / {variant}: {e}\n{console}"));
    assert_eq!(outcome.status, 0, "{name} / {variant}: {console}");
}

/// Verify at `mark:crash` on the minimal image: (passed, message).
fn verify_at_crash(trace: &Path) -> (bool, String) {
    let opts = VerifyOptions {
        guest: pmemvm::guest::GuestSource::Bundled,
        mem: pmemvm::session::DEFAULT_MEM,
        timeout_secs: pmemvm::session::DEFAULT_TIMEOUT_SECS,
        backing: None,
    };
    let v = verify_trace(
        trace,
        &"mark:crash".parse().expect("point"),
        &"minimal".parse().expect("image"),
        &opts,
    )
    .unwrap_or_else(|e| panic!("{}: {e}", trace.display()));
    (v.verdict.passed, v.verdict.message)
}

#[test]
fn each_bug_loses_promised_bytes_and_the_correct_designs_keep_them() {
    require_kvm!();
    let dir = temp_dir("bugs");
    for bug in BUGS {
        // V1's window (a second fsync that tagged before the first cleared
        // TOWRITE returns while the first has not flushed yet) exists in
        // v4.10 too: its script applies to v4.5 only.
        let correct: &[&str] = if bug == "towrite_clear_before_flush" {
            &["correct"]
        } else {
            &["correct", "correct-v410"]
        };
        for variant in std::iter::once(&bug).chain(correct) {
            let trace = dir.join(format!("{bug}-{variant}.json"));
            record(bug, variant, Some(&trace));
            let (passed, message) = verify_at_crash(&trace);
            if *variant == bug {
                assert!(
                    !passed,
                    "{bug}: its own variant kept every promise: {message}"
                );
                assert!(
                    message.contains("promised bytes lost in") && message.contains("file "),
                    "{bug}: the failure does not name the lost bytes: {message}"
                );
            } else {
                assert!(passed, "{bug} under {variant}: {message}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn race_scripts_give_identical_traces() {
    require_kvm!();
    let dir = temp_dir("races");
    for race in RACES {
        for variant in [race, "correct", "correct-v410"] {
            let a = dir.join(format!("{race}-{variant}-a.json"));
            let b = dir.join(format!("{race}-{variant}-b.json"));
            record(race, variant, Some(&a));
            record(race, variant, Some(&b));
            assert!(
                std::fs::read(&a).expect("a") == std::fs::read(&b).expect("b"),
                "{race} under {variant}: two runs gave different traces"
            );
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn every_scenario_completes_under_every_variant() {
    require_kvm!();
    let variants = BUGS.iter().copied().chain(["correct", "correct-v410"]);
    let scenarios: Vec<&str> = BUGS
        .iter()
        .copied()
        .chain(["dax-fsync", "generic-080", "fsx"])
        .collect();
    for variant in variants {
        for name in &scenarios {
            record(name, variant, None);
        }
    }
}
