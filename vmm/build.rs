//! Builds the bundled guest agent (a no_std ELF for the host target with its
//! own linker script) and hands it to `src/guest.rs` to embed.
//!
//! A nested `cargo build` of the `pmemvm-agent` package, always in release,
//! into its own target directory (so it never waits on the outer build's
//! lock), with the outer build's flags and jobserver removed from its
//! environment so they do not leak into it.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest.parent().expect("vmm/ has a parent").to_path_buf();
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    for dir in ["guest-tests/rt", "guest-tests/agent", "device/abi"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = out.join("guest-target");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "--release",
            "--offline",
            "-p",
            "pmemvm-agent",
            "--target-dir",
        ])
        .arg(&target_dir);
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
    let status = cmd
        .status()
        .expect("cannot run cargo to build the guest agent");
    assert!(status.success(), "building the guest agent failed");
    let elf = target_dir.join("release/pmemvm-agent");
    std::fs::copy(&elf, out.join("pmemvm-agent.elf")).expect("guest agent ELF missing");
}
