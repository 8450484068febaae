//! The boot information the VMM passed, kept for the whole run.

use crate::global::Global;
use crate::termination;
use pmemvm_abi::BootInfo;

static BOOT: Global<Option<BootInfo>> = Global::new(None);

/// Keeps `info` for [`boot_info`]; the ring-3 start calls it once, before
/// any other code runs.
pub(crate) fn keep(info: BootInfo) {
    // SAFETY: single vCPU; nothing reads BOOT before this.
    unsafe { *BOOT.get() = Some(info) };
}

/// The boot information the VMM passed.
pub fn boot_info() -> &'static BootInfo {
    // SAFETY: written once by `keep` before any other code runs.
    match unsafe { &*BOOT.get() } {
        Some(info) => info,
        None => termination::exit(125),
    }
}
