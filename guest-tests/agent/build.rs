//! Links the agent as a static ELF at 1 MiB with its own linker script.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    println!("cargo:rerun-if-changed={dir}/guest.ld");
    for arg in [
        format!("-T{dir}/guest.ld"),
        "-nostartfiles".into(),
        "-nostdlib".into(),
        "-static".into(),
        "-no-pie".into(),
        "-Wl,--build-id=none".into(),
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
