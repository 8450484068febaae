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

/// A test guest whose recovery checks nothing: its scenario `promise-check`
/// stores and flushes four lines, fences (variant `correct`) or not
/// (`no-fence`), and promises them; only pmemvm's own check of the
/// promises can fail its crash images.
pub const PROMISE_CHECK_ELF: &str = concat!(env!("OUT_DIR"), "/pmemvm-promise-check.elf");

/// A test guest that misbehaves on purpose (`guest-tests/hostile`): garbage
/// in the event ring, absurd hypercall arguments, floods, arbitrary exit
/// statuses, protocol violations in verify mode.
pub const HOSTILE_ELF: &str = concat!(env!("OUT_DIR"), "/pmemvm-hostile.elf");

pub use pmemvm::testing::kvm_or_skip;

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
