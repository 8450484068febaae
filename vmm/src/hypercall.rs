//! Hypercalls: the guest fills the mailbox and rings [`PORT_HYPERCALL`].
//!
//! Every address and length the guest hands over is checked against guest
//! RAM and [`hc::MAX_BUFFER`]; a bad one is answered with an error code, it
//! never reaches outside guest memory.
//!
//! [`PORT_HYPERCALL`]: pmemvm_abi::PORT_HYPERCALL

use crate::devices::Devices;
use crate::error::VmmError;
use crate::guest_report::{Finding, ScenarioInfo, VariantInfo, Verdict};
use crate::nvdimm::Flow;
use crate::vm::{GuestRead, Vm};
use pmemvm_abi::{Mailbox, MarkArgs, Mode, Plain, PromiseArgs, hc, layout};
use std::mem::offset_of;

// The decoders below read guest memory only (`GuestRead`: the VM's RAM, or
// bytes in the fuzzing harness, `vmm/fuzz`, which feeds them arbitrary
// memory the way `dispatch` does).

/// The mailbox the guest filled.
pub fn read_mailbox<M: GuestRead + ?Sized>(vm: &M) -> Result<Mailbox, VmmError> {
    vm.read_plain(layout::MAILBOX)
        .ok_or_else(|| VmmError::Protocol("mailbox outside guest RAM".into()))
}

/// A guest buffer, or the error code to answer with.
pub fn buffer<M: GuestRead + ?Sized>(vm: &M, gpa: u64, len: u64) -> Result<Vec<u8>, u64> {
    if len > hc::MAX_BUFFER {
        return Err(hc::BAD_BUFFER);
    }
    vm.read_bytes(gpa, len).ok_or(hc::BAD_BUFFER)
}

/// A text the guest hands over, kept to its first `max` bytes (the whole
/// buffer must still lie in guest RAM and within [`hc::MAX_BUFFER`]).
pub fn text_up_to<M: GuestRead + ?Sized>(
    vm: &M,
    gpa: u64,
    len: u64,
    max: u64,
) -> Result<String, u64> {
    // RAM is contiguous from 0: the last byte in RAM means all are.
    let in_ram = len == 0
        || gpa
            .checked_add(len - 1)
            .is_some_and(|last| vm.read_bytes(last, 1).is_some());
    if len > hc::MAX_BUFFER || !in_ram {
        return Err(hc::BAD_BUFFER);
    }
    let kept = len.min(max);
    let mut text = String::from_utf8_lossy(&buffer(vm, gpa, kept)?).into_owned();
    if kept < len {
        text.push_str(&format!("... ({} more bytes not kept)", len - kept));
    }
    Ok(text)
}

/// Most bytes of a scenario's variant list (`name\tdescription` lines)
/// the VMM keeps.
const MAX_VARIANTS_TEXT: u64 = 64 << 10;

/// A message, name or label: [`text_up_to`] [`hc::MAX_MESSAGE_LEN`] bytes.
pub fn text<M: GuestRead + ?Sized>(vm: &M, gpa: u64, len: u64) -> Result<String, u64> {
    text_up_to(vm, gpa, len, hc::MAX_MESSAGE_LEN)
}

/// A check name: valid UTF-8 of at most [`hc::MAX_CHECK_LEN`] bytes (empty
/// when `len` is 0: unnamed).
pub fn check_name<M: GuestRead + ?Sized>(vm: &M, gpa: u64, len: u64) -> Result<String, u64> {
    match len {
        0 => Ok(String::new()),
        1..=hc::MAX_CHECK_LEN => {
            String::from_utf8(buffer(vm, gpa, len)?).map_err(|_| hc::BAD_BUFFER)
        }
        _ => Err(hc::BAD_BUFFER),
    }
}

/// Reads a structure of the guest contract the guest handed over by address.
pub fn read_args<T: Plain>(vm: &(impl GuestRead + ?Sized), gpa: u64) -> Result<T, u64> {
    vm.read_plain(gpa).ok_or(hc::BAD_BUFFER)
}

/// Failed hypercalls of a run that are logged as warnings (the others at
/// debug level): a guest that fails hypercalls in a loop must not flood
/// stderr.
const FAILURES_SHOWN: u64 = 8;

/// What a hypercall did: its result code, or a flow change of the run.
type Outcome = Result<Flow, u64>;

impl Devices<'_> {
    /// Handles the hypercall in the mailbox and writes the result back.
    /// Errors of the run itself (a broken protocol, a failed trace write)
    /// end the run; a bad argument is answered with an error code.
    pub fn hypercall(&mut self, vm: &Vm) -> Result<Flow, VmmError> {
        let mb = read_mailbox(vm)?;
        let (ret, flow) = match self.dispatch(vm, &mb)? {
            Ok(flow) => (hc::OK, flow),
            Err(code) => {
                self.failed_hypercalls += 1;
                match self.failed_hypercalls {
                    1..=FAILURES_SHOWN => {
                        log::warn!("hypercall {} failed with code {code}", mb.nr)
                    }
                    n if n == FAILURES_SHOWN + 1 => {
                        log::warn!("more hypercalls failed; further failures are not shown")
                    }
                    _ => log::debug!("hypercall {} failed with code {code}", mb.nr),
                }
                (code, Flow::Continue)
            }
        };
        vm.write_obj(layout::MAILBOX + offset_of!(Mailbox, ret) as u64, &ret)?;
        Ok(flow)
    }

    fn dispatch(&mut self, vm: &Vm, mb: &Mailbox) -> Result<Outcome, VmmError> {
        let a = mb.args;
        Ok(match mb.nr {
            hc::MARK => {
                let Ok(args) = read_args::<MarkArgs>(vm, a[0]) else {
                    return Ok(Err(hc::BAD_BUFFER));
                };
                if !(1..=hc::MAX_LABEL_LEN).contains(&args.label_len) {
                    return Ok(Err(hc::BAD_BUFFER));
                }
                match text(vm, args.label_gpa, args.label_len) {
                    Ok(label) => Ok(self.nvdimm.mark(label, &args)?),
                    Err(code) => Err(code),
                }
            }
            hc::PROMISE => match read_args::<PromiseArgs>(vm, a[0]) {
                Ok(promise) => Ok(self.nvdimm.promise(&promise)?),
                Err(code) => Err(code),
            },
            hc::SETUP_DONE if self.mode == Mode::Run => Ok(self.nvdimm.setup_done(vm)?),
            hc::SETUP_DONE => {
                return Err(VmmError::Protocol(format!(
                    "setup-done hypercall in {} mode (only a run records)",
                    self.mode.name()
                )));
            }
            hc::SNAPSHOT if self.mode == Mode::Verify => Ok(Flow::Snapshot),
            _ => {
                let io = self.nvdimm.io(pmemvm_abi::PORT_HYPERCALL, false)?;
                self.simple(vm, mb).map(|()| io)
            }
        })
    }

    /// Hypercalls that do not touch the NVDIMM.
    fn simple(&mut self, vm: &Vm, mb: &Mailbox) -> Result<(), u64> {
        let a = mb.args;
        match mb.nr {
            hc::CONSOLE_WRITE => {
                let bytes = buffer(vm, a[0], a[1])?;
                self.console.write_all(&bytes).map_err(|_| hc::BAD_STATE)?;
                self.console.flush().map_err(|_| hc::BAD_STATE)
            }
            hc::SCENARIO
                if self.mode == Mode::List && self.scenarios.len() >= hc::MAX_SCENARIOS =>
            {
                Err(hc::BAD_STATE)
            }
            hc::SCENARIO if self.mode == Mode::List => {
                let name = text(vm, a[0], a[1])?;
                let description = text(vm, a[2], a[3])?;
                let variants = VariantInfo::parse(&text_up_to(vm, a[4], a[5], MAX_VARIANTS_TEXT)?);
                self.scenarios.push(ScenarioInfo {
                    name,
                    description,
                    variants,
                });
                Ok(())
            }
            hc::SCENARIO => Err(hc::BAD_STATE),
            hc::VERDICT if self.mode == Mode::Verify && self.verdict.is_none() => {
                let message = text(vm, a[1], a[2])?;
                let check = check_name(vm, a[3], a[4])?;
                self.verdict = Some(Verdict {
                    passed: a[0] == 1,
                    check,
                    message,
                });
                Ok(())
            }
            hc::VERDICT => Err(hc::BAD_STATE),
            hc::FINDING => {
                let finding = Finding {
                    message: text(vm, a[0], a[1])?,
                    check: check_name(vm, a[2], a[3])?,
                };
                log::debug!(
                    "guest finding: {}",
                    pmemvm_abi::shown::Shown(&finding.to_string())
                );
                self.findings.push(finding);
                Ok(())
            }
            _ => Err(hc::UNKNOWN),
        }
    }
}
