//! A user's guest (`--guest ELF`) on the command line: the default scenario
//! and the guest named in the trace.

mod common;
use common::{kvm, pmemvm, text};

use guest_tests::UNRECORDED_FENCE_ELF as FENCE;
use std::path::PathBuf;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pmemvm-user-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn utf8(p: &std::path::Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[test]
fn without_scenario_a_guest_with_one_runs_it_and_one_with_several_exits_2() {
    if !kvm() {
        return;
    }
    let d = dir("default");
    let out = pmemvm(&["crashtest", "--guest", FENCE, "--out", utf8(&d.join("ct"))]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.starts_with("pmemvm crashtest: scenario unrecorded-fence,"),
        "{stdout}"
    );
    let run = pmemvm(&["run", "--guest", FENCE]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));

    let several = d.join("bundled.elf");
    std::fs::write(&several, pmemvm::guest::BUNDLED).expect("write the bundled guest");
    let out_dir = d.join("never");
    for args in [
        &[
            "crashtest",
            "--guest",
            utf8(&several),
            "--out",
            utf8(&out_dir),
        ][..],
        &["run", "--guest", utf8(&several)][..],
    ] {
        let out = pmemvm(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        let expected = format!(
            "pmemvm: --guest {} has 27 scenarios, choose one with --scenario: hello, pagefault, tasks, dax-fsync, generic-080, fsx, pmem-smoke, pmem-log, ",
            several.display()
        );
        assert!(
            stderr.starts_with(&expected) && stderr.lines().count() == 1,
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
    }
    assert!(!out_dir.exists(), "crashtest ran something");
    std::fs::remove_dir_all(&d).ok();
}
