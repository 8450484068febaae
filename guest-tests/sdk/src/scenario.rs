//! A guest's scenarios, registered in one place, and the life of each: an
//! untraced `setup`, a recorded `run`, and after a crash a `recover`
//! that checks the crash image.
//!
//! ```ignore
//! use pmemvm_sdk::scenario::{Context, Scenario, Variant};
//! use pmemvm_sdk::report::Finding;
//!
//! static LOG: Scenario = Scenario {
//!     name: "log",
//!     description: "appends records to a persistent log",
//!     variants: &[Variant { name: "correct", description: "fences before the commit" }],
//!     setup: |ctx| ctx.region.write_u64(0, 0),
//!     run: |ctx| { /* the code under test */ },
//!     recover: |ctx| Ok(alloc::format!("tail {}", ctx.region.read_u64(0))),
//! };
//!
//! pmemvm_sdk::scenarios!(LOG);
//! ```
//!
//! pmemvm boots the guest once per phase it needs:
//! * **run mode** (`pmemvm run`, the recording of `pmemvm crashtest`): the
//!   NVDIMM is mapped, `setup` runs untraced (at native speed: format,
//!   preallocate), the setup phase ends (its media is the base of every
//!   crash image), `run` runs with every store, flush and fence recorded;
//! * **verify mode**, once per crash image: the guest boots on the image,
//!   `setup` does *not* run, `recover` runs its recovery and its own
//!   invariant checks and returns `Ok` (a summary) or a
//!   [`Finding`] with a stable check name, by which pmemvm groups failures
//!   into bugs;
//! * **list mode** (`pmemvm scenarios`): the names, descriptions and
//!   variants are reported.

use crate::region::Region;
use crate::report::{self, Finding};
use crate::{BootInfo, println};
use alloc::string::String;
use pmemvm_abi::{Mode, PromiseArgs};

/// A variant of a scenario: the same code with one thing changed (a
/// correct version and each bug, typically).
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// Its name (`--variant`).
    pub name: &'static str,
    /// What it does differently, in one line.
    pub description: &'static str,
}

/// What a scenario's functions are given.
pub struct Context {
    /// The whole NVDIMM.
    pub region: Region,
    /// The variant's name (one of the scenario's).
    pub variant: &'static str,
    /// The seed (`--seed`): derive every random choice from it, so that
    /// runs are deterministic.
    pub seed: u64,
}

impl Context {
    /// In verify mode, the promises made before the crash point (empty in
    /// run mode).
    pub fn promises(&self) -> &'static [PromiseArgs] {
        report::verify_info().map_or(&[], |(_, p)| p)
    }

    /// In verify mode, the id of the last operation (mark `op`) started
    /// before the crash point (0: none, and in run mode).
    pub fn last_op(&self) -> u64 {
        report::verify_info().map_or(0, |(op, _)| op)
    }
}

/// A scenario: its names and its three phases.
pub struct Scenario {
    /// Its name (`--scenario`).
    pub name: &'static str,
    /// What it does, in one line.
    pub description: &'static str,
    /// Its variants; the first is the default's equivalent, `correct` by
    /// convention.
    pub variants: &'static [Variant],
    /// Untraced preparation of the NVDIMM (run mode, before recording).
    pub setup: fn(&Context),
    /// The code under test (run mode, recorded).
    pub run: fn(&Context),
    /// Recovery and checks on a crash image (verify mode).
    pub recover: fn(&Context) -> Result<String, Finding>,
}

/// The main function of a guest made of `scenarios` (what
/// [`scenarios!`](crate::scenarios) defines): exit status 0 when the
/// phase ran, 2 for an unknown scenario or variant.
pub fn main(scenarios: &[&Scenario], info: &'static BootInfo) -> u32 {
    let mode = Mode::from_raw(info.mode);
    if mode == Some(Mode::List) {
        for s in scenarios {
            let variants: alloc::vec::Vec<(&str, &str)> =
                s.variants.iter().map(|v| (v.name, v.description)).collect();
            crate::report_scenario(s.name, s.description, &variants);
        }
        return 0;
    }
    let Some(scenario) = scenarios.iter().find(|s| s.name == info.scenario()) else {
        let names: alloc::vec::Vec<&str> = scenarios.iter().map(|s| s.name).collect();
        println!(
            "unknown scenario `{}` (this guest has: {})",
            info.scenario(),
            names.join(", ")
        );
        return 2;
    };
    let Some(variant) = scenario.variants.iter().find(|v| v.name == info.variant()) else {
        let names: alloc::vec::Vec<&str> = scenario.variants.iter().map(|v| v.name).collect();
        println!(
            "{}: unknown variant `{}` (variants: {})",
            scenario.name,
            info.variant(),
            names.join(", ")
        );
        return 2;
    };
    let ctx = Context {
        region: Region::nvdimm(),
        variant: variant.name,
        seed: info.seed,
    };
    match mode {
        Some(Mode::Verify) => report::verdict((scenario.recover)(&ctx)),
        _ => {
            (scenario.setup)(&ctx);
            crate::pmem::setup_done();
            (scenario.run)(&ctx);
        }
    }
    0
}

/// Defines the guest's main function over its scenarios:
/// `scenarios!(A, B, ...)` with `static A: Scenario = ...;` each.
#[macro_export]
macro_rules! scenarios {
    ($($scenario:path),+ $(,)?) => {
        fn __pmemvm_scenarios_main(info: &'static $crate::BootInfo) -> u32 {
            $crate::scenario::main(&[$(&$scenario),+], info)
        }
        $crate::entry!(__pmemvm_scenarios_main);
    };
}
