//! Links a pmemvm guest: a static ELF loaded at 1 MiB, laid out by the
//! SDK's linker script (`guest.ld`, next to this crate), which puts the
//! recorded persistent-memory API in a section of its own.
//!
//! A guest crate's whole build script (`build.rs`), with this crate as a
//! build-dependency, is `fn main() { pmemvm_sdk_build::link(); }`.

#![warn(missing_docs)]

/// The SDK's linker script.
pub const LINKER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/guest.ld");

/// Tells cargo how to link the crate's binaries as pmemvm guests.
pub fn link() {
    println!("cargo:rerun-if-changed={LINKER_SCRIPT}");
    for arg in [
        format!("-T{LINKER_SCRIPT}"),
        "-nostartfiles".into(),
        "-nostdlib".into(),
        "-static".into(),
        "-no-pie".into(),
        "-Wl,--build-id=none".into(),
        // Line tables (so pmemvm can name a RIP's function, file and line)
        // compressed: a third of the size.
        "-Wl,--compress-debug-sections=zlib".into(),
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
