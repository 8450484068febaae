//! The build script of every guest crate of this workspace (a sibling of
//! `rt/`, with `build = "../rt/link-guest.rs"` in its `Cargo.toml`): links
//! the guest as a static ELF at 1 MiB with the runtime's linker script
//! (`rt/guest.ld`), which puts the recorded persistent-memory API in its own
//! section.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let script = format!("{dir}/../rt/guest.ld");
    println!("cargo:rerun-if-changed={script}");
    for arg in [
        format!("-T{script}"),
        "-nostartfiles".into(),
        "-nostdlib".into(),
        "-static".into(),
        "-no-pie".into(),
        "-Wl,--build-id=none".into(),
        // Line tables (the `guest` profile) compressed: a third of the size.
        "-Wl,--compress-debug-sections=zlib".into(),
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
