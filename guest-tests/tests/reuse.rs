//! A reused verify VM (snapshot, restore of dirty pages and vCPU state,
//! memslot re-registration) gives exactly the verdicts of fresh VMs, up to
//! and past its hundredth reuse.

use guest_tests::{require_kvm, run_scenario, scenario};
use pmemvm::nvdimm::NvdimmOptions;
use pmemvm::replay::replay_to;
use pmemvm::session::{GuestSource, RunConfig};
use pmemvm::verifier::Verifier;
use pmemvm::verify::{VerifyOptions, initial_media, run_config, verify_media};
use pmemvm_device::crash::ImageSpec;
use pmemvm_traces::CrashPoint;

#[test]
fn hundred_reuses_give_the_verdicts_of_fresh_vms() {
    require_kvm!();
    let dir = std::env::temp_dir().join(format!("pmemvm-reuse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let trace = dir.join("t.json");
    let config = RunConfig {
        variant: "no-fence".into(),
        nvdimm: NvdimmOptions {
            trace: Some(trace.clone()),
            ..NvdimmOptions::default()
        },
        ..scenario("pmem-smoke")
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
    let mut reused =
        Verifier::new(&run_config(&end.header, &opts), base.clone(), 8).expect("verifier");
    // Every point, several images each: passes and failures interleaved.
    let mut cases = Vec::new();
    for seq in 0..=end.seq {
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
    assert!(failures > 0, "the no-fence variant must fail some images");
    assert!(fresh_checked >= cases.len());
    std::fs::remove_dir_all(&dir).ok();
}
