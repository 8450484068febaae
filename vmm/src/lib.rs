//! pmemvm: a KVM virtual machine monitor with an emulated NVDIMM whose
//! persistence is modelled exactly.
//!
//! * [`vm`]: the VM, its RAM and vCPU; [`boot`]: long-mode start-up state.
//! * [`elf`]: reading guest ELFs; [`guest`]: the bundled guest agent.
//! * [`exits`]: the vCPU loop; [`hypercall`]: the guest's requests;
//!   [`watchdog`]: the time limit.
//! * [`session`]: one run of a guest, the entry point for commands.
//! * [`bench`]: the `pmemvm bench` measurements.

pub mod bench;
pub mod boot;
pub mod cpu_dump;
pub mod elf;
mod error;
pub mod exits;
pub mod guest;
pub mod hypercall;
pub mod session;
pub mod vm;
pub mod watchdog;

pub use error::VmmError;
