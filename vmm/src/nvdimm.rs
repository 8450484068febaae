//! The emulated NVDIMM in a run: its memslot, the setup and recording
//! phases, the event ring, the persistency model, the trace, and the media
//! left behind (after a clean exit or a power failure).
//!
//! While recording, the NVDIMM is mapped read-only at the KVM level, so every
//! guest store exits; the VMM applies it to the guest-visible copy, to the
//! model and to the trace. Flushes, fences, NT stores and locked RMWs come
//! from the guest's event ring, drained at every exit before the exit is
//! handled, so events keep program order.

use crate::error::VmmError;
use crate::replay;
use crate::vm::{SlotFlags, Vm};
use pmemvm_abi::pmem::{self as ring, Entry};
use pmemvm_abi::{MarkArgs, NONE, PromiseArgs, layout};
use pmemvm_device::backing::{Backing, DEFAULT_SIZE, GuestCopy, NvdimmConfig};
use pmemvm_device::crash::ImageSpec;
use pmemvm_device::media::SharedMedia;
use pmemvm_device::model::{Atomicity, LINE_SIZE, Model, ModelConfig, Persistence};
use pmemvm_traces::{
    CrashPoint, DeviceRange, Event, EventKind, Flush, Format, Header, Io, Mark, PointResolver,
    PowerFail, Promise, TraceWriter, Write,
};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::SyncSender;

/// Memslot of the NVDIMM.
const NVDIMM_SLOT: u32 = 1;

/// How the NVDIMM of a run is configured.
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
    /// Where to write the trace, if anywhere.
    pub trace: Option<PathBuf>,
    /// Cut the power there.
    pub power_fail_at: Option<CrashPoint>,
    /// The image the media holds after the power failure.
    pub on_power_fail: ImageSpec,
    /// Content to start from instead of the backing file's (verify mode:
    /// a crash image), of exactly the guest-visible size. The guest gets a
    /// private, copy-on-write mapping of it.
    pub initial_media: Option<Arc<SharedMedia>>,
    /// Hand the final media back in the outcome.
    pub keep_media: bool,
    /// Hand back, in the outcome, the media as the setup phase left it.
    pub keep_setup_media: bool,
    /// Hand the recording, as it happens, to a crash test.
    pub stream: Option<RecordingStream>,
}

/// Where a recording goes as it happens: a crash test walks the events
/// while the guest still runs, without reading the trace back.
#[derive(Debug, Clone)]
pub struct RecordingStream(pub SyncSender<Streamed>);

/// What a recording hands its [`RecordingStream`], in this order.
#[derive(Debug)]
pub enum Streamed {
    /// At the end of the setup phase: the trace header and the media, the
    /// base of every crash image.
    Setup(Box<Header>, Arc<SharedMedia>),
    /// The next events, in order.
    Events(Vec<Event>),
    /// The recording ended: no event follows (the run's teardown may still
    /// hold the stream open).
    End,
}

/// Events per [`Streamed::Events`].
const STREAM_BATCH: usize = 4096;

impl Default for NvdimmOptions {
    fn default() -> Self {
        NvdimmOptions {
            backing: None,
            default_size: DEFAULT_SIZE,
            persistence: Persistence::Adr,
            atomicity: Atomicity::Line,
            trace: None,
            power_fail_at: None,
            on_power_fail: ImageSpec::Minimal,
            initial_media: None,
            keep_media: false,
            keep_setup_media: false,
            stream: None,
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
    /// Read-only at the KVM level: every store is traced.
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
    /// The final media, when asked for with `keep_media`.
    pub media: Option<Vec<u8>>,
    /// The media as the setup phase left it, with `keep_setup_media`.
    pub setup_media: Option<Arc<SharedMedia>>,
}

/// The NVDIMM of one run.
pub struct Nvdimm {
    backing: Backing,
    copy: GuestCopy,
    options: NvdimmOptions,
    names: RunNames,
    phase: Phase,
    model: Model,
    seq: u64,
    trace: Option<TraceWriter>,
    resolver: Option<PointResolver>,
    /// An NT store or RMW announced by the ring, waiting for its store exit.
    announced: Option<Entry>,
    /// The last event was a fence: a doorbell after it adds nothing.
    after_fence: bool,
    /// `keep_setup_media`: the media at the end of the setup phase.
    setup_media: Option<Arc<SharedMedia>>,
    /// The stream, once the setup phase ended (until its reader leaves).
    stream: Option<SyncSender<Streamed>>,
    /// Events not streamed yet.
    batch: Vec<Event>,
}

impl Nvdimm {
    /// Opens the backing file and maps the guest-visible copy.
    pub fn new(options: NvdimmOptions, names: RunNames) -> Result<Nvdimm, VmmError> {
        let backing = match &options.backing {
            Some(cfg) => Backing::open(cfg, layout::MAX_NVDIMM_SIZE)?,
            None => Backing::temporary(options.default_size)?,
        };
        let copy = match &options.initial_media {
            Some(media) => {
                if media.len() as u64 != backing.guest_size() {
                    return Err(VmmError::Config {
                        what: "NVDIMM image".into(),
                        reason: format!(
                            "{} bytes, but the NVDIMM has {} (the same size as the recording is needed)",
                            media.len(),
                            backing.guest_size()
                        ),
                    });
                }
                media.map_private()?
            }
            None => backing.map_guest_copy()?,
        };
        let model = Model::new(ModelConfig {
            size: backing.guest_size(),
            persistence: options.persistence,
            atomicity: options.atomicity,
        });
        if let Some(path) = &options.trace {
            Format::from_path(path)?;
        }
        let resolver = options.power_fail_at.clone().map(PointResolver::new);
        Ok(Nvdimm {
            backing,
            copy,
            options,
            names,
            phase: Phase::Setup,
            model,
            seq: 0,
            trace: None,
            resolver,
            announced: None,
            after_fence: false,
            setup_media: None,
            stream: None,
            batch: Vec::new(),
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
    /// is re-registered read-only, and recording starts.
    pub fn setup_done(&mut self, vm: &Vm) -> Result<Flow, VmmError> {
        if self.phase != Phase::Setup {
            return Err(VmmError::Protocol("setup-done hypercall made twice".into()));
        }
        if !vm.has_readonly_slots() {
            return Err(VmmError::Config {
                what: "KVM".into(),
                reason: "read-only memslots are not supported: stores cannot be traced".into(),
            });
        }
        vm.remove_slot(NVDIMM_SLOT, self.base())?;
        self.register(
            vm,
            SlotFlags {
                readonly: true,
                log_dirty: false,
            },
        )?;
        self.phase = Phase::Recording;
        self.start_trace()?;
        Ok(match &self.resolver {
            Some(r) if r.reached().is_some() => Flow::PowerFail,
            _ => Flow::Continue,
        })
    }

    /// Creates the trace file and starts the stream (each if asked for),
    /// with the current content as the initial media.
    fn start_trace(&mut self) -> Result<(), VmmError> {
        let stream = self.options.stream.clone();
        let media = if self.options.keep_setup_media || stream.is_some() {
            Some(Arc::new(SharedMedia::from_bytes(self.copy.as_slice())?))
        } else {
            None
        };
        let header = (self.options.trace.is_some() || stream.is_some()).then(|| self.header());
        if let (Some(path), Some(header)) = (&self.options.trace, &header) {
            self.trace = Some(TraceWriter::create(path, header)?);
        }
        if let (Some(RecordingStream(s)), Some(header), Some(media)) = (stream, header, &media)
            && s.send(Streamed::Setup(Box::new(header), media.clone()))
                .is_ok()
        {
            self.stream = Some(s);
        }
        if self.options.keep_setup_media {
            self.setup_media = media;
        }
        Ok(())
    }

    /// The trace header: the device, the run's names, the guest and the hash
    /// of the media now.
    fn header(&self) -> Header {
        let hash: [u8; 32] = Sha256::digest(self.copy.as_slice()).into();
        let mut header = Header::new(
            pmemvm_traces::Device {
                base: self.base(),
                size: self.size(),
            },
            match self.options.persistence {
                Persistence::Adr => pmemvm_traces::Persistence::MemCtrl,
                Persistence::Eadr => pmemvm_traces::Persistence::Cpu,
            },
            match self.options.atomicity {
                Atomicity::Line => pmemvm_traces::Atomicity::Line,
                Atomicity::Word => pmemvm_traces::Atomicity::Word,
            },
            self.names.scenario.clone(),
            self.names.variant.clone(),
            self.names.seed,
            hash,
        );
        header.guest = Some(self.names.guest.clone());
        header.guest_sha256 = self.names.guest_sha256;
        header
    }

    /// Records one event: model, trace, crash point.
    fn emit(&mut self, kind: EventKind) -> Result<Flow, VmmError> {
        self.seq += 1;
        let ev = Event::new(self.seq, kind);
        self.after_fence = ev.kind.is_fence();
        replay::apply(&mut self.model, &ev)?;
        if let Some(t) = self.trace.as_mut() {
            t.write(&ev)?;
        }
        if self.stream.is_some() {
            self.batch.push(ev.clone());
            if self.batch.len() == STREAM_BATCH {
                self.send_batch();
            }
        }
        let reached = self.resolver.as_mut().is_some_and(|r| r.observe(&ev));
        Ok(if reached {
            Flow::PowerFail
        } else {
            Flow::Continue
        })
    }

    /// Drains the guest's event ring (at every exit, before handling it).
    pub fn drain_ring(&mut self, vm: &Vm) -> Result<Flow, VmmError> {
        if !self.recording() {
            return Ok(Flow::Continue);
        }
        let header = vm
            .read(layout::PMEM_RING, 16)
            .ok_or_else(|| VmmError::Protocol("event ring outside guest RAM".into()))?;
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
        let (head, tail) = (word(&header[..8]), word(&header[8..16]));
        if head < tail || head - tail > ring::ENTRIES {
            return Err(VmmError::Protocol(format!(
                "corrupt event ring: head {head}, tail {tail} (at most {} entries)",
                ring::ENTRIES
            )));
        }
        let mut flow = Flow::Continue;
        for i in tail..head {
            let at = layout::PMEM_RING + 16 + (i % ring::ENTRIES) * 16;
            let raw = vm
                .read(at, 16)
                .ok_or_else(|| VmmError::Protocol("event ring outside guest RAM".into()))?;
            let entry = Entry {
                kind: u32::from_le_bytes(raw[..4].try_into().unwrap_or([0; 4])),
                size: u32::from_le_bytes(raw[4..8].try_into().unwrap_or([0; 4])),
                addr: word(&raw[8..16]),
            };
            if flow == Flow::Continue {
                flow = self.ring_entry(entry)?;
            }
        }
        vm.write(layout::PMEM_RING + 8, &head.to_le_bytes())?;
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
            ring::CLWB => self.emit(EventKind::Clwb(flush(self, "clwb")?)),
            ring::CLFLUSHOPT => self.emit(EventKind::ClflushOpt(flush(self, "clflushopt")?)),
            ring::CLFLUSH => self.emit(EventKind::Clflush(flush(self, "clflush")?)),
            ring::SFENCE => self.emit(EventKind::Sfence),
            ring::MFENCE => self.emit(EventKind::Mfence),
            ring::NTSTORE | ring::RMW => {
                if !matches!(e.size, 1 | 2 | 4 | 8) {
                    return Err(VmmError::Protocol(format!(
                        "event ring: {} of {} bytes",
                        kind_name(e.kind),
                        e.size
                    )));
                }
                self.offset_of(e.addr, kind_name(e.kind))?;
                self.announced = Some(e);
                Ok(Flow::Continue)
            }
            other => Err(VmmError::Protocol(format!(
                "event ring: unknown entry kind {other}"
            ))),
        }
    }

    /// A guest store that exited on the read-only slot: apply it and trace it.
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
        for (part_off, part_len) in self
            .model
            .split(offset, data.len() as u64)
            .collect::<Vec<_>>()
        {
            if flow == Flow::PowerFail {
                // The power is off: the rest of the store never happened.
                break;
            }
            let bytes = data[done..done + part_len as usize].to_vec();
            done += part_len as usize;
            let line = part_off & !(LINE_SIZE - 1);
            let mut write = Write::new(self.base() + part_off, part_off, bytes.clone(), rip);
            if self.model.needs_init(line) {
                let l = line as usize;
                let mut init = [0u8; LINE_SIZE as usize];
                init.copy_from_slice(&self.copy.as_slice()[l..l + LINE_SIZE as usize]);
                write = write.with_init(init);
            }
            let p = part_off as usize;
            self.copy.as_mut_slice()[p..p + bytes.len()].copy_from_slice(&bytes);
            let ev = match kind {
                Some(ring::NTSTORE) => EventKind::NtStore(write),
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
        let range = opt(a.range_offset).map(|offset| DeviceRange {
            offset,
            len: a.range_len,
        });
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
            ranges: vec![DeviceRange {
                offset: a.range_offset,
                len: a.range_len,
            }],
        }))
    }

    /// The run ended with an exit status: every write reaches the media
    /// (an orderly shutdown), unless the crash point is `end`.
    pub fn finish(mut self, power_failed: bool) -> Result<MediaOutcome, VmmError> {
        let at_end = matches!(self.options.power_fail_at, Some(CrashPoint::End));
        let mut power_failure = None;
        if (power_failed || at_end) && self.recording() {
            let point = self
                .options
                .power_fail_at
                .clone()
                .unwrap_or(CrashPoint::End);
            let spec = self.model.resolve(&self.options.on_power_fail);
            let image = self.model.image(&spec)?;
            image.apply(self.copy.as_mut_slice());
            let name = spec.to_string();
            self.seq += 1;
            let ev = Event::new(
                self.seq,
                EventKind::PowerFail(PowerFail {
                    point: point.clone(),
                    image: Some(name.clone()),
                }),
            );
            if let Some(t) = self.trace.as_mut() {
                t.write(&ev)?;
            }
            power_failure = Some((point, name));
        } else if let Some(point) = &self.options.power_fail_at
            && !power_failed
        {
            let reason = match &self.resolver {
                Some(r) => r.finish().err().map(|e| e.to_string()),
                None => None,
            }
            .unwrap_or_else(|| {
                format!("the guest never started recording, so {point} was not reached")
            });
            return Err(VmmError::Config {
                what: format!("--power-fail-at {point}"),
                reason,
            });
        }
        if !self.recording() {
            // The guest never started recording: an empty trace says so.
            self.start_trace()?;
        }
        self.send_batch();
        if let Some(s) = self.stream.take() {
            let _ = s.send(Streamed::End);
        }
        self.backing.write_media(self.copy.as_slice())?;
        let trace = match self.trace.take() {
            Some(t) => Some(t.finish()?),
            None => None,
        };
        let media = self
            .options
            .keep_media
            .then(|| self.copy.as_slice().to_vec());
        Ok(MediaOutcome {
            events: self.seq,
            power_failure,
            trace,
            media,
            setup_media: self.setup_media.take(),
        })
    }

    /// Hands the events not streamed yet to the stream; a stream whose
    /// reader left (a crash test that stopped) is dropped.
    fn send_batch(&mut self) {
        let events = std::mem::take(&mut self.batch);
        if let Some(s) = &self.stream
            && !events.is_empty()
            && s.send(Streamed::Events(events)).is_err()
        {
            log::debug!("the recording's reader left; streaming stops");
            self.stream = None;
        }
    }
}

fn kind_name(kind: u32) -> &'static str {
    match kind {
        ring::CLWB => "clwb",
        ring::CLFLUSHOPT => "clflushopt",
        ring::CLFLUSH => "clflush",
        ring::SFENCE => "sfence",
        ring::MFENCE => "mfence",
        ring::RMW => "locked RMW",
        ring::NTSTORE => "NT store",
        _ => "unknown operation",
    }
}
