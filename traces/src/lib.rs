//! Persistence traces of pmemvm: the events, their JSON and JSON Lines files,
//! a streaming writer and reader, and the crash-point grammar.
//!
//! The format is documented in `SCHEMA.md` beside this crate, with a JSON
//! Schema in `schema/trace-v1.schema.json`.
//!
//! # Modules, from the bottom up
//!
//! Each module imports only from those listed before it.
//!
//! * [`error`]: the crate's one error type, [`TraceError`], and [`Location`].
//! * [`hex`]: lowercase hex, the way traces spell bytes and addresses.
//! * [`point`]: the grammar of crash points ([`CrashPoint`]) and point sets
//!   ([`PointSet`]).
//! * [`event`]: the events ([`Event`], [`EventKind`] and their fields) and
//!   the eADR drain-point rule ([`EventKind::is_drain_point`]).
//! * `event_json` (private): the JSON form of events.
//! * [`header`]: the first record of a trace ([`Header`]). The persistence
//!   vocabulary it names ([`Persistence`], [`Atomicity`], [`LINE_SIZE`]) is
//!   `pmemvm-abi`'s, re-exported here.
//! * `validate` (private): the checks of an event against the header and
//!   the events before it, shared by the writer and the reader.
//! * [`epochs`]: which points of an `epochs` recording are instants of the
//!   run ([`Instants`]).
//! * [`files`]: input files must be regular files; [`files::OutputFile`]
//!   writes every output file.
//! * [`writer`]: [`TraceEncoder`] and [`TraceWriter`].
//! * `scan` (private): the structural JSON scanner of the document reader.
//! * [`reader`]: [`TraceReader`], one checked event at a time.
//! * [`resolver`]: where a crash point lies in a trace ([`PointResolver`]).
//! * [`selection`]: which points a point set visits, and why
//!   ([`PointSelector`], [`selection::select`]).
//! * [`analysis`]: model-free statistics, listings, diffs and exports.
//!
//! # Example
//!
//! Write a trace, read it back and find a crash point in it:
//!
//! ```
//! use pmemvm_traces::*;
//! # fn main() -> Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("t.json");
//! let header = Header::new(
//!     Device { base: 0x1_0000_0000, size: 64 << 20 },
//!     Persistence::Adr,
//!     Atomicity::Line,
//!     "pmem-smoke",
//!     "correct",
//!     1,
//!     [0; 32],
//! );
//! let mut w = TraceWriter::create(&path, &header)?;
//! let store = Write::new(0x1_0000_0040, 0x40, vec![1, 2], 0x10_0000).with_init([0; 64]);
//! w.write(&Event::new(1, EventKind::Store(store)))?;
//! w.write(&Event::new(2, EventKind::Clwb(Flush::new(0x1_0000_0040, 0x40))))?;
//! w.write(&Event::new(3, EventKind::Sfence))?;
//! w.finish()?;
//!
//! let mut r = TraceReader::open(&path)?;
//! assert_eq!(r.header().persistence, Persistence::Adr);
//! let at = PointResolver::resolve("fence:1".parse()?, &mut r)?;
//! assert_eq!(at, 3);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod analysis;
pub mod epochs;
pub mod error;
pub mod event;
mod event_json;
pub mod files;
pub mod header;
pub mod hex;
pub mod point;
pub mod reader;
pub mod resolver;
mod scan;
pub mod selection;
mod validate;
pub mod writer;

pub use epochs::Instants;
pub use error::{Location, Result, TraceError};
pub use event::{
    DeviceRange, Event, EventKind, Flush, Io, KIND_NAMES, Mark, PowerFail, Promise, Write,
};
pub use header::{BUNDLED_GUEST, Device, FORMAT_NAME, FORMAT_VERSION, Header, Recording};
pub use pmemvm_abi::persistence::{Atomicity, LINE_SIZE, Persistence};
pub use point::{CrashPoint, PointSet};
pub use reader::TraceReader;
pub use resolver::{PointCounts, PointResolver};
pub use selection::{CRASH_MARK, PointReason, PointSelector};
pub use writer::{Format, TraceEncoder, TraceWriter};
