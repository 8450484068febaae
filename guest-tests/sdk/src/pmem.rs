//! Persistent memory: finding the NVDIMM through ACPI, and the
//! persistent-memory API whose flushes, fences, non-temporal stores and
//! locked read-modify-writes the VMM records.
//!
//! KVM sees every store to the NVDIMM but none of these instructions, so
//! each function here appends an entry to the event ring
//! ([`pmemvm_abi::pmem`]) with the guest-physical address *before* it
//! executes the instruction. The functions live in their own section
//! (`.text.pmem_api`) and are never inlined: a test disassembles the guest
//! and fails if any such instruction appears anywhere else, because an
//! unrecorded fence would let the model allow states the hardware cannot
//! produce.
//!
//! Two families of names: the kernel's (`wb_cache_pmem`, `wmb_pmem`,
//! `memcpy_nt`) and libpmem's (`pmem_flush`, `pmem_drain`, `pmem_persist`,
//! `pmem_memcpy_persist`, `pmem_memcpy_nodrain`, `pmem_memset_persist`), so
//! code written for PMDK ports without changing its persistence calls.

use crate::global::Global;
use crate::io::{hypercall, outb};
use crate::paging::{ACCESSED, DIRTY, HUGE_PAGE_SIZE, PRESENT, PageTables, USER, WRITABLE};
use pmemvm_abi::acpi::{self, AcpiError, NvdimmInfo};
use pmemvm_abi::pmem::{self as ring, Entry, Ring};
use pmemvm_abi::{MarkArgs, NONE, PORT_PMEM_DOORBELL, PromiseArgs, hc, layout};

/// Size of a cache line.
pub const LINE: u64 = 64;

static DEVICE: Global<Option<NvdimmInfo>> = Global::new(None);

/// Why the NVDIMM could not be used.
#[derive(Debug, Clone, Copy)]
pub enum PmemError {
    /// The VMM passed no ACPI tables.
    NoAcpi,
    /// The ACPI tables are unusable.
    Acpi(AcpiError),
    /// The NVDIMM could not be mapped.
    Map,
}

/// Finds the NVDIMM through the RSDP, XSDT and NFIT the VMM wrote, and maps
/// it identically with 2-MiB pages. Idempotent.
pub fn init() -> Result<NvdimmInfo, PmemError> {
    if let Some(info) = device() {
        return Ok(info);
    }
    let rsdp = crate::boot::boot_info().rsdp;
    if rsdp == 0 {
        return Err(PmemError::NoAcpi);
    }
    let len = (layout::ACPI_END - layout::ACPI) as usize;
    // SAFETY: the ACPI area is identity-mapped guest RAM reserved by the ABI.
    let area = unsafe { core::slice::from_raw_parts(layout::ACPI as *const u8, len) };
    let info = acpi::find_nvdimm_in(area, layout::ACPI, rsdp).map_err(PmemError::Acpi)?;
    let mut pt = PageTables::boot();
    let mut at = info.base;
    while at < info.base + info.size {
        // Accessed and dirty preset: the CPU never writes these entries.
        pt.map_2m(at, at, PRESENT | WRITABLE | USER | ACCESSED | DIRTY)
            .map_err(|_| PmemError::Map)?;
        at += HUGE_PAGE_SIZE;
    }
    // SAFETY: single vCPU, no concurrent access.
    unsafe { *DEVICE.get() = Some(info) };
    Ok(info)
}

/// The NVDIMM found by [`init`], if any.
pub fn device() -> Option<NvdimmInfo> {
    // SAFETY: single vCPU, no concurrent access.
    unsafe { *DEVICE.get() }
}

/// Ends the untraced setup phase: the NVDIMM content becomes the initial
/// media and every later store is traced.
pub fn setup_done() {
    hypercall(hc::SETUP_DONE, &[]);
}

/// Optional structured fields of a mark.
#[derive(Debug, Clone, Copy, Default)]
pub struct MarkFields {
    /// File (inode number).
    pub file: Option<u64>,
    /// Page index.
    pub page: Option<u64>,
    /// Operation id.
    pub op: Option<u64>,
    /// Device range `(offset, len)` concerned.
    pub range: Option<(u64, u64)>,
}

/// Puts a mark with a label in the trace.
pub fn mark(label: &str, f: MarkFields) {
    let (range_offset, range_len) = f.range.unwrap_or((NONE, 0));
    let args = MarkArgs {
        label_gpa: label.as_ptr() as u64,
        label_len: label.len() as u64,
        file: f.file.unwrap_or(NONE),
        page: f.page.unwrap_or(NONE),
        op: f.op.unwrap_or(NONE),
        range_offset,
        range_len,
    };
    hypercall(hc::MARK, &[&args as *const MarkArgs as u64]);
}

/// Declares `len` bytes of `file` at `offset` durable (stored at device
/// range `range`, `(device offset, length)`) by the sync operation `op`.
///
/// The promise is about the range's *current* bytes: from now on, after
/// any power failure, each of them holds its value now or the value of a
/// later store to it. pmemvm checks that by itself on every crash image of
/// every crash point after the promise (the check `promise`), with no code
/// in the guest's recovery; so promise a range only once its stores are
/// flushed and fenced ([`pmem_persist`]). Verify mode also hands the
/// promises to the guest ([`crate::report::verify_info`]), whose recovery
/// may check what they mean for its files.
pub fn promise(file: u64, offset: u64, len: u64, op: u64, range: (u64, u64)) {
    let args = PromiseArgs {
        file,
        offset,
        len,
        op,
        range_offset: range.0,
        range_len: range.1,
    };
    hypercall(hc::PROMISE, &[&args as *const PromiseArgs as u64]);
}

/// Guest-physical address of `va` (identity inside the NVDIMM mapping).
fn gpa(va: u64) -> u64 {
    if let Some(d) = device()
        && (d.base..d.base + d.size).contains(&va)
    {
        return va;
    }
    PageTables::boot().translate(va).map_or(va, |m| m.phys)
}

/// Appends an entry to the ring, ringing the doorbell when it is full.
#[inline(always)]
fn record(kind: u32, va: u64, size: u32) {
    let r = layout::PMEM_RING as *mut Ring;
    // SAFETY: the ring page is identity-mapped guest RAM reserved by the
    // ABI; the VMM only touches it while the vCPU is stopped.
    unsafe {
        if (*r).head - (*r).tail >= ring::ENTRIES {
            outb(PORT_PMEM_DOORBELL as u8, 0);
        }
        let head = (*r).head;
        let slot = &raw mut (*r).entries[(head % ring::ENTRIES) as usize];
        slot.write_volatile(Entry {
            kind,
            size,
            addr: gpa(va),
        });
        (&raw mut (*r).head).write_volatile(head + 1);
    }
}

fn doorbell() {
    outb(PORT_PMEM_DOORBELL as u8, 0);
}

/// `clwb`: write the line back (it may stay cached).
#[inline(never)]
#[unsafe(link_section = ".text.pmem_api")]
pub fn clwb(p: *const u8) {
    record(ring::CLWB, p as u64, 0);
    // SAFETY: clwb of any mapped address has no effect on memory contents.
    unsafe { core::arch::asm!("clwb [{}]", in(reg) p, options(nostack, preserves_flags)) };
}

/// `clflushopt`: write the line back and invalidate it.
#[inline(never)]
#[unsafe(link_section = ".text.pmem_api")]
pub fn clflushopt(p: *const u8) {
    record(ring::CLFLUSHOPT, p as u64, 0);
    // SAFETY: as for clwb.
    unsafe { core::arch::asm!("clflushopt [{}]", in(reg) p, options(nostack, preserves_flags)) };
}

/// `clflush`: write the line back and invalidate it, ordered with stores.
#[inline(never)]
#[unsafe(link_section = ".text.pmem_api")]
pub fn clflush(p: *const u8) {
    record(ring::CLFLUSH, p as u64, 0);
    // SAFETY: as for clwb.
    unsafe { core::arch::asm!("clflush [{}]", in(reg) p, options(nostack, preserves_flags)) };
}

/// `sfence`.
#[inline(never)]
#[unsafe(link_section = ".text.pmem_api")]
pub fn sfence() {
    record(ring::SFENCE, 0, 0);
    // SAFETY: a fence has no operands.
    unsafe { core::arch::asm!("sfence", options(nostack, preserves_flags)) };
    doorbell();
}

/// `mfence`.
#[inline(never)]
#[unsafe(link_section = ".text.pmem_api")]
pub fn mfence() {
    record(ring::MFENCE, 0, 0);
    // SAFETY: a fence has no operands.
    unsafe { core::arch::asm!("mfence", options(nostack, preserves_flags)) };
    doorbell();
}

/// `xchg` (a locked read-modify-write, a full fence): stores `v` at `p`,
/// returns the old value. Like the fences, it rings the doorbell after.
///
/// # Safety
/// `p` must be valid for an aligned 8-byte write.
#[inline(never)]
#[unsafe(link_section = ".text.pmem_api")]
pub unsafe fn xchg_u64(p: *mut u64, v: u64) -> u64 {
    record(ring::RMW, p as u64, 8);
    let mut old = v;
    // SAFETY: the caller guarantees `p`.
    unsafe {
        core::arch::asm!("xchg [{}], {}", in(reg) p, inout(reg) old, options(nostack, preserves_flags))
    };
    // A fence ends an epoch of `--record epochs` (nothing is recorded for
    // the doorbell right after a fence).
    doorbell();
    old
}

/// `movnti`: a non-temporal 8-byte store.
///
/// # Safety
/// `p` must be valid for an aligned 8-byte write.
#[inline(never)]
#[unsafe(link_section = ".text.pmem_api")]
pub unsafe fn movnti_u64(p: *mut u64, v: u64) {
    record(ring::NTSTORE, p as u64, 8);
    // SAFETY: the caller guarantees `p`.
    unsafe {
        core::arch::asm!("movnti [{}], {}", in(reg) p, in(reg) v, options(nostack, preserves_flags))
    };
}

/// `movnti`: a non-temporal 4-byte store.
///
/// # Safety
/// `p` must be valid for an aligned 4-byte write.
#[inline(never)]
#[unsafe(link_section = ".text.pmem_api")]
pub unsafe fn movnti_u32(p: *mut u32, v: u32) {
    record(ring::NTSTORE, p as u64, 4);
    // SAFETY: the caller guarantees `p`.
    unsafe {
        core::arch::asm!("movnti [{}], {:e}", in(reg) p, in(reg) v, options(nostack, preserves_flags))
    };
}

/// Each line of `[addr, addr + len)`.
fn lines(addr: u64, len: u64) -> impl Iterator<Item = u64> {
    let first = addr & !(LINE - 1);
    let end = addr + len;
    (0..)
        .map(move |i| first + i * LINE)
        .take_while(move |&l| l < end && len > 0)
}

/// Cached stores of `src` to `dst`, one at a time (no `rep movs`: each
/// element would be an exit).
///
/// # Safety
/// `dst` must be valid for `src.len()` bytes.
pub unsafe fn copy_cached(dst: *mut u8, src: &[u8]) {
    let mut i = 0;
    while i < src.len() {
        let at = dst as usize + i;
        if at.is_multiple_of(8) && src.len() - i >= 8 {
            let mut w = [0u8; 8];
            w.copy_from_slice(&src[i..i + 8]);
            // SAFETY: the caller guarantees `dst`.
            unsafe { (at as *mut u64).write_volatile(u64::from_le_bytes(w)) };
            i += 8;
        } else {
            // SAFETY: the caller guarantees `dst`.
            unsafe { (at as *mut u8).write_volatile(src[i]) };
            i += 1;
        }
    }
}

/// The kernel's `wb_cache_pmem`: `clwb` every line of the range.
pub fn wb_cache_pmem(addr: *const u8, len: usize) {
    for l in lines(addr as u64, len as u64) {
        clwb(l as *const u8);
    }
}

/// The kernel's `wmb_pmem`: `sfence`.
pub fn wmb_pmem() {
    sfence();
}

/// Non-temporal copy: unaligned edges with cached stores and `clwb`,
/// aligned words with `movnti`. Needs a fence to be durable.
///
/// # Safety
/// `dst` must be valid for `src.len()` bytes.
pub unsafe fn memcpy_nt(dst: *mut u8, src: &[u8]) {
    let start = dst as usize;
    let end = start + src.len();
    let head_end = start.next_multiple_of(8).min(end);
    let tail_start = (end / 8 * 8).max(head_end);
    // SAFETY: the caller guarantees `dst`.
    unsafe { copy_cached(dst, &src[..head_end - start]) };
    if head_end > start {
        wb_cache_pmem(dst, head_end - start);
    }
    let mut at = head_end;
    while at < tail_start {
        let i = at - start;
        let mut w = [0u8; 8];
        w.copy_from_slice(&src[i..i + 8]);
        // SAFETY: aligned and inside `dst`.
        unsafe { movnti_u64(at as *mut u64, u64::from_le_bytes(w)) };
        at += 8;
    }
    if tail_start < end {
        // SAFETY: inside `dst`.
        unsafe { copy_cached(tail_start as *mut u8, &src[tail_start - start..]) };
        wb_cache_pmem(tail_start as *const u8, end - tail_start);
    }
}

/// libpmem's `pmem_flush`: write back the lines of the range (no fence).
pub fn pmem_flush(addr: *const u8, len: usize) {
    wb_cache_pmem(addr, len);
}

/// libpmem's `pmem_drain`: wait for earlier flushes (`sfence`).
pub fn pmem_drain() {
    sfence();
}

/// libpmem's `pmem_persist`: flush and drain.
pub fn pmem_persist(addr: *const u8, len: usize) {
    pmem_flush(addr, len);
    pmem_drain();
}

/// libpmem's `pmem_memcpy_nodrain`: non-temporal copy, no fence.
///
/// # Safety
/// `dst` must be valid for `len` bytes and `src` readable for `len` bytes.
pub unsafe fn pmem_memcpy_nodrain(dst: *mut u8, src: *const u8, len: usize) -> *mut u8 {
    // SAFETY: the caller guarantees `src`.
    let s = unsafe { core::slice::from_raw_parts(src, len) };
    // SAFETY: the caller guarantees `dst`.
    unsafe { memcpy_nt(dst, s) };
    dst
}

/// libpmem's `pmem_memcpy_persist`: copy, then drain.
///
/// # Safety
/// As [`pmem_memcpy_nodrain`].
pub unsafe fn pmem_memcpy_persist(dst: *mut u8, src: *const u8, len: usize) -> *mut u8 {
    // SAFETY: the caller's guarantees.
    unsafe { pmem_memcpy_nodrain(dst, src, len) };
    pmem_drain();
    dst
}

/// libpmem's `pmem_memset_persist`: cached stores, flush, drain.
///
/// # Safety
/// `dst` must be valid for `len` bytes.
pub unsafe fn pmem_memset_persist(dst: *mut u8, c: i32, len: usize) -> *mut u8 {
    let byte = c as u8;
    let mut i = 0;
    while i < len {
        let at = dst as usize + i;
        if at.is_multiple_of(8) && len - i >= 8 {
            // SAFETY: the caller guarantees `dst`.
            unsafe { (at as *mut u64).write_volatile(u64::from_ne_bytes([byte; 8])) };
            i += 8;
        } else {
            // SAFETY: the caller guarantees `dst`.
            unsafe { (at as *mut u8).write_volatile(byte) };
            i += 1;
        }
    }
    pmem_persist(dst, len);
    dst
}
