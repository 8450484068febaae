//! Links this guest with the SDK's linker script.

fn main() {
    pmemvm_sdk_build::link();
}
