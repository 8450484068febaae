//! Builds a guest crate of this workspace from another crate's build script
//! (`vmm/build.rs` embeds the agent and the C SDK's static library;
//! `guest-tests/build.rs` builds the test guests).
//!
//! A nested `cargo build` of the package with the `guest` profile (release
//! with line tables, so RIPs can be named), into its own target directory
//! under `OUT_DIR` (so it never waits on the outer build's lock), with the
//! outer build's flags and jobserver removed from its environment so they
//! do not leak into it.

#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The cargo profile guests are built with (see the root `Cargo.toml`).
pub const PROFILE: &str = "guest";

/// Builds `package` (a guest crate of the workspace at `root`) and copies
/// its ELF to `OUT_DIR/{package}.elf`, which it returns. Asks cargo to run
/// the build script again when the workspace manifest (the `guest` profile)
/// or anything under `root/{dir}` changes, for each of `watch`.
///
/// # Panics
/// When cargo cannot run or the build fails (a build script reports errors
/// that way).
pub fn build_guest(root: &Path, package: &str, watch: &[&str]) -> PathBuf {
    build(root, package, package, &format!("{package}.elf"), watch)
}

/// Builds `package`, a `staticlib` crate of the workspace at `root` whose
/// library is named `lib` (the C SDK, `pmemvm-sdk-c`), with the guest
/// profile, and copies the archive to `OUT_DIR/lib{lib}.a`, which it
/// returns. Reruns and panics as [`build_guest`].
pub fn build_staticlib(root: &Path, package: &str, lib: &str, watch: &[&str]) -> PathBuf {
    let archive = format!("lib{lib}.a");
    build(root, package, &archive, &archive, watch)
}

/// Builds `package` and copies its artifact `built` (a file of the
/// profile's output directory) to `OUT_DIR/{out}`.
fn build(root: &Path, package: &str, built: &str, out_name: &str, watch: &[&str]) -> PathBuf {
    println!(
        "cargo:rerun-if-changed={}",
        root.join("Cargo.toml").display()
    );
    for dir in watch {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = out.join("guest-target");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--profile", PROFILE, "--offline", "-p", package])
        .arg("--target-dir")
        .arg(&target_dir);
    without_outer_build(&mut cmd);
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the guest {package}: {e}"));
    assert!(status.success(), "building the guest {package} failed");
    let artifact = out.join(out_name);
    std::fs::copy(target_dir.join(PROFILE).join(built), &artifact)
        .unwrap_or_else(|e| panic!("guest {package}: {built} missing: {e}"));
    artifact
}

/// Removes from `cmd`'s environment what an outer cargo build (or test)
/// sets and a nested build must not inherit: its `CARGO_*` variables (but
/// `CARGO_HOME`), flags, wrappers, jobserver and build-script variables.
pub fn without_outer_build(cmd: &mut Command) {
    for (key, _) in std::env::vars() {
        let leaks = key.starts_with("CARGO_") && key != "CARGO_HOME"
            || [
                "RUSTFLAGS",
                "RUSTC_WRAPPER",
                "RUSTC_WORKSPACE_WRAPPER",
                "RUSTDOCFLAGS",
                "MAKEFLAGS",
                "MFLAGS",
                "TARGET",
                "HOST",
                "OUT_DIR",
                "PROFILE",
                "OPT_LEVEL",
                "DEBUG",
                "NUM_JOBS",
                "RUSTC",
                "RUSTDOC",
                "RUSTC_LINKER",
            ]
            .contains(&key.as_str());
        if leaks {
            cmd.env_remove(key);
        }
    }
}
