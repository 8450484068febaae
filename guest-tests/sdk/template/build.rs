//! Links this guest with the pmemvm SDK's linker script.

fn main() {
    pmemvm_sdk_build::link();
}
