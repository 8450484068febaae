//! A reused verify VM (snapshot, restore of dirty pages and vCPU state,
//! memslot re-registration, the RAM window restored whole) gives exactly
//! the verdicts of fresh VMs, up to and past its hundredth reuse.

use guest_tests::{require_kvm, run_scenario, scenario};
use pmemvm::guest::GuestSource;
use pmemvm::replay::replay_to;
use pmemvm::run_kind::RunKind;
use pmemvm::session::RunConfig;
use pmemvm::verify::Verifier;
use pmemvm::verify::{VerifyOptions, initial_media, run_config, verify_media};
use pmemvm_device::crash::ImageSpec;
use pmemvm_traces::CrashPoint;

#[test]
fn hundred_reuses_give_the_verdicts_of_fresh_vms() {
    require_kvm!();
    // Its recovery writes too few RAM pages for a window.
    reuse_matches_fresh("pmem-smoke", "no-fence", false);
}

#[test]
fn hundred_reuses_with_an_unlogged_ram_window_give_the_verdicts_of_fresh_vms() {
    require_kvm!();
    // A DAX recovery: mount, journal, block maps, checks.
    reuse_matches_fresh("missing_fence_after_clwb", "missing_fence_after_clwb", true);
}

/// A recorded run of the bundled guest and what verifying it needs.
struct Recorded {
    dir: std::path::PathBuf,
    trace: std::path::PathBuf,
    opts: VerifyOptions,
    end: pmemvm::replay::Replayed,
    base: std::sync::Arc<pmemvm_device::media::SharedMedia>,
}

/// Records `name`'s `variant` into a temporary directory named with `tag`
/// and replays it to its end.
fn record(name: &str, variant: &str, tag: &str) -> Recorded {
    let dir =
        std::env::temp_dir().join(format!("pmemvm-reuse-{name}-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let trace = dir.join("t.json");
    let config = RunConfig {
        variant: variant.into(),
        kind: RunKind::Record {
            trace: Some(trace.clone()),
            power_cut: None,
        },
        ..scenario(name)
    };
    let (result, _) = run_scenario(&config);
    assert_eq!(result.expect("records").status, 0);
    let opts = VerifyOptions {
        guest: GuestSource::Bundled,
        mem: 64 << 20,
        timeout_secs: 20,
        backing: None,
    };
    let end = replay_to(&trace, &CrashPoint::End).expect("replays");
    let base = initial_media(&end.header, &opts).expect("initial media");
    Recorded {
        dir,
        trace,
        opts,
        end,
        base,
    }
}

/// Verifies images at up to 25 points of `scenario`'s trace (4 images each)
/// on one reused VM, warmed up as crash-test workers do, until it has been
/// reused more than 100 times, and compares with fresh VMs. `window`: the
/// reused VM must have chosen an unlogged RAM window.
fn reuse_matches_fresh(name: &str, variant: &str, window: bool) {
    let Recorded {
        dir,
        trace,
        opts,
        end,
        base,
    } = record(name, variant, "fresh");
    let mut reused =
        Verifier::new(&run_config(&end.header, &opts), base.clone(), 8).expect("verifier");
    reused.warm_up().expect("warms up");
    assert_eq!(
        reused.unlogged_window().is_some(),
        window,
        "unlogged RAM window"
    );
    // Points spread over the trace, several images each: passes and
    // failures interleaved.
    let step = (end.seq / 25).max(1);
    let mut cases = Vec::new();
    for seq in (0..=end.seq).step_by(step as usize) {
        for image in ["minimal", "maximal", "random:1", "random:2"] {
            cases.push((seq, image));
        }
    }
    let mut fresh_checked = 0;
    let mut failures = 0;
    for round in 0.. {
        for (i, &(seq, image)) in cases.iter().enumerate() {
            let r = replay_to(&trace, &CrashPoint::Seq(seq)).expect("replays");
            let spec = r.model.resolve(&image.parse::<ImageSpec>().expect("image"));
            let lines = r.model.image(&spec).expect("image");
            // Every tenth run, the state the last image's run left turned
            // into this one's, compared with a fresh VM's.
            if reused.runs().is_multiple_of(10) {
                let wrong = reused.check_restore(&lines).expect("restores");
                assert!(wrong.is_empty(), "not restored: {wrong:?}");
            }
            let got = reused.verify(&lines, &r.verify).expect("reused verify");
            failures += usize::from(!got.passed);
            // Fresh VMs for the first round and every 7th case after.
            if round == 0 || i % 7 == 0 {
                let mut media = base.as_slice().to_vec();
                lines.apply(&mut media);
                let want =
                    verify_media(&r.header, &opts, &media, r.verify.clone()).expect("fresh verify");
                assert_eq!(got, want, "seq {seq}, {spec}, reuse #{}", reused.runs());
                fresh_checked += 1;
            }
        }
        if reused.runs() > 110 {
            break;
        }
    }
    assert!(reused.runs() > 100, "{} reuses", reused.runs());
    assert!(failures > 0, "the {variant} variant must fail some images");
    assert!(fresh_checked >= cases.len());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_restore_puts_back_the_vcpu_state_a_guest_in_ring_0_could_change() {
    require_kvm!();
    let Recorded {
        dir,
        opts,
        end,
        base,
        ..
    } = record("pmem-smoke", "no-fence", "state");
    let mut reused = Verifier::new(&run_config(&end.header, &opts), base, 8).expect("verifier");
    let spec = end
        .model
        .resolve(&"maximal".parse::<ImageSpec>().expect("image"));
    let lines = end.model.image(&spec).expect("image");
    let want = reused.verify(&lines, &end.verify).expect("first run");
    // What a guest in ring 0 could leave behind: a hardware breakpoint,
    // another XCR0, MSRs of system calls and of the GS base.
    let vcpu = reused.vm().vcpu();
    let mut debug = vcpu.get_debug_regs().expect("debug registers");
    debug.db[0] = 0x10_0000;
    debug.dr7 = 0x401;
    vcpu.set_debug_regs(&debug).expect("set debug registers");
    if let Ok(mut xcrs) = vcpu.get_xcrs() {
        xcrs.xcrs[0].value = 0x3;
        vcpu.set_xcrs(&xcrs).expect("set XCR0");
    }
    let msrs = [0xc000_0081u32, 0xc000_0102, 0x175].map(|index| kvm_bindings::kvm_msr_entry {
        index,
        data: 0x1234_5000,
        ..Default::default()
    });
    let msrs = kvm_bindings::Msrs::from_entries(&msrs).expect("MSR list");
    assert_eq!(vcpu.set_msrs(&msrs).expect("set MSRs"), 3);
    let wrong = reused.check_restore(&lines).expect("restores");
    assert!(wrong.is_empty(), "not restored: {wrong:?}");
    let got = reused.verify(&lines, &end.verify).expect("second run");
    assert_eq!(got, want);
    std::fs::remove_dir_all(&dir).ok();
}
