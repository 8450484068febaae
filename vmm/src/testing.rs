//! For test suites that boot real guests: the KVM gate.
//!
//! A KVM test fails loudly when `/dev/kvm` cannot be used, unless
//! `PMEMVM_SKIP_KVM=1` is set, in which case it says it skipped.

/// True when the test `test` may use KVM; false (after saying so on
/// stderr) when it must skip.
///
/// # Panics
/// When `/dev/kvm` cannot be opened and `PMEMVM_SKIP_KVM=1` is not set.
pub fn kvm_or_skip(test: &str) -> bool {
    let available = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm");
    match available {
        Ok(_) => true,
        Err(e) if std::env::var("PMEMVM_SKIP_KVM").as_deref() == Ok("1") => {
            eprintln!("SKIPPED {test}: /dev/kvm not usable ({e}) and PMEMVM_SKIP_KVM=1");
            false
        }
        Err(e) => panic!(
            "{test}: /dev/kvm is not usable ({e}); KVM tests need it (set PMEMVM_SKIP_KVM=1 to skip them)"
        ),
    }
}
