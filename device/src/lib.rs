//! The emulated NVDIMM of pmemvm: its persistency model, the crash images it
//! allows, its backing file and the ACPI tables that describe it to a guest.
//!
//! # Module map
//!
//! * [`model`]: the persistency model of `PERSISTENCY.md` (line histories,
//!   lower bounds, pending flushes and NT writes, ADR and eADR).
//!   * `model::config`: [`ModelConfig`](model::ModelConfig), the persistence
//!     and atomicity modes, the flush and fence kinds.
//!   * `model::line`: the per-line state (certain content, per-unit history).
//!   * `model::state`: per-line introspection ([`LineState`](model::LineState))
//!     for the trace tools.
//!   * `model::index`: the hasher of the line map.
//! * [`crash`]: the crash images allowed at a point, and their names.
//!   * [`crash::spec`]: [`ImageSpec`](crash::ImageSpec), how an image is named.
//!   * `crash::image`: [`Image`](crash::Image), the content of the touched lines.
//!   * `crash::picks`: the choices that make an image; checking explicit specs.
//!   * `crash::alternatives`: the distinct contents of one unit or line.
//!   * `crash::space`: exact image counts and enumeration.
//!   * `crash::explore`: random images and the neighbourhoods a crash test tries.
//! * [`backing`]: the backing file, with QEMU `memory-backend-file` semantics.
//!   * `backing::options`: [`NvdimmConfig`](backing::NvdimmConfig), the
//!     `--nvdimm` option string.
//!   * `backing::size`: sizes, their limits, parsing and printing.
//!   * `backing::store`: [`Backing`](backing::Backing), the file itself.
//!   * `backing::temp_file`: replacing the file whole, by a rename.
//!   * `backing::guest_copy`: [`GuestCopy`](backing::GuestCopy), the mapping the
//!     guest runs on.
//! * [`media`]: [`SharedMedia`](media::SharedMedia), a crash test's base media,
//!   shared copy-on-write by every verify VM.
//! * [`nfit`]: the ACPI tables (RSDP, XSDT, NFIT) through which a guest finds it.
//! * `error`: [`DeviceError`], the crate's one error type.
//!
//! # Entry points
//!
//! A run feeds the guest's NVDIMM events to a [`Model`](model::Model) and asks
//! it for crash images, named by [`ImageSpec`](crash::ImageSpec)s. The media
//! comes from a [`Backing`](backing::Backing) opened from an
//! [`NvdimmConfig`](backing::NvdimmConfig), and the guest runs on a
//! [`GuestCopy`](backing::GuestCopy) of it; a crash test's verify VMs run on
//! copies of one [`SharedMedia`](media::SharedMedia). The guest finds the
//! NVDIMM in the tables of [`build_acpi_tables`](nfit::build_acpi_tables).
//! The documentation of each has an example.

#![deny(missing_docs)]

pub mod backing;
pub mod crash;
mod error;
pub mod media;
pub mod model;
pub mod nfit;

pub use error::DeviceError;
