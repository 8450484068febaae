//! The persistency model of `PERSISTENCY.md` (one vCPU).
//!
//! The model takes the guest's events on the NVDIMM (cached writes, NT
//! writes, flushes, fences, port I/O drain points), each with its sequence
//! number, and keeps just enough state to name every crash image allowed at
//! the current point (see [`crate::crash`]):
//!
//! * per line, the *base*: the content certain in every image (the initial
//!   media, every cached write at or below the lower bound, every committed
//!   NT write), with per byte the sequence number of the write that set it;
//! * per atomicity unit (a line, or an 8-byte word in word mode), the cached
//!   writes above the lower bound `lb` (under eADR: after the last drain
//!   point), the pending `clwb`/`clflushopt` (ADR) and the pending NT writes.
//!
//! Writes at or below the lower bound are folded into the base and dropped,
//! so memory is proportional to what is not yet persistent. Every event is
//! O(1) amortised, except fences and drain points, which are linear in the
//! number of units they touch (each of which had an O(1) event before).

mod config;
mod index;
mod line;
mod state;

use std::collections::HashMap;

pub use config::{Atomicity, FenceKind, FlushKind, LINE_SIZE, ModelConfig, Persistence, WORD_SIZE};
pub(crate) use line::{Base, Line, NtWrite, PendingFlush, Unit, Write};
pub use state::{CachedStatus, FlushInfo, LineState, UnitState};

use crate::DeviceError;

/// A unit: line index (device offset / 64) and unit index within the line.
pub(crate) type UnitRef = (u64, usize);

/// The persistency model. See the module documentation.
///
/// # Example
///
/// A store that is flushed but not fenced may or may not have reached the
/// media when the power fails; the fence makes it certain:
///
/// ```
/// use pmemvm_device::crash::ImageSpec;
/// use pmemvm_device::model::{
///     Atomicity, FenceKind, FlushKind, Model, ModelConfig, Persistence,
/// };
///
/// let mut model = Model::new(ModelConfig {
///     size: 2 << 20,
///     persistence: Persistence::Adr,
///     atomicity: Atomicity::Line,
/// });
/// if model.needs_init(0x40) {
///     model.init_line(0x40, [0; 64]); // the line's media content before the run
/// }
/// model.store(1, 0x40, &[0xaa; 8])?;
/// model.flush(2, FlushKind::Clwb, 0x40)?;
/// assert_eq!(model.count_images(), 2); // with or without the store
/// let lost = model.image(&ImageSpec::Minimal)?;
/// assert_eq!(lost.lines[&0x40][..8], [0; 8]);
/// let kept = model.image(&ImageSpec::Maximal)?;
/// assert_eq!(kept.lines[&0x40][..8], [0xaa; 8]);
///
/// model.fence(3, FenceKind::Sfence);
/// assert_eq!(model.count_images(), 1); // the store is persistent
/// assert_eq!(model.image(&ImageSpec::Minimal)?, kept);
/// # Ok::<(), pmemvm_device::DeviceError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Model {
    config: ModelConfig,
    /// Touched lines, by line index.
    pub(crate) lines: HashMap<u64, Line, index::LineHash>,
    /// The largest sequence number seen.
    last_seq: u64,
    /// eADR: sequence number of the last drain point (0 = none yet).
    pub(crate) last_drain: u64,
    /// ADR: units with a pending `clwb`/`clflushopt`.
    flushed: Vec<UnitRef>,
    /// Units with pending NT writes.
    nt_units: Vec<UnitRef>,
    /// eADR: units with cached writes after the last drain point.
    dirty: Vec<UnitRef>,
}

impl Model {
    /// A model of a device of `config.size` bytes with nothing written yet.
    pub fn new(config: ModelConfig) -> Model {
        Model {
            config,
            lines: HashMap::default(),
            last_seq: 0,
            last_drain: 0,
            flushed: Vec::new(),
            nt_units: Vec::new(),
            dirty: Vec::new(),
        }
    }

    /// The configuration the model was made with.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Size of the atomicity unit in bytes (64 or 8).
    pub fn unit_size(&self) -> u64 {
        self.config.atomicity.unit_size()
    }

    /// Splits a guest store into writes, as [`ModelConfig::split`] does.
    pub fn split(&self, offset: u64, len: u64) -> impl Iterator<Item = (u64, u64)> + use<> {
        self.config.split(offset, len)
    }

    /// True when the line (device offset of any byte in it) has not been
    /// touched yet: the caller must call [`Model::init_line`] first with the
    /// line's media content.
    pub fn needs_init(&self, line_offset: u64) -> bool {
        !self.lines.contains_key(&(line_offset / LINE_SIZE))
    }

    /// Gives the media content of a line before the run (`line_offset` is
    /// the device offset of any byte in it). Does nothing when the line is
    /// already known or lies outside the device.
    pub fn init_line(&mut self, line_offset: u64, content: [u8; 64]) {
        if line_offset >= self.config.size {
            return;
        }
        let units = self.config.atomicity.units_per_line();
        self.lines
            .entry(line_offset / LINE_SIZE)
            .or_insert_with(|| Line::new(content, units));
    }

    /// A cached write of `data` at `offset` (within one unit, line initialised).
    pub fn store(&mut self, seq: u64, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        let (li, ui, off) = self.check_write(seq, offset, data)?;
        let eadr = self.config.persistence == Persistence::Eadr;
        let line = self.line_mut(li)?;
        line.last_cached_seq = seq;
        let unit = &mut line.units[ui];
        let was_clean = unit.hist.is_empty();
        unit.hist.push_back(Write::new(seq, off, data));
        if eadr && was_clean {
            self.dirty.push((li, ui));
        }
        self.last_seq = seq;
        Ok(())
    }

    /// A non-temporal write of `data` at `offset` (within one unit, line initialised).
    pub fn ntstore(&mut self, seq: u64, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        let (li, ui, off) = self.check_write(seq, offset, data)?;
        let line = self.line_mut(li)?;
        let req = line.last_cached_seq;
        let unit = &mut line.units[ui];
        let was_clean = unit.nt.is_empty();
        unit.nt.push(NtWrite {
            write: Write::new(seq, off, data),
            req,
        });
        if was_clean {
            self.nt_units.push((li, ui));
        }
        self.last_seq = seq;
        Ok(())
    }

    /// A locked read-modify-write: its write as a cached write, then a full
    /// fence (and a drain point under eADR, its own write included).
    pub fn rmw(&mut self, seq: u64, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        self.store(seq, offset, data)?;
        self.fence(seq, FenceKind::Rmw);
        Ok(())
    }

    /// A flush of the line holding `offset`. The line need not be touched.
    pub fn flush(&mut self, seq: u64, kind: FlushKind, offset: u64) -> Result<(), DeviceError> {
        self.check_seq(seq)?;
        if offset >= self.config.size {
            return Err(DeviceError::OutOfRange {
                offset,
                len: 1,
                size: self.config.size,
            });
        }
        self.last_seq = seq;
        let li = offset / LINE_SIZE;
        match (self.config.persistence, kind) {
            (Persistence::Eadr, FlushKind::Clflush) => self.collapse(seq),
            (Persistence::Eadr, _) => {}
            (Persistence::Adr, FlushKind::Clflush) => {
                if let Some(line) = self.lines.get_mut(&li) {
                    for unit in &mut line.units {
                        let latest = unit.latest_index();
                        unit.raise(&mut line.base, latest, seq);
                    }
                }
            }
            (Persistence::Adr, _) => {
                if let Some(line) = self.lines.get_mut(&li) {
                    for (ui, unit) in line.units.iter_mut().enumerate() {
                        if unit.hist.is_empty() {
                            continue;
                        }
                        if unit.flush.is_none() {
                            self.flushed.push((li, ui));
                        }
                        unit.flush = Some(PendingFlush {
                            index: unit.latest_index(),
                            seq,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// A fence: commits pending flushes (ADR) and NT writes; a drain point under eADR.
    pub fn fence(&mut self, seq: u64, kind: FenceKind) {
        // Every fence kind has the same persistency effect.
        let _ = kind;
        self.last_seq = self.last_seq.max(seq);
        if self.config.persistence == Persistence::Eadr {
            self.collapse(seq);
        }
        for (li, ui) in std::mem::take(&mut self.flushed) {
            if let Some(line) = self.lines.get_mut(&li) {
                let unit = &mut line.units[ui];
                if let Some(flush) = unit.flush.take() {
                    unit.raise(&mut line.base, flush.index, seq);
                }
            }
        }
        for (li, ui) in std::mem::take(&mut self.nt_units) {
            if let Some(line) = self.lines.get_mut(&li) {
                line.units[ui].commit_nt(&mut line.base);
            }
        }
    }

    /// A port I/O instruction: a drain point under eADR (every cached write
    /// so far becomes persistent); nothing under ADR.
    pub fn drain(&mut self, seq: u64) {
        self.last_seq = self.last_seq.max(seq);
        if self.config.persistence == Persistence::Eadr {
            self.collapse(seq);
        }
    }

    /// Number of writes the model keeps (cached writes above the lower
    /// bound plus pending NT writes): what its memory is proportional to.
    pub fn retained_writes(&self) -> usize {
        self.lines
            .values()
            .flat_map(|l| &l.units)
            .map(|u| u.hist.len() + u.nt.len())
            .sum()
    }

    /// Sequence number of the last eADR drain point (0 = none yet, or ADR).
    pub fn last_drain(&self) -> u64 {
        self.last_drain
    }

    /// eADR drain point: every cached write so far becomes certain.
    fn collapse(&mut self, seq: u64) {
        self.last_drain = seq;
        for (li, ui) in std::mem::take(&mut self.dirty) {
            if let Some(line) = self.lines.get_mut(&li) {
                let unit = &mut line.units[ui];
                let latest = unit.latest_index();
                unit.raise(&mut line.base, latest, seq);
            }
        }
    }

    fn check_seq(&self, seq: u64) -> Result<(), DeviceError> {
        if seq <= self.last_seq {
            return Err(DeviceError::SeqNotIncreasing {
                seq,
                prev: self.last_seq,
            });
        }
        Ok(())
    }

    /// Checks a write; returns its line index, unit index and offset within the line.
    fn check_write(
        &self,
        seq: u64,
        offset: u64,
        data: &[u8],
    ) -> Result<(u64, usize, usize), DeviceError> {
        self.check_seq(seq)?;
        let len = data.len() as u64;
        let size = self.config.size;
        if offset >= size || len > size - offset {
            return Err(DeviceError::OutOfRange { offset, len, size });
        }
        let unit = self.unit_size();
        if len == 0 || offset / unit != (offset + len - 1) / unit {
            return Err(DeviceError::NotOneUnit { offset, len, unit });
        }
        let in_line = offset % LINE_SIZE;
        Ok((
            offset / LINE_SIZE,
            (in_line / unit) as usize,
            in_line as usize,
        ))
    }

    fn line_mut(&mut self, li: u64) -> Result<&mut Line, DeviceError> {
        self.lines
            .get_mut(&li)
            .ok_or(DeviceError::LineNotInitialised {
                line: li * LINE_SIZE,
            })
    }

    /// Touched line indices in ascending order.
    pub(crate) fn sorted_line_indices(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.lines.keys().copied().collect();
        v.sort_unstable();
        v
    }
}

impl ModelConfig {
    /// Splits a guest store `[offset, offset + len)` into writes: at line
    /// boundaries, and also at 8-byte boundaries in word mode. Yields
    /// `(offset, len)` pairs in address order.
    pub fn split(&self, offset: u64, len: u64) -> impl Iterator<Item = (u64, u64)> + use<> {
        let unit = self.atomicity.unit_size();
        let mut pos = offset;
        let end = offset.saturating_add(len);
        std::iter::from_fn(move || {
            if pos >= end {
                return None;
            }
            let next = (pos / unit).saturating_add(1).saturating_mul(unit).min(end);
            let item = (pos, next - pos);
            pos = next;
            Some(item)
        })
    }
}
