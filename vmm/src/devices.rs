//! What the guest's exits act on during one run: the console, the list of
//! scenarios (list mode) and the NVDIMM.

use crate::guest_report::{Findings, ScenarioInfo, Verdict};
use crate::nvdimm::Nvdimm;
use pmemvm_abi::Mode;
use std::io::Write;

/// The devices of one run.
pub struct Devices<'a> {
    /// Where console output goes.
    pub console: &'a mut dyn Write,
    /// The mode the guest was booted in.
    pub mode: Mode,
    /// Scenarios reported in list mode.
    pub scenarios: Vec<ScenarioInfo>,
    /// The NVDIMM.
    pub nvdimm: Nvdimm,
    /// Verify mode's verdict, once the guest gave it.
    pub verdict: Option<Verdict>,
    /// Checks the guest failed in record mode.
    pub findings: Findings,
    /// Hypercalls of this run answered with an error code.
    pub failed_hypercalls: u64,
}

impl<'a> Devices<'a> {
    /// The devices of a run in `mode`.
    pub fn new(console: &'a mut dyn Write, mode: Mode, nvdimm: Nvdimm) -> Devices<'a> {
        Devices {
            console,
            mode,
            scenarios: Vec::new(),
            nvdimm,
            verdict: None,
            findings: Findings::default(),
            failed_hypercalls: 0,
        }
    }
}
