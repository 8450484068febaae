//! What the CLI tests share.

/// True when the test may use KVM; false (after saying so) when it must skip.
/// Fails loudly without KVM unless `PMEMVM_SKIP_KVM=1`.
pub fn kvm() -> bool {
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        Ok(_) => true,
        Err(e) if std::env::var("PMEMVM_SKIP_KVM").as_deref() == Ok("1") => {
            eprintln!("SKIPPED: /dev/kvm not usable ({e}) and PMEMVM_SKIP_KVM=1");
            false
        }
        Err(e) => panic!("/dev/kvm is not usable ({e}); set PMEMVM_SKIP_KVM=1 to skip KVM tests"),
    }
}
