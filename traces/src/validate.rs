//! Checks of an event against the header and the events before it: numbering,
//! device bounds, address/offset agreement, line alignment, `init` on first
//! writes, nothing after `power-fail`. The writer and the reader share it, so
//! whatever the writer writes the reader accepts.

use std::collections::HashSet;

use crate::error::{Result, TraceError};
use crate::event::{DeviceRange, Event, EventKind, Flush, Write};
use crate::header::{Header, Recording};
use crate::hex::format_addr;
use pmemvm_abi::hc;
use pmemvm_abi::persistence::{Atomicity, LINE_SIZE};

/// Validation state over one trace.
#[derive(Debug, Clone)]
pub(crate) struct Validator {
    base: u64,
    size: u64,
    atomicity: Atomicity,
    recording: Recording,
    last_seq: u64,
    power_failed: bool,
    /// Lines written so far (their `init` has been given).
    lines: HashSet<u64>,
}

impl Validator {
    pub(crate) fn new(header: &Header) -> Validator {
        Validator {
            base: header.device.base,
            size: header.device.size,
            atomicity: header.atomicity,
            recording: header.recording,
            last_seq: 0,
            power_failed: false,
            lines: HashSet::new(),
        }
    }

    /// Number of events accepted so far.
    pub(crate) fn events(&self) -> u64 {
        self.last_seq
    }

    /// Checks `ev` and, when it is valid, records it.
    pub(crate) fn check(&mut self, ev: &Event) -> Result<()> {
        let expected = self.last_seq + 1;
        if ev.seq != expected {
            return Err(TraceError::SeqOrder {
                at: Default::default(),
                found: ev.seq,
                expected,
            });
        }
        if self.power_failed {
            return Err(TraceError::invalid(format!(
                "event seq {} follows the power failure (`power-fail` is the last event)",
                ev.seq
            )));
        }
        if ev.epoch_end && self.recording != Recording::Epochs {
            return Err(TraceError::invalid(format!(
                "event seq {} has `epoch_end` in a trace the header says was recorded by stores",
                ev.seq
            )));
        }
        match &ev.kind {
            EventKind::Store(w) | EventKind::NtStore(w) | EventKind::Rmw(w) => {
                self.check_write(ev.kind.name(), w)?
            }
            EventKind::Clwb(f) | EventKind::ClflushOpt(f) | EventKind::Clflush(f) => {
                self.check_flush(f)?
            }
            EventKind::Mark(m) => {
                if m.label.len() as u64 > hc::MAX_LABEL_LEN {
                    return Err(TraceError::range(format!(
                        "a mark label of {} bytes (at most {})",
                        m.label.len(),
                        hc::MAX_LABEL_LEN
                    )));
                }
                if let Some(r) = &m.range {
                    self.check_range(r, "mark `range`")?;
                }
            }
            EventKind::Promise(p) => {
                for r in &p.ranges {
                    self.check_range(r, "promise range")?;
                }
            }
            EventKind::PowerFail(_) => self.power_failed = true,
            EventKind::Sfence | EventKind::Mfence | EventKind::Io(_) => {}
        }
        self.last_seq = ev.seq;
        Ok(())
    }

    fn check_offset(&self, addr: u64, offset: u64, len: u64) -> Result<()> {
        if offset.checked_add(len).is_none_or(|end| end > self.size) {
            return Err(TraceError::range(format!(
                "device offset {} (+{len} bytes) lies outside the device of {} bytes",
                format_addr(offset),
                self.size
            )));
        }
        if self.base.checked_add(offset) != Some(addr) {
            return Err(TraceError::invalid(format!(
                "`addr` {} is not device base {} + `offset` {}",
                format_addr(addr),
                format_addr(self.base),
                format_addr(offset)
            )));
        }
        Ok(())
    }

    fn check_write(&mut self, kind: &str, w: &Write) -> Result<()> {
        self.check_offset(w.addr, w.offset, w.size())?;
        let unit = self.atomicity.unit_size();
        if w.offset / unit != (w.offset + w.size() - 1) / unit {
            return Err(TraceError::invalid(format!(
                "a {}-byte {kind} at {} crosses a {unit}-byte boundary (writes are split at {})",
                w.size(),
                format_addr(w.offset),
                if unit == LINE_SIZE {
                    "lines"
                } else {
                    "8-byte words"
                }
            )));
        }
        let line = w.line();
        let first = !self.lines.contains(&line);
        match (first, w.init.is_some()) {
            (true, false) => {
                return Err(TraceError::invalid(format!(
                    "first write to line {} lacks `init` (the line's initial 64 bytes)",
                    format_addr(line)
                )));
            }
            (false, true) => {
                return Err(TraceError::invalid(format!(
                    "`init` repeated: line {} was written before",
                    format_addr(line)
                )));
            }
            _ => {}
        }
        self.lines.insert(line);
        Ok(())
    }

    fn check_flush(&self, f: &Flush) -> Result<()> {
        self.check_offset(f.addr, f.offset, 1)?;
        if f.line != f.offset & !(LINE_SIZE - 1) {
            return Err(TraceError::invalid(format!(
                "`line` {} is not the line of `offset` {} (expected {})",
                format_addr(f.line),
                format_addr(f.offset),
                format_addr(f.offset & !(LINE_SIZE - 1))
            )));
        }
        Ok(())
    }

    fn check_range(&self, r: &DeviceRange, what: &str) -> Result<()> {
        if r.len == 0 {
            return Err(TraceError::invalid(format!(
                "{what} at {} is empty",
                format_addr(r.offset)
            )));
        }
        if r.offset
            .checked_add(r.len)
            .is_none_or(|end| end > self.size)
        {
            return Err(TraceError::range(format!(
                "{what} {}+{} lies outside the device of {} bytes",
                format_addr(r.offset),
                r.len,
                self.size
            )));
        }
        Ok(())
    }
}
