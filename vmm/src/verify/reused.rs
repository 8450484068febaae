//! A VM kept to verify many crash images, one after the other.
//!
//! Creating a VM per image costs milliseconds; instead the verifier boots the
//! guest once in verify mode and snapshots it at the guest's snapshot
//! hypercall (booted, about to read its crash image). The snapshot copies
//! only the RAM pages written since the VM was made (dirty log and the
//! VMM's own writes; the others read as zeros), and the NVDIMM is a private copy-on-write mapping of the shared
//! base media, so making a verifier copies neither. For each image it then
//! restores only what the last run changed:
//! * the RAM pages KVM's dirty log reports, from the snapshot;
//! * the full vCPU state: registers, special registers, FPU/SSE, MSRs and
//!   pending events;
//! * the NVDIMM pages the guest wrote (dirty log), from the base media;
//!
//! and, when the run changed a page table, re-registers the RAM memslot,
//! without which PVM keeps shadow page tables built from the old RAM
//! (PLATFORM.md: 199 wrong runs out of 200). Then it turns the last image
//! into the new one, writing only the lines that differ (the base back
//! under the lines the new image lacks), and runs the guest to its verdict.
//!
//! After the second run, the RAM pages it wrote, when they are many and
//! close together, become a window KVM does not log and the verifier
//! restores whole after every run (`hot_window`).

use super::hot_window;

use crate::console_tail::ConsoleTail;
use crate::devices::Devices;
use crate::error::VmmError;
use crate::exits::{self, ExitStats, RunEnd};
use crate::guest_report::Verdict;
use crate::nvdimm::Nvdimm;
use crate::run_kind::RunKind;
use crate::session::{self, RunConfig, Started};
use crate::verify_input::VerifyInput;
use crate::vm::{RamSnapshot, VcpuState, Vm};
use crate::watchdog::Watchdog;
use pmemvm_abi::{Mode, layout};
use pmemvm_device::crash::Image;
use pmemvm_device::media::SharedMedia;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PAGE: u64 = 4096;

/// RAM the verifier restores whole after every run (KVM does not log it).
struct Window {
    /// First page number.
    first: u64,
    /// Its content at the snapshot.
    bytes: Vec<u8>,
    /// Page numbers of the page tables in it.
    tables: Vec<u64>,
}

/// The VM state at the snapshot point.
struct Snapshot {
    ram: RamSnapshot,
    /// Page numbers of the page-table pages reachable from CR3.
    page_tables: HashSet<u64>,
    vcpu: VcpuState,
}

/// Where a verifier's time goes, summed over its runs.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Timings {
    /// Making the VM, booting it to the snapshot point, taking the snapshot,
    /// warming it up ([`Verifier::warm_up`]).
    pub boot: Duration,
    /// Restoring dirty RAM pages and the vCPU state.
    pub restore_ram: Duration,
    /// Re-registering the RAM memslot.
    pub reregister: Duration,
    /// Restoring dirty NVDIMM pages and applying the image's lines.
    pub media: Duration,
    /// Running the guest to its verdict.
    pub guest: Duration,
}

impl std::ops::AddAssign for Timings {
    fn add_assign(&mut self, o: Timings) {
        self.boot += o.boot;
        self.restore_ram += o.restore_ram;
        self.reregister += o.reregister;
        self.media += o.media;
        self.guest += o.guest;
    }
}

/// A reusable verify-mode VM.
pub struct Verifier {
    vm: Vm,
    nvdimm: Option<Nvdimm>,
    base: Arc<SharedMedia>,
    verify_at: u64,
    verify_capacity: usize,
    max_promises: usize,
    timeout_secs: u64,
    snapshot: Option<Snapshot>,
    window: Option<Window>,
    /// The last image's lines (device offset, content; ascending) that the
    /// media holds.
    applied: Vec<(u64, [u8; 64])>,
    last_verdict: Option<Verdict>,
    runs: u64,
    timings: Timings,
    watchdog: Option<Watchdog>,
    exits: ExitStats,
}

impl Verifier {
    /// Boots `config`'s guest in verify mode on `base` (the initial media),
    /// with room for `max_promises` promises.
    pub fn new(
        config: &RunConfig,
        base: Arc<SharedMedia>,
        max_promises: usize,
    ) -> Result<Verifier, VmmError> {
        let device_size = config
            .nvdimm
            .backing
            .as_ref()
            .map_or(config.nvdimm.default_size, |b| b.guest_size());
        let input = VerifyInput::capacity(max_promises, device_size);
        let verify_capacity = input.to_bytes().len();
        let config = RunConfig {
            kind: RunKind::Verify {
                image: base.clone(),
                input,
            },
            ..config.clone()
        };
        let begin = Instant::now();
        let Started {
            vm,
            nvdimm,
            verify_at,
        } = session::start(&config, true)?;
        Ok(Verifier {
            vm,
            nvdimm: Some(nvdimm),
            base,
            verify_at,
            verify_capacity,
            max_promises,
            timeout_secs: config.timeout_secs,
            snapshot: None,
            window: None,
            applied: Vec::new(),
            last_verdict: None,
            runs: 0,
            timings: Timings {
                boot: begin.elapsed(),
                ..Timings::default()
            },
            watchdog: None,
            exits: ExitStats::default(),
        })
    }

    /// Runs the guest on the base media, without promises, until the
    /// verifier has settled (snapshot taken, unlogged window chosen, KVM's
    /// tables rebuilt after the memslots changed), so that the first images
    /// pay none of it. Counted as boot time.
    pub fn warm_up(&mut self) -> Result<(), VmmError> {
        // Boot and first run, the run whose writes choose the window, and
        // the first run on the new memslots.
        const RUNS: usize = 3;
        let (image, input) = (Image::default(), VerifyInput::default());
        for _ in 0..RUNS {
            // A guest that fails here (or hangs until the time limit) will
            // be reported on the images; no need to wait for it again.
            if !self.verify(&image, &input)?.passed {
                break;
            }
        }
        let t = self.timings;
        self.timings = Timings {
            boot: t.boot + t.restore_ram + t.reregister + t.media + t.guest,
            ..Timings::default()
        };
        Ok(())
    }

    /// The VM itself (tests change its vCPU's state, as a guest in ring 0
    /// could, to check that the next image's run starts from the snapshot).
    pub fn vm(&mut self) -> &mut Vm {
        &mut self.vm
    }

    /// The RAM restored whole after every run (guest-physical bytes), once
    /// chosen.
    pub fn unlogged_window(&self) -> Option<std::ops::Range<u64>> {
        self.window
            .as_ref()
            .map(|w| w.first * PAGE..w.first * PAGE + w.bytes.len() as u64)
    }

    /// The most promises an image's verification may carry.
    pub fn max_promises(&self) -> usize {
        self.max_promises
    }

    /// Images verified so far.
    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// Exits of all runs so far.
    pub fn exits(&self) -> ExitStats {
        self.exits
    }

    /// Where the time went so far.
    pub fn timings(&self) -> Timings {
        self.timings
    }

    /// Verifies one crash image given as the lines it changes from the base.
    pub fn verify(&mut self, image: &Image, input: &VerifyInput) -> Result<Verdict, VmmError> {
        let bytes = input.to_bytes();
        if bytes.len() > self.verify_capacity {
            return Err(VmmError::Internal(format!(
                "{} promises, but the verifier was made for fewer",
                input.promises.len()
            )));
        }
        let t = Instant::now();
        if self.snapshot.is_some() {
            self.restore()?;
        } else if self.run_guest()? != RunEnd::Snapshot {
            return Err(VmmError::Protocol(
                "the guest ended before its verify-mode snapshot point".into(),
            ));
        } else {
            self.snapshot = Some(self.take_snapshot()?);
            self.timings.boot += t.elapsed();
        }
        self.vm.write(self.verify_at, &bytes)?;
        let t = Instant::now();
        self.apply(image)?;
        self.timings.media += t.elapsed();
        let t = Instant::now();
        let mut console = ConsoleTail::default();
        let outcome = loop {
            match self.run_guest_with(&mut console) {
                Ok(RunEnd::Snapshot) => continue,
                other => break other,
            }
        };
        self.runs += 1;
        self.timings.guest += t.elapsed();
        let run = outcome.map(|_| self.take_verdict());
        Verdict::of_run(run, || {
            format!(
                "the guest exited without a verdict: {}",
                console.text().trim()
            )
        })
    }

    fn run_guest(&mut self) -> Result<RunEnd, VmmError> {
        self.run_guest_with(&mut std::io::sink())
    }

    fn run_guest_with(&mut self, console: &mut dyn std::io::Write) -> Result<RunEnd, VmmError> {
        let nvdimm = self
            .nvdimm
            .take()
            .ok_or_else(|| VmmError::Internal("verifier used after a failure".into()))?;
        let mut devices = Devices::new(console, Mode::Verify, nvdimm);
        let limit = Duration::from_secs(self.timeout_secs);
        let watchdog = match self.watchdog.take() {
            Some(w) => {
                w.rearm(limit);
                w
            }
            None => {
                Watchdog::start(limit).map_err(|e| VmmError::Internal(format!("watchdog: {e}")))?
            }
        };
        let end = exits::run(
            &mut self.vm,
            &mut devices,
            &watchdog,
            self.timeout_secs,
            &mut self.exits,
            &mut || {},
        );
        watchdog.disarm();
        self.watchdog = Some(watchdog);
        self.last_verdict = devices.verdict.take();
        self.nvdimm = Some(devices.nvdimm);
        end
    }

    fn take_verdict(&mut self) -> Option<Verdict> {
        self.last_verdict.take()
    }

    fn nvdimm(&mut self) -> Result<&mut Nvdimm, VmmError> {
        self.nvdimm
            .as_mut()
            .ok_or_else(|| VmmError::Internal("verifier used after a failure".into()))
    }

    fn take_snapshot(&mut self) -> Result<Snapshot, VmmError> {
        // Also starts the RAM's dirty log afresh at the snapshot.
        let ram = RamSnapshot::take(&self.vm)?;
        let (slot, size) = {
            let n = self.nvdimm()?;
            (n.slot(), n.size())
        };
        self.vm.dirty_pages(slot, size)?;
        let vcpu = self.vm.save_vcpu()?;
        Ok(Snapshot {
            page_tables: ram.page_tables(self.vm.ram_size(), vcpu.cr3()),
            ram,
            vcpu,
        })
    }

    /// A self-check for tests: prepares the VM for `image` as before a
    /// run (snapshot state restored, image applied) and lists what differs
    /// from a fresh VM's state: RAM pages unlike the snapshot, vCPU state
    /// (XCRs, debug registers, MSRs) unlike the snapshot's, NVDIMM lines
    /// unlike the base media with the image's lines.
    pub fn check_restore(&mut self, image: &Image) -> Result<Vec<String>, VmmError> {
        self.restore()?;
        self.apply(image)?;
        let snap = self
            .snapshot
            .as_ref()
            .ok_or_else(|| VmmError::Internal("no snapshot to compare with".into()))?;
        let mut wrong: Vec<String> = (0..self.vm.ram_size() / PAGE)
            .filter(|&p| !self.vm.holds(p * PAGE, snap.ram.page(p)))
            .map(|p| format!("RAM page {:#x}", p * PAGE))
            .collect();
        let vcpu = self.vm.save_vcpu()?;
        let snap = self
            .snapshot
            .as_ref()
            .ok_or_else(|| VmmError::Internal("no snapshot to compare with".into()))?;
        wrong.extend(vcpu.differences(&snap.vcpu));
        let mut want = self.base.as_slice().to_vec();
        image.apply(&mut want);
        let media = self.nvdimm()?.media_mut();
        wrong.extend(
            media
                .chunks(64)
                .zip(want.chunks(64))
                .enumerate()
                .filter(|(_, (have, want))| have != want)
                .map(|(i, _)| format!("NVDIMM line {:#x}", i * 64)),
        );
        Ok(wrong)
    }

    /// Puts the VM back in its snapshot state.
    fn restore(&mut self) -> Result<(), VmmError> {
        let t = Instant::now();
        let written = self.vm.ram_dirty_pages()?;
        log::trace!("written RAM pages: {written:x?}");
        let tables_touched = self.restore_ram_and_vcpu(&written)?;
        self.timings.restore_ram += t.elapsed();
        let t = Instant::now();
        // The first run also reports pages it only read (KVM logs the
        // first access after the snapshot); the second shows the steady state.
        if self.runs == 2 && self.window.is_none() {
            self.open_window(&written)?;
        }
        if tables_touched {
            self.vm.register_ram()?;
        }
        self.timings.reregister += t.elapsed();
        let t = Instant::now();
        self.restore_media()?;
        self.timings.media += t.elapsed();
        Ok(())
    }

    /// Stops logging the densest run of the RAM pages the second run wrote
    /// (`written`), if there is one; registers the RAM memslots again.
    fn open_window(&mut self, written: &[u64]) -> Result<(), VmmError> {
        let snap = self
            .snapshot
            .as_ref()
            .ok_or_else(|| VmmError::Internal("no snapshot to restore".into()))?;
        let data: Vec<u64> = written
            .iter()
            .copied()
            .filter(|p| !snap.page_tables.contains(p))
            .collect();
        let Some(pages) = hot_window::choose(&data, self.vm.ram_size() / PAGE) else {
            return Ok(());
        };
        log::debug!(
            "unlogged RAM window: pages {:#x}..{:#x}",
            pages.start,
            pages.end
        );
        let window = Window {
            first: pages.start,
            bytes: pages
                .clone()
                .flat_map(|p| snap.ram.page(p))
                .copied()
                .collect(),
            tables: pages
                .clone()
                .filter(|p| snap.page_tables.contains(p))
                .collect(),
        };
        self.vm
            .set_unlogged_window(pages.start * PAGE..pages.end * PAGE)?;
        self.window = Some(window);
        Ok(())
    }

    /// The RAM pages the last run dirtied (`written`: those KVM logged),
    /// the unlogged window, and the vCPU state. Returns
    /// whether the run changed a page that was a page table at the
    /// snapshot: then KVM's shadow of the tables is stale once the VMM
    /// writes the old content back, and the RAM memslot must be registered
    /// again. (A table the run created hangs from one that existed at the
    /// snapshot, which the run then changed too.) A table page the dirty
    /// log names but whose content is unchanged (rewritten with the same
    /// entries) leaves the shadow right.
    fn restore_ram_and_vcpu(&mut self, written: &[u64]) -> Result<bool, VmmError> {
        let snap = self
            .snapshot
            .as_ref()
            .ok_or_else(|| VmmError::Internal("no snapshot to restore".into()))?;
        let mut pages = written.to_vec();
        // Pages the VMM itself writes (KVM does not log those).
        let verify_end = self.verify_at + self.verify_capacity as u64;
        pages.extend([layout::MAILBOX / PAGE, layout::PMEM_RING / PAGE]);
        pages.extend(self.verify_at / PAGE..verify_end.div_ceil(PAGE));
        // A page table at the snapshot whose content the run changed.
        let table_changed = |page: u64| {
            let changed = !self.vm.holds(page * PAGE, snap.ram.page(page));
            if changed {
                log::debug!("the run changed page table {:#x}", page * PAGE);
            }
            changed
        };
        let mut tables_touched = false;
        for page in pages.into_iter().filter(|p| p * PAGE < self.vm.ram_size()) {
            if snap.page_tables.contains(&page) {
                if !table_changed(page) {
                    continue;
                }
                tables_touched = true;
            }
            self.vm.write(page * PAGE, snap.ram.page(page))?;
        }
        if let Some(w) = &self.window {
            tables_touched |= w.tables.iter().any(|&p| table_changed(p));
            self.vm.write(w.first * PAGE, &w.bytes)?;
        }
        self.vm.restore_vcpu(&snap.vcpu)?;
        Ok(tables_touched)
    }

    /// The NVDIMM pages the guest wrote, from the base media. The last
    /// image's lines elsewhere stay: [`Verifier::apply`] changes only the
    /// lines the next image needs changed.
    fn restore_media(&mut self) -> Result<(), VmmError> {
        let (slot, size) = {
            let n = self.nvdimm()?;
            (n.slot(), n.size())
        };
        let dirty = self.vm.dirty_pages(slot, size)?;
        let base = self.base.clone();
        let media = self.nvdimm()?.media_mut();
        for range in dirty
            .iter()
            .map(|p| (p * PAGE) as usize..((p + 1) * PAGE) as usize)
        {
            copy_range(media, base.as_slice(), range);
        }
        // Those lines hold the base again.
        self.applied
            .retain(|(line, _)| dirty.binary_search(&(line / PAGE)).is_err());
        Ok(())
    }

    /// Makes the media the base media with the image's lines. Only what
    /// differs from the last image is written: its lines this image lacks
    /// get the base back, lines with other content are written (compared
    /// with the last image's copy, not with the media).
    fn apply(&mut self, image: &Image) -> Result<(), VmmError> {
        let base = self.base.clone();
        let last = std::mem::take(&mut self.applied);
        let media = self.nvdimm()?.media_mut();
        // Both ascending: one merge walk.
        let mut old = last.iter().peekable();
        for (&off, content) in &image.lines {
            while let Some((gone, _)) = old.next_if(|(line, _)| *line < off) {
                copy_range(media, base.as_slice(), *gone as usize..*gone as usize + 64);
            }
            if old
                .next_if(|(line, had)| *line == off && had == content)
                .is_some()
            {
                continue;
            }
            old.next_if(|(line, _)| *line == off);
            let at = off as usize;
            let dst = media.get_mut(at..at + 64).ok_or_else(|| {
                VmmError::Internal(format!("image line {off:#x} outside the NVDIMM"))
            })?;
            dst.copy_from_slice(content);
        }
        for (gone, _) in old {
            copy_range(media, base.as_slice(), *gone as usize..*gone as usize + 64);
        }
        self.applied = image.lines.iter().map(|(&off, c)| (off, *c)).collect();
        Ok(())
    }
}

/// Copies `range` of `src` over `dst` (what lies in both).
fn copy_range(dst: &mut [u8], src: &[u8], range: std::ops::Range<usize>) {
    if let (Some(d), Some(s)) = (dst.get_mut(range.clone()), src.get(range)) {
        d.copy_from_slice(s);
    }
}
