//! The emulated NVDIMM in a run: its memslot, the setup and recording
//! phases, the event ring, the persistency model, the trace, and the media
//! left behind (after a clean exit or a power failure).
//!
//! Two ways of recording ([`Recording`]):
//!
//! * `stores`: the NVDIMM is mapped read-only at the KVM level, so every
//!   guest store exits; the VMM applies it to the guest-visible copy, to the
//!   model and to the trace. Flushes, fences, NT stores and locked RMWs come
//!   from the guest's event ring, drained at every exit before the exit is
//!   handled, so events keep program order.
//! * `epochs`: the NVDIMM stays writable with dirty logging, so stores run
//!   natively. At every exit the VMM writes the units the epoch changed
//!   ([`epoch`]), then the ring's events, then the exit's own event, and
//!   marks the last of them `epoch_end`.

mod epoch;
pub mod ring;
mod sinks;

use crate::error::VmmError;
use crate::run_kind::RunKind;
use crate::vm::{SlotFlags, Vm};
use bit_set::BitSet;
use pmemvm_abi::pmem::{self as ring_abi, Entry};
use pmemvm_abi::{MarkArgs, NONE, PromiseArgs, layout};
use pmemvm_device::backing::{Backing, DEFAULT_SIZE, GuestCopy, NvdimmConfig};
use pmemvm_device::media::SharedMedia;
use pmemvm_device::model::{Atomicity, LINE_SIZE, ModelConfig, Persistence};
use pmemvm_traces::{
    CrashPoint, DeviceRange, Event, EventKind, Flush, Header, Io, Mark, Promise, Recording, Write,
};
use ring::kind_name;
use sha2::{Digest, Sha256};
use sinks::Sinks;
use std::path::PathBuf;
use std::sync::Arc;

/// Memslot of the NVDIMM.
const NVDIMM_SLOT: u32 = 1;

/// The NVDIMM of a run: its backing file and its persistence model.
#[derive(Debug, Clone)]
pub struct NvdimmOptions {
    /// The backing file (`--nvdimm`), or a temporary one of `default_size`.
    pub backing: Option<NvdimmConfig>,
    /// Size of the temporary NVDIMM used without a backing file.
    pub default_size: u64,
    /// ADR (`mem-ctrl`) or eADR (`cpu`).
    pub persistence: Persistence,
    /// Line or word atomicity.
    pub atomicity: Atomicity,
    /// How stores are recorded.
    pub recording: Recording,
}

impl Default for NvdimmOptions {
    fn default() -> Self {
        NvdimmOptions {
            backing: None,
            default_size: DEFAULT_SIZE,
            persistence: Persistence::Adr,
            atomicity: Atomicity::Line,
            recording: Recording::Stores,
        }
    }
}

/// Names recorded in the trace header.
#[derive(Debug, Clone)]
pub struct RunNames {
    /// Scenario.
    pub scenario: String,
    /// Variant.
    pub variant: String,
    /// Seed.
    pub seed: u64,
    /// The guest, as the trace header names it ([`pmemvm_traces::Header::guest`]).
    pub guest: String,
    /// SHA-256 of a guest file's ELF ([`pmemvm_traces::Header::guest_sha256`]).
    pub guest_sha256: Option<[u8; 32]>,
}

/// What the guest is doing with the NVDIMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Writable, untraced.
    Setup,
    /// Traced: read-only at the KVM level (`stores`), or dirty-logged (`epochs`).
    Recording,
}

/// Whether the run goes on after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep running.
    Continue,
    /// The crash point was reached: cut the power.
    PowerFail,
    /// Verify mode reached its snapshot point.
    Snapshot,
}

/// How the media ended up, for the run's outcome.
#[derive(Debug, Clone)]
pub struct MediaOutcome {
    /// Events recorded.
    pub events: u64,
    /// The crash point and the explicit image of the power failure, if one happened.
    pub power_failure: Option<(CrashPoint, String)>,
    /// Where the trace was written.
    pub trace: Option<PathBuf>,
    /// The media as the setup phase left it, for the run kinds that keep it
    /// ([`RunKind::CrashTest`], [`RunKind::CaptureSetup`]).
    pub setup_media: Option<Arc<SharedMedia>>,
}

/// The NVDIMM of one run: the front end that turns exits into events (the
/// memslot, the event ring, stores split into atomic units) and hands them
/// to the sinks the run kind asks for.
pub struct Nvdimm {
    backing: Backing,
    copy: GuestCopy,
    config: ModelConfig,
    names: RunNames,
    phase: Phase,
    seq: u64,
    /// Lines written since recording started (the first write of a line
    /// carries its content before the run).
    touched: BitSet,
    /// An NT store or RMW announced by the ring, waiting for its store exit.
    announced: Option<Entry>,
    /// The last event was a fence: a doorbell after it adds nothing.
    after_fence: bool,
    /// How stores are recorded.
    recording: Recording,
    /// `epochs`: the media at the last exit, once recording started.
    shadow: Option<epoch::Shadow>,
    /// `epochs`: the events of the current exit, written by [`Nvdimm::end_exit`].
    pending: Vec<EventKind>,
    sinks: Sinks,
}

impl Nvdimm {
    /// Opens the backing file and maps the guest-visible copy (of the crash
    /// image, in verify mode).
    pub fn new(
        options: &NvdimmOptions,
        names: RunNames,
        kind: &RunKind,
    ) -> Result<Nvdimm, VmmError> {
        let backing = match &options.backing {
            Some(cfg) => Backing::open(cfg, layout::MAX_NVDIMM_SIZE)?,
            None => Backing::temporary(options.default_size)?,
        };
        let copy = match kind {
            RunKind::Verify { image, .. } => {
                if image.len() as u64 != backing.guest_size() {
                    return Err(VmmError::Config {
                        what: "NVDIMM image".into(),
                        reason: format!(
                            "{} bytes, but the NVDIMM has {} (the same size as the recording is needed)",
                            image.len(),
                            backing.guest_size()
                        ),
                    });
                }
                image.map_private()?
            }
            _ => backing.map_guest_copy()?,
        };
        if let Some(path) = kind.trace() {
            pmemvm_traces::Format::from_path(path)?;
        }
        let config = ModelConfig {
            size: backing.guest_size(),
            persistence: options.persistence,
            atomicity: options.atomicity,
        };
        Ok(Nvdimm {
            backing,
            copy,
            sinks: Sinks::new(kind, config),
            config,
            names,
            phase: Phase::Setup,
            seq: 0,
            touched: BitSet::new(),
            announced: None,
            after_fence: false,
            recording: options.recording,
            shadow: None,
            pending: Vec::new(),
        })
    }

    /// Guest-physical base.
    pub fn base(&self) -> u64 {
        layout::NVDIMM_BASE
    }

    /// Size the guest sees.
    pub fn size(&self) -> u64 {
        self.backing.guest_size()
    }

    /// True while stores are traced.
    pub fn recording(&self) -> bool {
        self.phase == Phase::Recording
    }

    /// Registers the NVDIMM memslot, writable, for the setup phase (and
    /// for verify mode, with dirty logging so a reused VM can restore it).
    pub fn attach(&mut self, vm: &Vm, log_dirty: bool) -> Result<(), VmmError> {
        self.register(
            vm,
            SlotFlags {
                readonly: false,
                log_dirty,
            },
        )
    }

    /// Registers the NVDIMM memslot with `flags`.
    fn register(&self, vm: &Vm, flags: SlotFlags) -> Result<(), VmmError> {
        // SAFETY: the copy stays mapped as long as `self`, which the session
        // drops after the VM; `self` lives on the vCPU thread and looks at the
        // copy between runs only (the contract of `GuestCopy`).
        unsafe {
            vm.set_slot(
                NVDIMM_SLOT,
                self.base(),
                self.copy.as_ptr(),
                self.size(),
                flags,
            )
        }
    }

    /// Memslot number of the NVDIMM.
    pub fn slot(&self) -> u32 {
        NVDIMM_SLOT
    }

    /// The guest-visible content, for a reused VM to restore and change.
    pub fn media_mut(&mut self) -> &mut [u8] {
        self.copy.as_mut_slice()
    }

    /// Ends the setup phase: the content becomes the initial media, the slot
    /// is re-registered read-only (`stores`) or dirty-logged (`epochs`), and
    /// recording starts.
    pub fn setup_done(&mut self, vm: &Vm) -> Result<Flow, VmmError> {
        if self.phase != Phase::Setup {
            return Err(VmmError::Protocol("setup-done hypercall made twice".into()));
        }
        let epochs = self.recording == Recording::Epochs;
        if !epochs && !vm.has_readonly_slots() {
            return Err(VmmError::Config {
                what: "KVM".into(),
                reason: "read-only memslots are not supported: stores cannot be traced (`--record epochs` needs only dirty logging)".into(),
            });
        }
        vm.remove_slot(NVDIMM_SLOT, self.base())?;
        self.register(
            vm,
            SlotFlags {
                readonly: !epochs,
                log_dirty: epochs,
            },
        )?;
        if epochs {
            self.shadow = Some(epoch::Shadow::new(
                self.copy.as_slice(),
                self.config.atomicity,
            ));
        }
        self.phase = Phase::Recording;
        let recording = self.recording;
        let header = || {
            let mut h = header(&self.config, &self.names, self.copy.as_slice());
            h.recording = recording;
            h
        };
        self.sinks.start(header, self.copy.as_slice())
    }

    /// Records one event (`epochs`: at the end of the exit).
    fn emit(&mut self, kind: EventKind) -> Result<Flow, VmmError> {
        self.after_fence = kind.is_fence();
        if self.shadow.is_some() {
            self.pending.push(kind);
            return Ok(Flow::Continue);
        }
        self.seq += 1;
        self.sinks.event(Event::new(self.seq, kind))
    }

    /// `epochs`: the exit has been handled; writes its events, the last one
    /// marked `epoch_end`. Stops at the crash point, which must be an
    /// instant of the run (an epoch end, or just before a fence that ends
    /// the epoch under ADR). Nothing to do in `stores` mode.
    pub fn end_exit(&mut self) -> Result<Flow, VmmError> {
        let events = std::mem::take(&mut self.pending);
        let adr = self.config.persistence == Persistence::Adr;
        let start = self.seq;
        let end = start + events.len() as u64;
        let closing_fence =
            adr && matches!(events.last(), Some(EventKind::Sfence | EventKind::Mfence));
        let mut kinds = events.into_iter().peekable();
        while let Some(kind) = kinds.next() {
            self.seq += 1;
            let last = kinds.peek().is_none();
            let mut ev = Event::new(self.seq, kind);
            if last {
                ev = ev.ending_epoch();
            }
            if self.sinks.event(ev)? == Flow::PowerFail {
                let before_closing_fence = closing_fence && self.seq + 1 == end;
                if !last && !before_closing_fence {
                    return Err(pmemvm_traces::TraceError::PointInsideEpoch {
                        point: self
                            .sinks
                            .cut_point()
                            .map(ToString::to_string)
                            .unwrap_or_default(),
                        seq: self.seq,
                        before: start,
                        after: if closing_fence { end - 1 } else { end },
                    }
                    .into());
                }
                return Ok(Flow::PowerFail);
            }
        }
        Ok(Flow::Continue)
    }

    /// Drains the guest's event ring (at every exit, before handling it).
    /// Outside recording (the setup phase, verify mode) the entries are
    /// dropped: nothing is traced there, and entries left in the ring would
    /// overflow it (a setup flushing more lines than it holds) or reach the
    /// recording (a setup's NT store would look announced, never executed).
    pub fn drain_ring(&mut self, vm: &Vm) -> Result<Flow, VmmError> {
        let entries = ring::take(vm)?;
        if !self.recording() {
            return Ok(Flow::Continue);
        }
        if self.shadow.is_some() {
            self.epoch(vm, entries)?;
            return Ok(Flow::Continue);
        }
        let mut flow = Flow::Continue;
        for entry in entries {
            if flow == Flow::Continue {
                flow = self.ring_entry(entry)?;
            }
        }
        Ok(flow)
    }

    /// Device offset of a guest-physical address the guest named.
    fn offset_of(&self, addr: u64, what: &str) -> Result<u64, VmmError> {
        addr.checked_sub(self.base())
            .filter(|o| *o < self.size())
            .ok_or_else(|| {
                VmmError::Protocol(format!(
                    "{what} at {addr:#x}, outside the NVDIMM [{:#x}, {:#x})",
                    self.base(),
                    self.base() + self.size()
                ))
            })
    }

    /// `epochs`: the units the epoch changed, then the ring's events.
    ///
    /// The order of an NT store and a cached store to the same bytes inside
    /// an epoch is unknown, and either reading of it as an NT write could
    /// allow an image the hardware cannot produce. So a line an NT store
    /// wrote is written as cached stores (covering the NT store's bytes,
    /// changed or not) followed by a `clwb` of the line at the NT store's
    /// address: what the NT store guarantees (durable after the next
    /// fence), never more. Lost: the images where the NT bytes persist
    /// without the line's older cached writes (`traces/CRASH-POINTS.md`, "Epoch
    /// recording").
    fn epoch(&mut self, vm: &Vm, entries: Vec<Entry>) -> Result<(), VmmError> {
        let pages = vm.dirty_pages(NVDIMM_SLOT, self.size())?;
        let mut nt = Vec::new();
        // The first NT store's address in each line it wrote.
        let mut nt_lines = std::collections::BTreeMap::new();
        for e in &entries {
            if matches!(e.kind, ring_abi::NTSTORE | ring_abi::RMW) {
                let off = self.announced_range(e)?;
                if e.kind == ring_abi::NTSTORE {
                    nt.push((off, u64::from(e.size)));
                    nt_lines.entry(off & !(LINE_SIZE - 1)).or_insert(e.addr);
                }
            }
        }
        let changes = match self.shadow.as_mut() {
            Some(shadow) => shadow.changes(self.copy.as_slice(), &pages, &nt),
            None => Vec::new(),
        };
        for c in changes {
            let write = self.traced_write(c.offset, c.data, 0, &c.line_before);
            self.emit(EventKind::Store(write))?;
        }
        for addr in nt_lines.into_values() {
            self.emit(EventKind::Clwb(Flush::new(addr, addr - self.base())))?;
        }
        for e in entries {
            match e.kind {
                ring_abi::NTSTORE => {}
                ring_abi::RMW => {
                    let offset = self.offset_of(e.addr, "locked RMW")?;
                    for (part_off, part_len) in self.config.split(offset, u64::from(e.size)) {
                        let p = part_off as usize;
                        let data = self.copy.as_slice()[p..p + part_len as usize].to_vec();
                        let line = self.line_at(part_off);
                        let write = self.traced_write(part_off, data, 0, &line);
                        self.emit(EventKind::Rmw(write))?;
                    }
                }
                _ => {
                    self.ring_entry(e)?;
                }
            }
        }
        Ok(())
    }

    /// The line holding `offset` as the copy has it now.
    fn line_at(&self, offset: u64) -> [u8; LINE_SIZE as usize] {
        let l = (offset & !(LINE_SIZE - 1)) as usize;
        let mut line = [0u8; LINE_SIZE as usize];
        line.copy_from_slice(&self.copy.as_slice()[l..l + LINE_SIZE as usize]);
        line
    }

    /// The device offset of an NT store or RMW the ring announced, checked:
    /// 1, 2, 4 or 8 bytes inside the device.
    fn announced_range(&self, e: &Entry) -> Result<u64, VmmError> {
        if !matches!(e.size, 1 | 2 | 4 | 8) {
            return Err(VmmError::Protocol(format!(
                "event ring: {} of {} bytes",
                kind_name(e.kind),
                e.size
            )));
        }
        let off = self.offset_of(e.addr, kind_name(e.kind))?;
        if off + u64::from(e.size) > self.size() {
            return Err(VmmError::Protocol(format!(
                "event ring: {} at {:#x} runs past the NVDIMM",
                kind_name(e.kind),
                e.addr
            )));
        }
        Ok(off)
    }

    /// A traced write of `data` at device offset `offset` by the instruction
    /// at `rip` (0: unknown), carrying `line` (the line's content before
    /// the write) as `init` when it is the first write to its line.
    fn traced_write(
        &mut self,
        offset: u64,
        data: Vec<u8>,
        rip: u64,
        line: &[u8; LINE_SIZE as usize],
    ) -> Write {
        let write = Write::new(self.base() + offset, offset, data, rip);
        if self.touched.insert((offset / LINE_SIZE) as usize) {
            write.with_init(*line)
        } else {
            write
        }
    }

    fn ring_entry(&mut self, e: Entry) -> Result<Flow, VmmError> {
        if let Some(a) = self.announced {
            return Err(VmmError::Protocol(format!(
                "event ring: {} announced at {:#x} but not executed before the next recorded operation",
                kind_name(a.kind),
                a.addr
            )));
        }
        let flush = |this: &Self, what| -> Result<Flush, VmmError> {
            let off = this.offset_of(e.addr, what)?;
            Ok(Flush::new(e.addr, off))
        };
        match e.kind {
            ring_abi::CLWB => self.emit(EventKind::Clwb(flush(self, "clwb")?)),
            ring_abi::CLFLUSHOPT => self.emit(EventKind::ClflushOpt(flush(self, "clflushopt")?)),
            ring_abi::CLFLUSH => self.emit(EventKind::Clflush(flush(self, "clflush")?)),
            ring_abi::SFENCE => self.emit(EventKind::Sfence),
            ring_abi::MFENCE => self.emit(EventKind::Mfence),
            ring_abi::NTSTORE | ring_abi::RMW => {
                self.announced_range(&e)?;
                self.announced = Some(e);
                Ok(Flow::Continue)
            }
            other => Err(VmmError::Protocol(format!(
                "event ring: unknown entry kind {other}"
            ))),
        }
    }

    /// A guest store that exited on the read-only slot: apply it and trace
    /// it, one event per atomic unit it covers.
    pub fn store(&mut self, gpa: u64, data: &[u8], rip: u64) -> Result<Flow, VmmError> {
        let offset = self.offset_of(gpa, "store")?;
        if offset + data.len() as u64 > self.size() {
            return Err(VmmError::Protocol(format!(
                "store at {gpa:#x} runs past the NVDIMM"
            )));
        }
        // The announced kind (NT store or RMW), or `None` for a plain store.
        let kind = match self.announced.take() {
            None => None,
            Some(a) if a.addr == gpa && a.size as usize == data.len() => Some(a.kind),
            Some(a) => {
                return Err(VmmError::Protocol(format!(
                    "event ring announced {} of {} bytes at {:#x}, but the next store was {} bytes at {gpa:#x}",
                    kind_name(a.kind),
                    a.size,
                    a.addr,
                    data.len()
                )));
            }
        };
        let mut flow = Flow::Continue;
        let mut done = 0usize;
        for (part_off, part_len) in self.config.split(offset, data.len() as u64) {
            if flow == Flow::PowerFail {
                // The power is off: the rest of the store never happened.
                break;
            }
            let bytes = data[done..done + part_len as usize].to_vec();
            done += part_len as usize;
            let line = self.line_at(part_off);
            let p = part_off as usize;
            self.copy.as_mut_slice()[p..p + bytes.len()].copy_from_slice(&bytes);
            let write = self.traced_write(part_off, bytes, rip, &line);
            let ev = match kind {
                Some(ring_abi::NTSTORE) => EventKind::NtStore(write),
                Some(_) => EventKind::Rmw(write),
                None => EventKind::Store(write),
            };
            flow = self.emit(ev)?;
        }
        Ok(flow)
    }

    /// A port I/O instruction during recording (a drain point under eADR).
    /// A doorbell right after a fence adds nothing and is not recorded.
    pub fn io(&mut self, port: u16, doorbell: bool) -> Result<Flow, VmmError> {
        if !self.recording() || (doorbell && self.after_fence) {
            return Ok(Flow::Continue);
        }
        self.emit(EventKind::Io(Io { port }))
    }

    /// A mark from the guest.
    pub fn mark(&mut self, label: String, a: &MarkArgs) -> Result<Flow, VmmError> {
        if !self.recording() {
            return Ok(Flow::Continue);
        }
        let opt = |v: u64| (v != NONE).then_some(v);
        let range = opt(a.range_offset)
            .map(|offset| self.guest_range(offset, a.range_len, "mark range"))
            .transpose()?;
        let mut mark = Mark::new(label);
        mark.file = opt(a.file);
        mark.page = opt(a.page);
        mark.op = opt(a.op);
        mark.range = range;
        self.emit(EventKind::Mark(mark))
    }

    /// A durability promise from the guest.
    pub fn promise(&mut self, a: &PromiseArgs) -> Result<Flow, VmmError> {
        if !self.recording() {
            return Err(VmmError::Protocol("promise made outside recording".into()));
        }
        self.emit(EventKind::Promise(Promise {
            file: a.file,
            offset: a.offset,
            len: a.len,
            op: a.op,
            ranges: vec![self.guest_range(a.range_offset, a.range_len, "promise range")?],
        }))
    }

    /// A non-empty range of the device the guest named.
    fn guest_range(&self, offset: u64, len: u64, what: &str) -> Result<DeviceRange, VmmError> {
        let inside = offset
            .checked_add(len)
            .is_some_and(|end| len > 0 && end <= self.size());
        if !inside {
            return Err(VmmError::Protocol(format!(
                "{what} {offset:#x}+{len} is empty or outside the NVDIMM of {} bytes",
                self.size()
            )));
        }
        Ok(DeviceRange { offset, len })
    }

    /// The run ended with an exit status or a power failure: every write
    /// reaches the media (an orderly shutdown), unless the power was cut;
    /// the media goes back to the backing file (with `share=on`).
    pub fn finish(mut self, power_failed: bool) -> Result<MediaOutcome, VmmError> {
        let recording = self.recording();
        let power_failure =
            self.sinks
                .cut_power(power_failed, recording, self.seq, self.copy.as_mut_slice())?;
        if power_failure.is_some() {
            self.seq += 1;
        }
        if !recording {
            // The guest never started recording: an empty trace says so.
            let header = || header(&self.config, &self.names, self.copy.as_slice());
            self.sinks.start(header, self.copy.as_slice())?;
        }
        self.backing.write_media(self.copy.as_slice())?;
        let closed = self.sinks.close()?;
        Ok(MediaOutcome {
            events: self.seq,
            power_failure,
            trace: closed.trace,
            setup_media: closed.setup_media,
        })
    }
}

/// The trace header: the device, the run's names, the guest and the hash
/// of `media` (the media now).
fn header(config: &ModelConfig, names: &RunNames, media: &[u8]) -> Header {
    let hash: [u8; 32] = Sha256::digest(media).into();
    let mut header = Header::new(
        pmemvm_traces::Device {
            base: layout::NVDIMM_BASE,
            size: config.size,
        },
        config.persistence,
        config.atomicity,
        names.scenario.clone(),
        names.variant.clone(),
        names.seed,
        hash,
    );
    header.guest = Some(names.guest.clone());
    header.guest_sha256 = names.guest_sha256;
    header
}
