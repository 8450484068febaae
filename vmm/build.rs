//! Builds the bundled guest agent (a no_std ELF for the host target with its
//! own linker script) and hands it to `src/guest.rs` to embed, as
//! `OUT_DIR/pmemvm-agent.elf`, and the C SDK's static library, which
//! `pmemvm new --lang c` writes out (`OUT_DIR/libpmemvm_sdk_c.a`; see
//! `pmemvm-guest-build` for how).

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest.parent().expect("vmm/ has a parent");
    pmemvm_guest_build::build_guest(
        root,
        "pmemvm-agent",
        &[
            "guest-tests/sdk",
            "guest-tests/sdk-build",
            "guest-tests/agent",
            "device/abi",
        ],
    );
    pmemvm_guest_build::build_staticlib(
        root,
        "pmemvm-sdk-c",
        "pmemvm_sdk_c",
        &["guest-tests/sdk", "guest-tests/sdk-c", "device/abi"],
    );
}
