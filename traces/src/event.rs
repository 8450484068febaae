//! Trace events: one [`Event`] (a sequence number and an [`EventKind`]) per
//! traced guest operation, and their JSON form.
//!
//! JSON form: one flat object per event, `seq` and `kind` first, then the
//! fields of that kind (see `SCHEMA.md`). Addresses and offsets are `0x…` hex
//! strings; sizes, lengths, counts and ids are numbers; bytes are lowercase hex.

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Location, Result, TraceError};
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
    /// port I/O instructions: `io`, `mark`, `promise`.
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
        Event { seq, kind }
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

// ---------------------------------------------------------------- JSON form

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("seq", &self.seq)?;
        m.serialize_entry("kind", self.kind.name())?;
        match &self.kind {
            EventKind::Store(w) | EventKind::NtStore(w) | EventKind::Rmw(w) => {
                m.serialize_entry("addr", &hex::format_addr(w.addr))?;
                m.serialize_entry("offset", &hex::format_addr(w.offset))?;
                m.serialize_entry("size", &w.size())?;
                m.serialize_entry("data", &hex::encode(&w.data))?;
                m.serialize_entry("rip", &hex::format_addr(w.rip))?;
                if let Some(init) = &w.init {
                    m.serialize_entry("init", &hex::encode(&init[..]))?;
                }
            }
            EventKind::Clwb(f) | EventKind::ClflushOpt(f) | EventKind::Clflush(f) => {
                m.serialize_entry("addr", &hex::format_addr(f.addr))?;
                m.serialize_entry("offset", &hex::format_addr(f.offset))?;
                m.serialize_entry("line", &hex::format_addr(f.line))?;
            }
            EventKind::Sfence | EventKind::Mfence => {}
            EventKind::Io(io) => {
                m.serialize_entry("port", &hex::format_addr(u64::from(io.port)))?
            }
            EventKind::Mark(mk) => {
                m.serialize_entry("label", &mk.label)?;
                if let Some(file) = mk.file {
                    m.serialize_entry("file", &file)?;
                }
                if let Some(page) = mk.page {
                    m.serialize_entry("page", &page)?;
                }
                if let Some(op) = mk.op {
                    m.serialize_entry("op", &op)?;
                }
                if let Some(range) = &mk.range {
                    m.serialize_entry("range", range)?;
                }
            }
            EventKind::Promise(p) => {
                m.serialize_entry("file", &p.file)?;
                m.serialize_entry("offset", &hex::format_addr(p.offset))?;
                m.serialize_entry("len", &p.len)?;
                m.serialize_entry("op", &p.op)?;
                m.serialize_entry("ranges", &p.ranges)?;
            }
            EventKind::PowerFail(pf) => {
                m.serialize_entry("point", &pf.point.to_string())?;
                if let Some(image) = &pf.image {
                    m.serialize_entry("image", image)?;
                }
            }
        }
        m.end()
    }
}

/// The flat JSON object of any event, before it is checked against its kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEvent {
    seq: u64,
    kind: String,
    addr: Option<String>,
    offset: Option<String>,
    size: Option<u64>,
    data: Option<String>,
    rip: Option<String>,
    init: Option<String>,
    line: Option<String>,
    port: Option<String>,
    label: Option<String>,
    file: Option<u64>,
    page: Option<u64>,
    op: Option<u64>,
    len: Option<u64>,
    range: Option<DeviceRange>,
    ranges: Option<Vec<DeviceRange>>,
    point: Option<String>,
    image: Option<String>,
}

/// Just the `kind` of an event object, to report an unknown kind before
/// complaining about fields that kind might have.
#[derive(Debug, Deserialize)]
pub(crate) struct KindProbe {
    pub(crate) kind: Option<String>,
}

fn unknown_kind(kind: &str) -> TraceError {
    let known = KIND_NAMES.join(", ");
    TraceError::UnknownKind {
        at: Location::default(),
        kind: kind.to_string(),
        known,
    }
}

/// True when `kind` names an event kind of this version.
pub(crate) fn is_known_kind(kind: &str) -> bool {
    KIND_NAMES.contains(&kind)
}

impl RawEvent {
    /// Names of the optional fields present.
    fn present(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let mut add = |cond: bool, name: &'static str| {
            if cond {
                v.push(name);
            }
        };
        add(self.addr.is_some(), "addr");
        add(self.offset.is_some(), "offset");
        add(self.size.is_some(), "size");
        add(self.data.is_some(), "data");
        add(self.rip.is_some(), "rip");
        add(self.init.is_some(), "init");
        add(self.line.is_some(), "line");
        add(self.port.is_some(), "port");
        add(self.label.is_some(), "label");
        add(self.file.is_some(), "file");
        add(self.page.is_some(), "page");
        add(self.op.is_some(), "op");
        add(self.len.is_some(), "len");
        add(self.range.is_some(), "range");
        add(self.ranges.is_some(), "ranges");
        add(self.point.is_some(), "point");
        add(self.image.is_some(), "image");
        v
    }

    fn only(&self, allowed: &[&str]) -> Result<()> {
        if let Some(extra) = self.present().into_iter().find(|f| !allowed.contains(f)) {
            return Err(TraceError::invalid(format!(
                "field `{extra}` does not belong in a `{}` event",
                self.kind
            )));
        }
        Ok(())
    }

    fn need<'a, T>(&self, v: &'a Option<T>, field: &str) -> Result<&'a T> {
        v.as_ref().ok_or_else(|| {
            TraceError::invalid(format!("`{}` event lacks field `{field}`", self.kind))
        })
    }

    fn hex_field(&self, v: &Option<String>, field: &'static str) -> Result<u64> {
        hex::parse_addr_field(self.need(v, field)?, field)
    }

    fn write(&self) -> Result<Write> {
        self.only(&["addr", "offset", "size", "data", "rip", "init"])?;
        let data = hex::decode_field(self.need(&self.data, "data")?, "data")?;
        let size = *self.need(&self.size, "size")?;
        if size != data.len() as u64 {
            return Err(TraceError::SizeMismatch {
                at: Location::default(),
                size,
                data_len: data.len() as u64,
            });
        }
        if size == 0 {
            return Err(TraceError::invalid("a write of 0 bytes"));
        }
        let init = match &self.init {
            Some(s) => Some(Box::new(hex::decode_array::<{ LINE_SIZE as usize }>(
                s, "init",
            )?)),
            None => None,
        };
        Ok(Write {
            addr: self.hex_field(&self.addr, "addr")?,
            offset: self.hex_field(&self.offset, "offset")?,
            data,
            rip: self.hex_field(&self.rip, "rip")?,
            init,
        })
    }

    fn flush(&self) -> Result<Flush> {
        self.only(&["addr", "offset", "line"])?;
        Ok(Flush {
            addr: self.hex_field(&self.addr, "addr")?,
            offset: self.hex_field(&self.offset, "offset")?,
            line: self.hex_field(&self.line, "line")?,
        })
    }

    /// Checks the fields against the kind and decodes them.
    pub(crate) fn into_event(self) -> Result<Event> {
        let kind = match self.kind.as_str() {
            "store" => EventKind::Store(self.write()?),
            "ntstore" => EventKind::NtStore(self.write()?),
            "rmw" => EventKind::Rmw(self.write()?),
            "clwb" => EventKind::Clwb(self.flush()?),
            "clflushopt" => EventKind::ClflushOpt(self.flush()?),
            "clflush" => EventKind::Clflush(self.flush()?),
            "sfence" => {
                self.only(&[])?;
                EventKind::Sfence
            }
            "mfence" => {
                self.only(&[])?;
                EventKind::Mfence
            }
            "io" => {
                self.only(&["port"])?;
                let port = self.hex_field(&self.port, "port")?;
                let port = u16::try_from(port).map_err(|_| {
                    TraceError::range(format!("port {} is above 0xffff", hex::format_addr(port)))
                })?;
                EventKind::Io(Io { port })
            }
            "mark" => {
                self.only(&["label", "file", "page", "op", "range"])?;
                let label = self.need(&self.label, "label")?.clone();
                if label.is_empty() {
                    return Err(TraceError::invalid("a mark with an empty label"));
                }
                EventKind::Mark(Mark {
                    label,
                    file: self.file,
                    page: self.page,
                    op: self.op,
                    range: self.range,
                })
            }
            "promise" => {
                self.only(&["file", "offset", "len", "op", "ranges"])?;
                EventKind::Promise(Promise {
                    file: *self.need(&self.file, "file")?,
                    offset: self.hex_field(&self.offset, "offset")?,
                    len: *self.need(&self.len, "len")?,
                    op: *self.need(&self.op, "op")?,
                    ranges: self.need(&self.ranges, "ranges")?.clone(),
                })
            }
            "power-fail" => {
                self.only(&["point", "image"])?;
                let text = self.need(&self.point, "point")?;
                let point = text
                    .parse::<CrashPoint>()
                    .map_err(|e| TraceError::invalid(format!("`point`: {e}")))?;
                if let Some(image) = &self.image
                    && image.is_empty()
                {
                    return Err(TraceError::invalid("`image` is empty"));
                }
                EventKind::PowerFail(PowerFail {
                    point,
                    image: self.image.clone(),
                })
            }
            other => return Err(unknown_kind(other)),
        };
        Ok(Event {
            seq: self.seq,
            kind,
        })
    }
}

/// Parses one event object (any JSON layout) and checks it on its own, without
/// the header: field set, hex, `size` against `data`. Errors carry the column
/// of serde's complaint when it is JSON-level, an unknown location otherwise.
pub(crate) fn parse_event(bytes: &[u8]) -> Result<Event> {
    match serde_json::from_slice::<RawEvent>(bytes) {
        Ok(raw) => raw.into_event(),
        Err(e) => {
            // An unknown kind is reported as such, not as "unknown field".
            if let Ok(KindProbe { kind: Some(kind) }) = serde_json::from_slice::<KindProbe>(bytes)
                && !is_known_kind(&kind)
            {
                return Err(unknown_kind(&kind));
            }
            Err(TraceError::json(e, "event"))
        }
    }
}

impl<'de> Deserialize<'de> for Event {
    /// Deserializes and checks an event on its own (no header checks).
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Event, D::Error> {
        RawEvent::deserialize(d)?
            .into_event()
            .map_err(D::Error::custom)
    }
}
