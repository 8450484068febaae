//! Trace events: one [`Event`] (a sequence number and an [`EventKind`]) per
//! traced guest operation. Their JSON form is `event_json`'s business.

use serde::{Deserialize, Serialize};

use crate::hex;
use crate::point::CrashPoint;
use pmemvm_abi::persistence::LINE_SIZE;

/// One traced operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Sequence number: 1 for the first event, then 2, 3, … without gaps.
    pub seq: u64,
    /// What happened.
    pub kind: EventKind,
    /// In an `epochs` recording: the event ends an epoch (the VMM wrote it at
    /// a guest exit, and nothing happened between it and that exit), so the
    /// point just after it is an instant of the run. Always false in a
    /// `stores` recording; JSON `"epoch_end": true`, absent when false.
    pub epoch_end: bool,
}

/// The kinds of events; the JSON `kind` is given on each variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// `store`: an ordinary (cached) write.
    Store(Write),
    /// `ntstore`: a non-temporal write (`movnti`, `memcpy_nt`).
    NtStore(Write),
    /// `rmw`: a locked read-modify-write (`xchg`, `lock …`): its write is a
    /// cached write, and it is a full fence.
    Rmw(Write),
    /// `clwb`: write back a line, keep it cached.
    Clwb(Flush),
    /// `clflushopt`: write back and invalidate a line, weakly ordered.
    ClflushOpt(Flush),
    /// `clflush`: write back and invalidate a line, ordered (needs no fence).
    Clflush(Flush),
    /// `sfence`.
    Sfence,
    /// `mfence`.
    Mfence,
    /// `io`: a port I/O instruction of the guest (a drain point under eADR).
    Io(Io),
    /// `mark`: a label the guest puts in the trace (also a port I/O, so a drain point).
    Mark(Mark),
    /// `promise`: what the guest declares durable from now on.
    Promise(Promise),
    /// `power-fail`: the power failure injected at a crash point; always last.
    PowerFail(PowerFail),
}

/// The fields of `store`, `ntstore` and `rmw`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// Guest-physical address of the first byte.
    pub addr: u64,
    /// Device offset of the first byte.
    pub offset: u64,
    /// The bytes written, in memory order; `size` in JSON is their count.
    /// A write never crosses a line (nor, in word atomicity, an 8-byte word).
    pub data: Vec<u8>,
    /// Guest RIP of the instruction.
    pub rip: u64,
    /// The line's content before the run: present on the first write
    /// (of any of the three kinds) to each line, absent on later ones.
    pub init: Option<Box<[u8; LINE_SIZE as usize]>>,
}

impl Write {
    /// A write without `init`.
    pub fn new(addr: u64, offset: u64, data: Vec<u8>, rip: u64) -> Write {
        Write {
            addr,
            offset,
            data,
            rip,
            init: None,
        }
    }

    /// The same write carrying the line's initial content.
    pub fn with_init(mut self, init: [u8; LINE_SIZE as usize]) -> Write {
        self.init = Some(Box::new(init));
        self
    }

    /// Number of bytes written.
    pub fn size(&self) -> u64 {
        self.data.len() as u64
    }

    /// Device offset of the line written.
    pub fn line(&self) -> u64 {
        self.offset & !(LINE_SIZE - 1)
    }
}

/// The fields of `clwb`, `clflushopt` and `clflush`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flush {
    /// Guest-physical address operand of the instruction.
    pub addr: u64,
    /// Device offset of that address.
    pub offset: u64,
    /// Device offset of the line flushed (`offset` rounded down to 64).
    pub line: u64,
}

impl Flush {
    /// The flush of the line holding device offset `offset`, at `addr`.
    pub fn new(addr: u64, offset: u64) -> Flush {
        Flush {
            addr,
            offset,
            line: offset & !(LINE_SIZE - 1),
        }
    }
}

/// The fields of `io`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Io {
    /// The I/O port.
    pub port: u16,
}

/// A range of device offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRange {
    /// First device offset (hex string in JSON).
    #[serde(with = "hex::addr")]
    pub offset: u64,
    /// Length in bytes (a number, at least 1).
    pub len: u64,
}

impl DeviceRange {
    /// True when the range contains the device offset.
    pub fn contains(&self, offset: u64) -> bool {
        offset >= self.offset && offset - self.offset < self.len
    }

    /// True when the range and `[offset, offset + len)` share a byte.
    pub fn overlaps(&self, offset: u64, len: u64) -> bool {
        offset < self.offset.saturating_add(self.len) && self.offset < offset.saturating_add(len)
    }
}

/// The fields of `mark`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mark {
    /// The label (non-empty). Crash points name marks by label: `mark:LABEL#K`.
    pub label: String,
    /// The guest file concerned (inode number in the bundled agent).
    pub file: Option<u64>,
    /// The file page concerned (page index in the file).
    pub page: Option<u64>,
    /// The guest operation this mark belongs to (matches `promise.op`).
    pub op: Option<u64>,
    /// The device range concerned.
    pub range: Option<DeviceRange>,
}

impl Mark {
    /// A mark with a label only.
    pub fn new(label: impl Into<String>) -> Mark {
        Mark {
            label: label.into(),
            ..Mark::default()
        }
    }
}

/// The fields of `promise`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promise {
    /// The guest file (inode number in the bundled agent).
    pub file: u64,
    /// First byte of the file promised durable.
    pub offset: u64,
    /// Number of bytes promised.
    pub len: u64,
    /// The guest operation (e.g. the fsync) that made the promise.
    pub op: u64,
    /// The device ranges holding those bytes (may be empty).
    pub ranges: Vec<DeviceRange>,
}

/// The fields of `power-fail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerFail {
    /// The crash point the failure was injected at.
    pub point: CrashPoint,
    /// The image the media was set to (image grammar, e.g. `minimal`), if recorded.
    pub image: Option<String>,
}

/// Every kind name, in the order of [`EventKind`].
pub const KIND_NAMES: [&str; 12] = [
    "store",
    "ntstore",
    "rmw",
    "clwb",
    "clflushopt",
    "clflush",
    "sfence",
    "mfence",
    "io",
    "mark",
    "promise",
    "power-fail",
];

impl EventKind {
    /// The JSON `kind` name.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Store(_) => "store",
            EventKind::NtStore(_) => "ntstore",
            EventKind::Rmw(_) => "rmw",
            EventKind::Clwb(_) => "clwb",
            EventKind::ClflushOpt(_) => "clflushopt",
            EventKind::Clflush(_) => "clflush",
            EventKind::Sfence => "sfence",
            EventKind::Mfence => "mfence",
            EventKind::Io(_) => "io",
            EventKind::Mark(_) => "mark",
            EventKind::Promise(_) => "promise",
            EventKind::PowerFail(_) => "power-fail",
        }
    }

    /// The write of a `store`, `ntstore` or `rmw`.
    pub fn write(&self) -> Option<&Write> {
        match self {
            EventKind::Store(w) | EventKind::NtStore(w) | EventKind::Rmw(w) => Some(w),
            _ => None,
        }
    }

    /// The flush of a `clwb`, `clflushopt` or `clflush`.
    pub fn flush(&self) -> Option<&Flush> {
        match self {
            EventKind::Clwb(f) | EventKind::ClflushOpt(f) | EventKind::Clflush(f) => Some(f),
            _ => None,
        }
    }

    /// True for `store`, `ntstore` and `rmw` (counted by `store:K`).
    pub fn is_store_like(&self) -> bool {
        self.write().is_some()
    }

    /// True for `sfence`, `mfence` and `rmw` (counted by `fence:K`).
    pub fn is_fence(&self) -> bool {
        matches!(
            self,
            EventKind::Sfence | EventKind::Mfence | EventKind::Rmw(_)
        )
    }

    /// True for the drain points of eADR: fences, `rmw`, `clflush`, and the
    /// port I/O instructions: `io`, `mark`, `promise`. Under eADR every
    /// cached write before a drain point is persistent after it. This is the
    /// one statement of the rule: the point selector, the line tracker and
    /// the VMM's replay into the device model all ask here.
    pub fn is_drain_point(&self) -> bool {
        self.is_fence()
            || matches!(
                self,
                EventKind::Clflush(_)
                    | EventKind::Io(_)
                    | EventKind::Mark(_)
                    | EventKind::Promise(_)
            )
    }

    /// Device offset of the line a write or flush concerns.
    pub fn line(&self) -> Option<u64> {
        match self {
            EventKind::Store(w) | EventKind::NtStore(w) | EventKind::Rmw(w) => Some(w.line()),
            EventKind::Clwb(f) | EventKind::ClflushOpt(f) | EventKind::Clflush(f) => Some(f.line),
            _ => None,
        }
    }
}

impl Event {
    /// An event.
    pub fn new(seq: u64, kind: EventKind) -> Event {
        Event {
            seq,
            kind,
            epoch_end: false,
        }
    }

    /// The same event, marked as the end of an epoch.
    pub fn ending_epoch(mut self) -> Event {
        self.epoch_end = true;
        self
    }

    /// A hand-written run as a valid event list: numbered from 1, with an
    /// all-zero `init` on the first write to each line (the initial media
    /// of a trace written from scratch).
    pub fn numbered(kinds: Vec<EventKind>) -> Vec<Event> {
        let mut seen = std::collections::HashSet::new();
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, mut k)| {
                if let EventKind::Store(w) | EventKind::NtStore(w) | EventKind::Rmw(w) = &mut k
                    && seen.insert(w.line())
                {
                    w.init = Some(Box::new([0; 64]));
                }
                Event::new(i as u64 + 1, k)
            })
            .collect()
    }
}
