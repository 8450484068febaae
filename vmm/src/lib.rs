//! pmemvm: a KVM virtual machine monitor with an emulated NVDIMM whose
//! persistence is modelled exactly.
//!
//! The modules form layers; each imports only from its own layer's lower
//! entries and from the layers below it (`vmm/tests/layers.rs` checks
//! this), so data flows one way: exit -> device front end -> trace events ->
//! crash points -> images -> verify -> report.
//!
//! 1. **Without KVM**: [`cpu_dump`] (registers in messages); [`interrupt`]
//!    (Ctrl-C); `error` ([`VmmError`], [`Fault`]); [`console_tail`] (the
//!    bounded console of the runs the VMM reads);
//!    [`elf`] (reading guest ELFs); [`guest`] (which guest ELF: the bundled
//!    agent or a file); [`guest_code`] (what a guest's machine code tells:
//!    unrecorded flushes and fences, RIPs as `function (file:line)`);
//!    [`guest_report`] (what a guest reports: scenarios, verdicts,
//!    findings); [`verify_input`] (what verify mode is given, encoded);
//!    [`promise_check`] (the promises pmemvm checks on every crash image
//!    by itself); [`run_kind`] (what a run is for); [`replay`] (trace
//!    events applied to the persistency model); [`inspect`] (`pmemvm
//!    trace` on trace files).
//! 2. **KVM plumbing**: [`boot`] (long-mode start-up state); [`vm`] (the VM,
//!    its RAM and vCPU, their snapshots); [`watchdog`] (the time limit).
//! 3. **Guest devices**: [`nvdimm`] (the emulated NVDIMM's front end and the
//!    sinks of its events: trace file, crash-test stream, power cut);
//!    [`devices`] (what exits act on); [`hypercall`] (the guest's requests);
//!    [`exits`] (the vCPU loop).
//! 4. **Runs**: [`session`] (one run of a guest, the entry point for
//!    commands); [`verify`] (crash images verified, in fresh or reused VMs);
//!    [`crashtest`] (`pmemvm crashtest`: record, walk the crash points,
//!    verify the images, report); [`campaign`] (`pmemvm campaign`: a
//!    matrix of crash tests, resumable and sharded); [`bench`](mod@bench)
//!    (`pmemvm bench`).
//!
//! The `pmemvm` binary's command line (`src/cli`) sits on top; [`testing`]
//! serves the test suites.

#![warn(missing_docs)]

pub mod bench;
pub mod boot;
pub mod campaign;
pub mod console_tail;
pub mod cpu_dump;
pub mod crashtest;
pub mod devices;
pub mod elf;
mod error;
pub mod exits;
pub mod guest;
pub mod guest_code;
pub mod guest_report;
pub mod hypercall;
pub mod inspect;
pub mod interrupt;
pub mod nvdimm;
pub mod promise_check;
pub mod replay;
pub mod run_kind;
pub mod session;
pub mod testing;
pub mod verify;
pub mod verify_input;
pub mod vm;
pub mod watchdog;

pub use error::{Fault, VmmError};
