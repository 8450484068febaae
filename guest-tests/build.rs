//! Builds the test guests (`unrecorded-fence/`) into `OUT_DIR`, where
//! `src/lib.rs` finds them (see `pmemvm-guest-build`).

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest.parent().expect("guest-tests/ has a parent");
    pmemvm_guest_build::build_guest(
        root,
        "pmemvm-unrecorded-fence",
        &[
            "guest-tests/sdk",
            "guest-tests/sdk-build",
            "guest-tests/unrecorded-fence",
            "device/abi",
        ],
    );
}
