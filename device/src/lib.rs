//! The emulated NVDIMM of pmemvm.
//!
//! * [`model`]: the persistency model of `PERSISTENCY.md` (line histories,
//!   lower bounds, pending flushes and NT writes, ADR and eADR).
//! * [`crash`]: the crash images allowed at a point, and their names.
//! * [`backing`]: the backing file, with QEMU `memory-backend-file` semantics.
//! * [`nfit`]: the ACPI tables (RSDP, XSDT, NFIT) through which a guest finds it.

pub mod backing;
pub mod crash;
mod error;
pub mod media;
pub mod model;
pub mod nfit;

pub use error::DeviceError;
