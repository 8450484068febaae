//! pmemvm: a KVM virtual machine monitor with an emulated NVDIMM whose
//! persistence is modelled exactly.
//!
//! * [`vm`]: the VM, its RAM and vCPU; [`boot`]: long-mode start-up state.
//! * [`elf`]: reading guest ELFs; [`guest`]: the bundled guest agent;
//!   [`guest_code`]: what its machine code tells (unrecorded flushes and
//!   fences, RIPs as `function (file:line)`).
//! * [`exits`]: the vCPU loop; [`hypercall`]: the guest's requests;
//!   [`watchdog`]: the time limit.
//! * [`nvdimm`]: the emulated NVDIMM of a run (memslot, event ring, model,
//!   trace, media); [`replay`]: trace events applied to the model.
//! * [`devices`]: what exits act on.
//! * [`session`]: one run of a guest, the entry point for commands.
//! * [`bench`]: the `pmemvm bench` measurements.

pub mod bench;
pub mod boot;
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
pub mod nvdimm;
pub mod replay;
pub mod run_kind;
pub mod session;
pub mod verifier;
pub mod verify;
pub mod verify_input;
pub mod vm;
pub mod watchdog;

pub use error::VmmError;
