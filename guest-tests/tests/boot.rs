//! Boots the bundled guest under KVM: every runtime scenario and every
//! error path of a run.

use guest_tests::{require_kvm, run_scenario, scenario};
use pmemvm::VmmError;
use pmemvm::guest::GuestSource;
use pmemvm::session::{RunConfig, list_scenarios};

#[test]
fn hello_prints_and_exits_zero() {
    require_kvm!();
    let (result, console) = run_scenario(&scenario("hello"));
    let outcome = result.expect("hello runs");
    assert_eq!(outcome.status, 0);
    assert!(
        console.contains("hello from the pmemvm guest (scenario hello, seed 1)"),
        "{console}"
    );
}

#[test]
fn seed_reaches_the_guest() {
    require_kvm!();
    let config = RunConfig {
        seed: 4242,
        ..scenario("hello")
    };
    let (result, console) = run_scenario(&config);
    assert_eq!(result.expect("hello runs").status, 0);
    assert!(console.contains("seed 4242"), "{console}");
}

#[test]
fn pagefault_maps_1000_pages_through_the_upcall() {
    require_kvm!();
    let (result, console) = run_scenario(&scenario("pagefault"));
    assert_eq!(result.expect("pagefault runs").status, 0, "{console}");
    assert!(
        console.contains("1000 pages, 1000 faults, 0 bad words"),
        "{console}"
    );
}

#[test]
fn tasks_fault_while_another_task_is_inside_its_handler() {
    require_kvm!();
    let (result, console) = run_scenario(&scenario("tasks"));
    assert_eq!(result.expect("tasks runs").status, 0, "{console}");
    assert!(console.contains("both inside handlers true"), "{console}");
}

#[test]
fn guest_panic_exits_101_with_its_message() {
    require_kvm!();
    let (result, console) = run_scenario(&scenario("panic"));
    assert_eq!(result.expect("panic exits by itself").status, 101);
    assert!(
        console.contains("deliberate panic of the `panic` scenario"),
        "{console}"
    );
}

#[test]
fn unhandled_exception_names_the_vector_and_rip() {
    require_kvm!();
    let (result, _) = run_scenario(&scenario("exception"));
    match result {
        Err(e @ VmmError::GuestException { vector: 0, .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("#DE divide error (vector 0)"), "{msg}");
            assert!(msg.contains("RIP 0x"), "{msg}");
            assert!(msg.contains("code: f7 f1"), "the faulting div: {msg}");
            assert!(msg.contains("RAX"), "{msg}");
        }
        other => panic!("expected #DE, got {other:?}"),
    }
}

#[test]
fn nested_fault_is_an_error_not_a_hang() {
    require_kvm!();
    let (result, _) = run_scenario(&scenario("nested-fault"));
    match result {
        Err(e @ VmmError::GuestException { vector: 14, .. }) => {
            assert!(e.to_string().contains("nested fault"), "{e}");
        }
        other => panic!("expected a nested #PF, got {other:?}"),
    }
}

#[test]
fn watchdog_stops_a_spinning_guest() {
    require_kvm!();
    let config = RunConfig {
        timeout_secs: 1,
        ..scenario("spin")
    };
    let (result, _) = run_scenario(&config);
    match result {
        Err(e @ VmmError::Timeout { secs: 1, .. }) => {
            assert!(e.to_string().contains("timed out after 1 s"), "{e}");
            assert!(e.to_string().contains("RIP 0x"), "{e}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn unknown_scenario_is_refused_by_the_guest() {
    require_kvm!();
    let (result, console) = run_scenario(&scenario("no-such-scenario"));
    assert_eq!(result.expect("guest exits").status, 2);
    assert!(
        console.contains("unknown scenario `no-such-scenario`"),
        "{console}"
    );
}

#[test]
fn list_mode_reports_every_scenario_with_a_description() {
    require_kvm!();
    let list = list_scenarios(&GuestSource::Bundled, 64 << 20, 10).expect("list mode");
    let names: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
    for want in [
        "hello",
        "pagefault",
        "tasks",
        "panic",
        "exception",
        "nested-fault",
        "spin",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(list.iter().all(|s| !s.description.is_empty()));
    let variants = |name: &str| -> Vec<String> {
        list.iter()
            .find(|s| s.name == name)
            .map(|s| s.variants.iter().map(|v| v.name.clone()).collect())
            .unwrap_or_default()
    };
    assert_eq!(
        variants("pmem-log"),
        ["correct", "no-fence", "commit-first"]
    );
    let dax = variants("dax-fsync");
    assert!(
        dax.len() == 13 && dax[..2] == ["correct", "correct-v410"],
        "{dax:?}"
    );
    assert_eq!(variants("metadata_not_committed"), dax);
    assert!(variants("hello").is_empty());
    assert!(
        list.iter()
            .flat_map(|s| &s.variants)
            .all(|v| !v.description.is_empty())
    );
}

#[test]
fn bad_elf_files_are_refused_with_their_name() {
    let dir = std::env::temp_dir().join(format!("pmemvm-bad-elf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let not_elf = dir.join("notes.txt");
    std::fs::write(&not_elf, b"just text").expect("write");
    let mut arm = pmemvm::guest::BUNDLED.to_vec();
    arm[18] = 183; // EM_AARCH64
    let arm_path = dir.join("arm.elf");
    std::fs::write(&arm_path, &arm).expect("write");
    let cases = [
        (GuestSource::Path("/nonexistent".into()), "cannot read"),
        (GuestSource::Path(not_elf.clone()), "not an ELF file"),
        (GuestSource::Path(arm_path.clone()), "not an x86-64 ELF"),
        (
            GuestSource::Path("/bin/sh".into()),
            "not a static executable",
        ),
    ];
    for (source, want) in cases {
        let err = source.load().expect_err("must be refused").to_string();
        assert!(err.contains(want), "{source:?}: {err}");
        assert!(!err.contains('\n'), "one line: {err}");
        if let GuestSource::Path(p) = &source {
            assert!(
                err.contains(&p.display().to_string()),
                "names the file: {err}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn guest_that_does_not_fit_in_ram_is_refused() {
    let config = RunConfig {
        mem: 8 << 20,
        ..scenario("hello")
    };
    // The bundled guest fits in 8 MiB; a 4 MiB heap margin above a fake
    // segment at 6 MiB does not.
    let mut elf = config.guest.load().expect("bundled guest");
    elf.segments[0].paddr = 6 << 20;
    let err = pmemvm::session::check_fits(&config, &elf)
        .expect_err("too big")
        .to_string();
    assert!(err.contains("does not fit in guest RAM"), "{err}");
}
