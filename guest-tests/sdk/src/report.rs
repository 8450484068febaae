//! What a guest reports about itself: verify-mode verdicts, record-mode
//! findings, and the promises verify mode is given.

use crate::io::hypercall;
use alloc::string::String;
use pmemvm_abi::{PromiseArgs, VerifyHeader, hc};

/// A failed check: its stable name (by which the VMM groups failures; at
/// most [`hc::MAX_CHECK_LEN`] bytes, e.g. `promised-data`) and the details
/// (offsets, values) for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The check's stable name.
    pub check: &'static str,
    /// What was found, in words.
    pub message: String,
}

impl Finding {
    /// Check `check` failed; `message` says how.
    pub fn new(check: &'static str, message: impl Into<String>) -> Finding {
        Finding {
            check,
            message: message.into(),
        }
    }
}

/// Verify mode's verdict: every check passed (`message` may summarise
/// what was checked).
pub fn pass(message: &str) {
    send_verdict(true, message, "");
}

/// Verify mode's verdict: the check named `check` failed; `message` names
/// what was lost (file, offset, allowed values, found bytes).
pub fn fail(check: &str, message: &str) {
    send_verdict(false, message, check);
}

/// Verify mode's verdict from the result of the checks: [`pass`] with the
/// summary or [`fail`] with the finding.
pub fn verdict(result: Result<String, Finding>) {
    match result {
        Ok(summary) => pass(&summary),
        Err(f) => fail(f.check, &f.message),
    }
}

fn send_verdict(passed: bool, message: &str, check: &str) {
    hypercall(
        hc::VERDICT,
        &[
            u64::from(passed),
            message.as_ptr() as u64,
            message.len() as u64,
            check.as_ptr() as u64,
            check.len() as u64,
        ],
    );
}

/// A check the guest failed in record mode (e.g. an mtime that did not
/// change), named as in [`fail`].
pub fn finding(check: &str, message: &str) {
    hypercall(
        hc::FINDING,
        &[
            message.as_ptr() as u64,
            message.len() as u64,
            check.as_ptr() as u64,
            check.len() as u64,
        ],
    );
}

/// In verify mode: the id of the last operation started before the crash
/// point, and the promises made before it.
pub fn verify_info() -> Option<(u64, &'static [PromiseArgs])> {
    let at = crate::boot::boot_info().verify;
    if at == 0 {
        return None;
    }
    // SAFETY: the VMM wrote a VerifyHeader and its promises at this
    // identity-mapped address, below `free_start`, so the heap never reuses it.
    unsafe {
        let header = (at as *const VerifyHeader).read();
        let first = (at + core::mem::size_of::<VerifyHeader>() as u64) as *const PromiseArgs;
        Some((
            header.last_op,
            core::slice::from_raw_parts(first, header.promises as usize),
        ))
    }
}

/// In verify mode: the NVDIMM pages (device offset / 4096) a traced store
/// wrote before the crash point.
pub struct WrittenPages(Option<&'static [u8]>);

impl WrittenPages {
    /// Whether a traced store wrote `page`; `true` when unknown, so a
    /// caller that skips unwritten pages stays sound.
    pub fn contains(&self, page: u64) -> bool {
        self.0.is_none_or(|bitmap| {
            bitmap
                .get((page / 8) as usize)
                .is_none_or(|byte| byte & (1 << (page % 8)) != 0)
        })
    }
}

/// The pages traced stores wrote before the crash point, as the VMM says.
pub fn written_pages() -> WrittenPages {
    let at = crate::boot::boot_info().verify;
    if at == 0 {
        return WrittenPages(None);
    }
    // SAFETY: as in `verify_info`: the VMM wrote the header, the promises and
    // the bitmap there, below `free_start`.
    unsafe {
        let header = (at as *const VerifyHeader).read();
        let bitmap = at
            + core::mem::size_of::<VerifyHeader>() as u64
            + header.promises * core::mem::size_of::<PromiseArgs>() as u64;
        WrittenPages(Some(core::slice::from_raw_parts(
            bitmap as *const u8,
            header.written_bitmap_bytes as usize,
        )))
    }
}
