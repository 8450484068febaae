//! The crate's one error type, [`TraceError`], and [`Location`], the place in
//! a trace file an error is about.

use pmemvm_abi::shown::Shown;

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Where in a trace an error was found: file, line and column, each when known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// The file (or the name given to a stream), when known.
    pub path: Option<PathBuf>,
    /// 1-based line number, when known.
    pub line: Option<u64>,
    /// 1-based column (in bytes), when known.
    pub column: Option<u64>,
}

impl Location {
    /// A location naming only a file.
    pub fn file(path: impl Into<PathBuf>) -> Location {
        Location {
            path: Some(path.into()),
            line: None,
            column: None,
        }
    }

    /// A location in a file at a line and, optionally, a column.
    pub fn at(path: impl Into<PathBuf>, line: u64, column: Option<u64>) -> Location {
        Location {
            path: Some(path.into()),
            line: Some(line),
            column,
        }
    }

    /// True when nothing is known.
    pub fn is_unknown(&self) -> bool {
        self.path.is_none() && self.line.is_none()
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}", p.display())?,
            None => f.write_str("<trace>")?,
        }
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        Ok(())
    }
}

/// Every error of this crate. Errors about trace content name the file, the
/// line (and column where known) and the reason.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// Reading or writing a file failed. (The system error is part of the
    /// message, so it is not also the error's `source`: printed with its
    /// chain, the message would name it twice.)
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The system error.
        error: io::Error,
    },
    /// The writer was given a path whose extension is neither `.json` nor `.jsonl`.
    #[error("{path}: a trace file must end in .json (one JSON document) or .jsonl (JSON Lines)")]
    UnsupportedExtension {
        /// The path given.
        path: PathBuf,
    },
    /// The input is not a pmemvm trace at all.
    #[error("{at}: not a pmemvm trace: {reason}")]
    NotATrace {
        /// Where.
        at: Location,
        /// Why.
        reason: String,
    },
    /// A pmemvm trace of another format version.
    #[error(
        "{at}: unsupported trace format version {found} (this pmemvm reads version {supported})"
    )]
    UnsupportedVersion {
        /// Where.
        at: Location,
        /// The version in the file.
        found: u64,
        /// The version this crate reads.
        supported: u64,
    },
    /// The trace stops before its end (killed writer, partial copy).
    #[error("{at}: truncated trace: {reason}")]
    Truncated {
        /// Where the input stops.
        at: Location,
        /// What was expected.
        reason: String,
    },
    /// The input is not well-formed JSON, or not the layout of a trace.
    #[error("{at}: malformed trace: {reason}")]
    Syntax {
        /// Where.
        at: Location,
        /// What is wrong.
        reason: String,
    },
    /// The header is present but one of its fields is wrong.
    #[error("{at}: invalid header: {reason}")]
    InvalidHeader {
        /// Where.
        at: Location,
        /// What is wrong.
        reason: String,
    },
    /// An event has a `kind` this version does not know.
    #[error(
        "{at}: unknown event kind `{}` (expected one of: {known})",
        Shown(kind)
    )]
    UnknownKind {
        /// Where.
        at: Location,
        /// The kind found.
        kind: String,
        /// The kinds this version knows, comma-separated.
        known: String,
    },
    /// Events must be numbered 1, 2, 3, … in order.
    #[error(
        "{at}: event seq {found} out of order: expected seq {expected} (events are numbered 1, 2, 3, … without gaps)"
    )]
    SeqOrder {
        /// Where.
        at: Location,
        /// The seq found.
        found: u64,
        /// The seq expected.
        expected: u64,
    },
    /// A hex field is not lowercase hex of the right shape.
    #[error("{at}: bad hex in `{}`: {reason}", Shown(field))]
    BadHex {
        /// Where.
        at: Location,
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A write's `size` does not match the length of its `data`.
    #[error("{at}: `size` is {size} but `data` holds {data_len} bytes")]
    SizeMismatch {
        /// Where.
        at: Location,
        /// The `size` field.
        size: u64,
        /// The number of bytes in `data`.
        data_len: u64,
    },
    /// An address, offset or range lies outside the device.
    #[error("{at}: out of range: {reason}")]
    OutOfRange {
        /// Where.
        at: Location,
        /// What lies where.
        reason: String,
    },
    /// Any other inconsistency in an event (missing or extra field,
    /// misaligned line, a store crossing a line, a missing `init`, …).
    #[error("{at}: invalid event: {reason}")]
    InvalidEvent {
        /// Where.
        at: Location,
        /// What is wrong.
        reason: String,
    },
    /// A crash point that does not follow the grammar of `SCHEMA.md`.
    #[error("bad crash point `{}`: {reason}", Shown(input))]
    BadPoint {
        /// The text given.
        input: String,
        /// What is wrong.
        reason: String,
    },
    /// A crash-point set that does not follow the grammar of `SCHEMA.md`.
    #[error("bad crash-point set `{}`: {reason}", Shown(input))]
    BadPointSet {
        /// The text given.
        input: String,
        /// What is wrong.
        reason: String,
    },
    /// A crash point that lies beyond the end of the trace.
    #[error(
        "crash point {point} lies beyond the end of the trace: {point} but the trace has {reason}"
    )]
    PointBeyondEnd {
        /// The point, as written (`fence:9`).
        point: String,
        /// What the trace has, e.g. "4 fences".
        reason: String,
    },
    /// A crash point of an `epochs` recording that is not an instant of the
    /// run (it lies between an epoch's writes and its flushes and fences).
    #[error(
        "crash point {point} (just after seq {seq}) lies inside an epoch of a trace recorded with `--record epochs`: the events there are not in program order, so its images are not states of the run; the nearest instants are seq:{before} and seq:{after}"
    )]
    PointInsideEpoch {
        /// The point, as written.
        point: String,
        /// Where it lies.
        seq: u64,
        /// The instant before it.
        before: u64,
        /// The instant after it.
        after: u64,
    },
    /// An output file cannot be written there (a directory, a missing
    /// directory, no permission).
    #[error("{path}: {reason}")]
    Output {
        /// The output path given.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The writer was used wrongly (for example an event after `power-fail`).
    #[error("{path}: cannot write the trace: {reason}")]
    Writer {
        /// The target file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Result with [`TraceError`].
pub type Result<T, E = TraceError> = std::result::Result<T, E>;

/// Matches the variants that carry a location `at`, by reference or by
/// mutable reference (whatever `$e` is), and yields it.
macro_rules! located_variants {
    ($e:expr) => {
        match $e {
            TraceError::NotATrace { at, .. }
            | TraceError::UnsupportedVersion { at, .. }
            | TraceError::Truncated { at, .. }
            | TraceError::Syntax { at, .. }
            | TraceError::InvalidHeader { at, .. }
            | TraceError::UnknownKind { at, .. }
            | TraceError::SeqOrder { at, .. }
            | TraceError::BadHex { at, .. }
            | TraceError::SizeMismatch { at, .. }
            | TraceError::OutOfRange { at, .. }
            | TraceError::InvalidEvent { at, .. } => Some(at),
            _ => None,
        }
    };
}

impl TraceError {
    /// The location of a content error, if this error has one.
    pub fn location(&self) -> Option<&Location> {
        located_variants!(self)
    }

    pub(crate) fn location_mut(&mut self) -> Option<&mut Location> {
        located_variants!(self)
    }

    /// Sets the location of a content error whose location is still unknown
    /// (errors built away from the file, e.g. by event validation).
    pub fn located(mut self, loc: &Location) -> TraceError {
        if let Some(at) = self.location_mut()
            && at.is_unknown()
        {
            *at = loc.clone();
        }
        self
    }

    /// Turns a location relative to a record that starts at `line`:`column`
    /// of `path` into an absolute one; an unknown location becomes the
    /// record's line.
    pub(crate) fn relocated(
        mut self,
        path: &std::path::Path,
        line: u64,
        column: u64,
    ) -> TraceError {
        if let Some(at) = self.location_mut() {
            let (abs_line, abs_col) = match (at.line, at.column) {
                (Some(rl), Some(rc)) if rl >= 1 => (
                    line + rl - 1,
                    Some(if rl == 1 {
                        column + rc.saturating_sub(1)
                    } else {
                        rc
                    }),
                ),
                _ => (line, None),
            };
            *at = Location::at(path, abs_line, abs_col);
        }
        self
    }

    pub(crate) fn io(path: impl Into<PathBuf>, error: io::Error) -> TraceError {
        TraceError::Io {
            path: path.into(),
            error,
        }
    }

    /// A serde_json error as a located [`TraceError`] (line and column relative
    /// to the parsed slice; the caller shifts them).
    pub(crate) fn json(e: serde_json::Error, what: &str) -> TraceError {
        let at = Location {
            path: None,
            line: Some(e.line() as u64),
            column: Some(e.column() as u64),
        };
        let mut msg = e.to_string();
        // serde_json appends " at line L column C"; we print our own location.
        if let Some(i) = msg.rfind(" at line ") {
            msg.truncate(i);
        }
        match e.classify() {
            serde_json::error::Category::Eof => TraceError::Truncated {
                at,
                reason: format!("{what} cut short: {msg}"),
            },
            serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
                TraceError::Syntax {
                    at,
                    reason: format!("{what}: {msg}"),
                }
            }
            serde_json::error::Category::Data if what == "header" => {
                TraceError::InvalidHeader { at, reason: msg }
            }
            serde_json::error::Category::Data if what == "event" => {
                TraceError::InvalidEvent { at, reason: msg }
            }
            serde_json::error::Category::Data => TraceError::InvalidEvent {
                at,
                reason: format!("{what}: {msg}"),
            },
        }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> TraceError {
        TraceError::InvalidEvent {
            at: Location::default(),
            reason: reason.into(),
        }
    }

    pub(crate) fn range(reason: impl Into<String>) -> TraceError {
        TraceError::OutOfRange {
            at: Location::default(),
            reason: reason.into(),
        }
    }
}
