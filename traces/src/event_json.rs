//! The JSON form of [`Event`]s: one flat object per event, `seq` and `kind`
//! first, then the fields of that kind (see `SCHEMA.md`). Addresses and
//! offsets are `0x…` hex strings; sizes, lengths, counts and ids are numbers;
//! bytes are lowercase hex.
//!
//! Reading checks each event on its own (field set, hex, `size` against
//! `data`); the checks against the header are the validator's.

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Location, Result, TraceError};
use crate::event::{
    DeviceRange, Event, EventKind, Flush, Io, KIND_NAMES, Mark, PowerFail, Promise, Write,
};
use crate::hex;
use crate::point::CrashPoint;
use pmemvm_abi::persistence::LINE_SIZE;

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
        if self.epoch_end {
            m.serialize_entry("epoch_end", &true)?;
        }
        m.end()
    }
}

/// The flat JSON object of any event, before it is checked against its kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
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
    #[serde(default)]
    epoch_end: bool,
}

/// Just the `kind` of an event object, to report an unknown kind before
/// complaining about fields that kind might have.
#[derive(Debug, Deserialize)]
struct KindProbe {
    kind: Option<String>,
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
fn is_known_kind(kind: &str) -> bool {
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
                "field `{}` does not belong in a `{}` event",
                pmemvm_abi::shown::Shown(extra),
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
    fn into_event(self) -> Result<Event> {
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
            epoch_end: self.epoch_end,
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
