//! Hypercalls: the guest fills the mailbox and rings [`PORT_HYPERCALL`].
//!
//! Every address and length the guest hands over is checked against guest
//! RAM and [`hc::MAX_BUFFER`]; a bad one is answered with an error code, it
//! never reaches outside guest memory.
//!
//! [`PORT_HYPERCALL`]: pmemvm_abi::PORT_HYPERCALL

use crate::error::VmmError;
use crate::vm::Vm;
use pmemvm_abi::{Mailbox, Mode, hc, layout};
use std::io::Write;

/// A scenario a guest reported in list mode.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScenarioInfo {
    /// Its name.
    pub name: String,
    /// Its one-line description.
    pub description: String,
}

/// What hypercalls act on during one run.
pub struct Hypercalls<'a> {
    /// Where console output goes.
    pub console: &'a mut dyn Write,
    /// The mode the guest was booted in.
    pub mode: Mode,
    /// Scenarios reported in list mode.
    pub scenarios: Vec<ScenarioInfo>,
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

impl Hypercalls<'_> {
    /// Handles the hypercall in the mailbox and writes the result back.
    pub fn handle(&mut self, vm: &Vm) -> Result<(), VmmError> {
        let mb = read_mailbox(vm)?;
        let ret = match self.dispatch(vm, &mb) {
            Ok(()) => hc::OK,
            Err(code) => {
                log::warn!("hypercall {} failed with code {code}", mb.nr);
                code
            }
        };
        vm.write(layout::MAILBOX + 7 * 8, &ret.to_le_bytes())
    }

    fn dispatch(&mut self, vm: &Vm, mb: &Mailbox) -> Result<(), u64> {
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
            _ => Err(hc::UNKNOWN),
        }
    }
}
