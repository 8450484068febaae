//! What the guest's exits act on during one run: the console, the list of
//! scenarios (list mode) and the NVDIMM.

use crate::error::VmmError;
use crate::hypercall::ScenarioInfo;
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
    pub findings: Vec<String>,
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
            findings: Vec::new(),
        }
    }
}

/// What verify mode concluded about a crash image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    /// Every promise held and the file system is consistent.
    pub passed: bool,
    /// The guest's message (what was lost, where).
    pub message: String,
}

impl Verdict {
    /// The verdict of a verify-mode run that ended with `run` (the guest's
    /// verdict, if it gave one): a run without one fails with the message
    /// `no_verdict` makes, one in which the guest crashed fails too.
    pub fn of_run(
        run: Result<Option<Verdict>, VmmError>,
        no_verdict: impl FnOnce() -> String,
    ) -> Result<Verdict, VmmError> {
        match run {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Ok(Verdict {
                passed: false,
                message: no_verdict(),
            }),
            Err(e) if e.is_guest_failure() => Ok(Verdict {
                passed: false,
                message: format!("the guest failed during recovery: {e}"),
            }),
            Err(e) => Err(e),
        }
    }
}
