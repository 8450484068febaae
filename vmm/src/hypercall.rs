//! Hypercalls: the guest fills the mailbox and rings [`PORT_HYPERCALL`].
//!
//! Every address and length the guest hands over is checked against guest
//! RAM and [`hc::MAX_BUFFER`]; a bad one is answered with an error code, it
//! never reaches outside guest memory.
//!
//! [`PORT_HYPERCALL`]: pmemvm_abi::PORT_HYPERCALL

use crate::devices::{Devices, Finding, Verdict};
use crate::error::VmmError;
use crate::nvdimm::Flow;
use crate::vm::Vm;
use pmemvm_abi::{Mailbox, MarkArgs, Mode, PromiseArgs, hc, layout};

/// A scenario a guest reported in list mode.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScenarioInfo {
    /// Its name.
    pub name: String,
    /// Its one-line description.
    pub description: String,
}

const MAILBOX_SIZE: u64 = std::mem::size_of::<Mailbox>() as u64;

fn read_mailbox(vm: &Vm) -> Result<Mailbox, VmmError> {
    let raw = vm
        .read(layout::MAILBOX, MAILBOX_SIZE)
        .ok_or_else(|| VmmError::Protocol("mailbox outside guest RAM".into()))?;
    let word = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&raw[i * 8..i * 8 + 8]);
        u64::from_le_bytes(b)
    };
    let mut args = [0u64; 6];
    for (i, a) in args.iter_mut().enumerate() {
        *a = word(1 + i);
    }
    Ok(Mailbox {
        nr: word(0),
        args,
        ret: word(7),
    })
}

/// A guest buffer, or the error code to answer with.
fn buffer(vm: &Vm, gpa: u64, len: u64) -> Result<Vec<u8>, u64> {
    if len > hc::MAX_BUFFER {
        return Err(hc::BAD_BUFFER);
    }
    vm.read(gpa, len).ok_or(hc::BAD_BUFFER)
}

fn text(vm: &Vm, gpa: u64, len: u64) -> Result<String, u64> {
    buffer(vm, gpa, len).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// A check name: valid UTF-8 of at most [`hc::MAX_CHECK_LEN`] bytes (empty
/// when `len` is 0: unnamed).
fn check_name(vm: &Vm, gpa: u64, len: u64) -> Result<String, u64> {
    match len {
        0 => Ok(String::new()),
        1..=hc::MAX_CHECK_LEN => {
            String::from_utf8(buffer(vm, gpa, len)?).map_err(|_| hc::BAD_BUFFER)
        }
        _ => Err(hc::BAD_BUFFER),
    }
}

/// Reads a `repr(C)` struct of `N` little-endian words from the guest.
fn words<const N: usize>(vm: &Vm, gpa: u64) -> Result<[u64; N], u64> {
    let raw = buffer(vm, gpa, N as u64 * 8)?;
    let mut out = [0u64; N];
    for (i, w) in out.iter_mut().enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(&raw[i * 8..i * 8 + 8]);
        *w = u64::from_le_bytes(b);
    }
    Ok(out)
}

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
                log::warn!("hypercall {} failed with code {code}", mb.nr);
                (code, Flow::Continue)
            }
        };
        vm.write(layout::MAILBOX + 7 * 8, &ret.to_le_bytes())?;
        Ok(flow)
    }

    fn dispatch(&mut self, vm: &Vm, mb: &Mailbox) -> Result<Outcome, VmmError> {
        let a = mb.args;
        Ok(match mb.nr {
            hc::MARK => {
                let Ok(w) = words::<7>(vm, a[0]) else {
                    return Ok(Err(hc::BAD_BUFFER));
                };
                let args = MarkArgs {
                    label_gpa: w[0],
                    label_len: w[1],
                    file: w[2],
                    page: w[3],
                    op: w[4],
                    range_offset: w[5],
                    range_len: w[6],
                };
                match text(vm, args.label_gpa, args.label_len) {
                    Ok(label) if !label.is_empty() => Ok(self.nvdimm.mark(label, &args)?),
                    _ => Err(hc::BAD_BUFFER),
                }
            }
            hc::PROMISE => match words::<6>(vm, a[0]) {
                Ok(w) => Ok(self.nvdimm.promise(&PromiseArgs {
                    file: w[0],
                    offset: w[1],
                    len: w[2],
                    op: w[3],
                    range_offset: w[4],
                    range_len: w[5],
                })?),
                Err(code) => Err(code),
            },
            hc::SETUP_DONE => Ok(self.nvdimm.setup_done(vm)?),
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
            hc::SCENARIO if self.mode == Mode::List => {
                let name = text(vm, a[0], a[1])?;
                let description = text(vm, a[2], a[3])?;
                self.scenarios.push(ScenarioInfo { name, description });
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
                log::warn!("guest finding: {finding}");
                self.findings.push(finding);
                Ok(())
            }
            _ => Err(hc::UNKNOWN),
        }
    }
}
