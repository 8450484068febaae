//! Builds the test guests (`unrecorded-fence/`, `promise-check/`, `hostile/`) into `OUT_DIR`, where
//! `src/lib.rs` finds them (see `pmemvm-guest-build`).

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest.parent().expect("guest-tests/ has a parent");
    for (package, dir) in [
        ("pmemvm-unrecorded-fence", "guest-tests/unrecorded-fence"),
        ("pmemvm-promise-check", "guest-tests/promise-check"),
        ("pmemvm-hostile", "guest-tests/hostile"),
    ] {
        pmemvm_guest_build::build_guest(
            root,
            package,
            &[
                "guest-tests/sdk",
                "guest-tests/sdk-build",
                dir,
                "device/abi",
            ],
        );
    }
}
