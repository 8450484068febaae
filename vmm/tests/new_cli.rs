//! `pmemvm new` as a new user meets it (the guide's steps): a project made
//! in a directory outside the workspace, built there with nothing but
//! cargo, and crash-tested: `correct` passes, `no-fence` and `commit-first`
//! fail with one bug each.

mod common;
use common::{kvm, outside, pmemvm, text, utf8};

use std::path::Path;
use std::process::Command;

/// `cargo build --release` in `project`, as a user would run it.
fn build(project: &Path) {
    let mut cmd = Command::new(option_env!("CARGO").unwrap_or("cargo"));
    pmemvm_guest_build::without_outer_build(&mut cmd);
    let out = cmd
        .args(["build", "--release", "--offline"])
        .current_dir(project)
        .output()
        .expect("cargo starts");
    assert!(
        out.status.success(),
        "the project builds: {}",
        text(&out.stderr)
    );
}

#[test]
fn a_new_project_builds_outside_the_workspace_and_its_variants_crash_test_as_documented() {
    if !kvm() {
        return;
    }
    let d = outside("log");
    let project = d.join("my-log");
    let made = pmemvm(&["new", utf8(&project)]);
    assert_eq!(made.status.code(), Some(0), "{}", text(&made.stderr));
    for file in ["Cargo.toml", "build.rs", "src/main.rs", "README.md"] {
        let body = std::fs::read_to_string(project.join(file)).expect(file);
        assert!(
            !body.contains("{name}") && !body.contains("{sdk"),
            "{file} filled in"
        );
    }
    build(&project);
    let guest = project.join("target/release/my-log");
    let listed = pmemvm(&["scenarios", "--guest", utf8(&guest), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    let variants: Vec<&str> = json[0]["variants"]
        .as_array()
        .expect("a list of variants")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(json[0]["name"], "log");
    assert_eq!(variants, ["correct", "no-fence", "commit-first"]);
    for (variant, status, check, cause) in [
        ("correct", 0, "", ""),
        (
            "no-fence",
            1,
            "log-record-intact",
            "in my_log::write_record (",
        ),
        (
            "commit-first",
            1,
            "log-record-intact",
            "nothing in flight was lost",
        ),
    ] {
        let out = pmemvm(&[
            "crashtest",
            "--guest",
            utf8(&guest),
            "--variant",
            variant,
            "--out",
            utf8(&d.join(variant)),
        ]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(status), "{variant}: {stdout}");
        if status == 1 {
            assert!(stdout.contains("FAILED: 1 bug(s)"), "{variant}: {stdout}");
            assert!(
                stdout.contains(&format!("[1] {check}: ")),
                "{variant}: {stdout}"
            );
            assert!(stdout.contains(cause), "{variant}: {stdout}");
        } else {
            assert!(stdout.contains("no failure"), "{variant}: {stdout}");
        }
    }
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn new_refuses_a_used_directory_and_a_name_that_is_no_crate_name() {
    let d = outside("refuse");
    std::fs::write(d.join("keep"), "mine").expect("file");
    for (dir, says) in [
        (d.clone(), "already exists and is not an empty directory"),
        (d.join("1log"), "the directory's name is the project's"),
    ] {
        let out = pmemvm(&["new", utf8(&dir)]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(says) && stderr.lines().count() == 1,
            "{stderr}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(d.join("keep")).ok().as_deref(),
        Some("mine")
    );
    std::fs::remove_dir_all(&d).ok();
}
