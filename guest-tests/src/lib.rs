//! Helpers for the end-to-end tests, which boot real guests under real KVM.
//!
//! A KVM test fails loudly when `/dev/kvm` is missing, unless
//! `PMEMVM_SKIP_KVM=1` is set, in which case it says it skipped.

use pmemvm::VmmError;
use pmemvm::session::{self, RunConfig, RunOutcome};

/// A test guest built on the runtime like a user's, with one `sfence` of its
/// own outside the recorded persistent-memory API (in function
/// `unrecorded_sfence`); its scenario `unrecorded-fence` is otherwise correct.
pub const UNRECORDED_FENCE_ELF: &str = concat!(env!("OUT_DIR"), "/pmemvm-unrecorded-fence.elf");

/// True when the test may use KVM; false (after saying so) when it must skip.
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

/// Skips the calling test (returning early) when KVM is unavailable and skipping is allowed.
#[macro_export]
macro_rules! require_kvm {
    () => {
        if !$crate::kvm_or_skip(module_path!()) {
            return;
        }
    };
}

/// Runs a scenario of the bundled guest; returns the outcome and the console text.
pub fn run_scenario(config: &RunConfig) -> (Result<RunOutcome, VmmError>, String) {
    let mut console = Vec::new();
    let result = session::run(config, &mut console);
    (result, String::from_utf8_lossy(&console).into_owned())
}

/// A configuration for `scenario` of the bundled guest with defaults otherwise.
pub fn scenario(name: &str) -> RunConfig {
    RunConfig {
        scenario: name.into(),
        ..RunConfig::default()
    }
}
