//! What a guest's machine code tells before it runs.
//!
//! * [`lint`](mod@lint): the flushes, fences, non-temporal stores and locked
//!   instructions outside the recorded persistent-memory API, which the
//!   model cannot see (`pmemvm lint`, and the warning of `run`, `crashtest`
//!   and `verify`).
//! * [`symbols`]: guest RIPs as `function (file:line)`, from the ELF's line
//!   tables or symbol table.

pub mod lint;
pub mod symbols;

pub use lint::{Finding, Lint, lint};
pub use symbols::{Location, Resolved, Symbols};
