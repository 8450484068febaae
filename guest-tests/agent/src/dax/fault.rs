//! Page faults on file mappings (`__dax_fault`, `__dax_pmd_fault`,
//! `dax_pfn_mkwrite`, `dax_radix_entry`), run by the CPU's real faults.
//!
//! Read faults install a read-only PTE and a clean entry (or, on a hole, a
//! read-only zero page and no DAX entry); write faults and writes to
//! read-only PTEs tag the entry DIRTY *before* the PTE becomes writable and
//! update mtime/ctime. A PMD fault needs the whole 2-MiB range inside the
//! VMA and the file and backed by one aligned extent, else it falls back to
//! PTEs (the miniature never allocates 2 MiB in a fault); PMD read faults
//! insert no entry, and a write to a read-only PMD runs the PMD fault again.
//!
//! In v4.10 a fault waits for the entry lock of its page (nothing yields
//! inside a v4.10 fault, so holding it is implicit), and `pfn_mkwrite`
//! tags DIRTY and upgrades the PTE with the entry locked. A failed radix
//! insert (the V4 fault injection) reports SIGBUS, which the harness
//! treats as "retry the access".

use super::fs::Fs;
use super::inode::ZeroPage;
use super::layout::{self, PAGE, PMD_PAGES, PMD_SIZE};
use super::marks;
use super::mm;
use super::radix::{self, DIRTY};
use super::variant::{Variant, Yp, wait_while, yield_point};
use alloc::boxed::Box;
use pmemvm_sdk::fault::Fault;
use pmemvm_sdk::paging::HUGE_PAGE_SIZE;

/// The page-fault handler of the guest while a file system is mounted.
pub fn handle(f: &Fault) -> bool {
    // SAFETY: used to find the VMA alone (the faults below may yield).
    let Some(v) = unsafe { super::fs() }.mm.find(f.addr) else {
        return false;
    };
    match (f.is_protection(), f.is_write()) {
        (false, write) => fault(v, f.addr, write),
        (true, true) => wp_fault(v, f.addr),
        (true, false) => false,
    }
}

/// Why `dax_radix_entry` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryError {
    /// A hole page sits where the entry goes (`-EIO`).
    Io,
    /// The insert failed (`-ENOMEM`, injected).
    NoMem,
}

/// Waits (v4.10) until no task holds the entry lock of `page` of `ino`.
fn wait_unlocked(variant: Variant, ino: u64, page: u64) {
    if variant.v410() {
        wait_while(|| {
            // SAFETY: used for the lookup alone, before the wait yields.
            let tree = &unsafe { super::fs() }.inode(ino).tree;
            tree.entry_index(page).is_some_and(|i| tree.locked(i))
        });
    }
}

/// `__dax_fault` / `__dax_pmd_fault` for the VMA at index `v`.
fn fault(v: usize, addr: u64, write: bool) -> bool {
    // SAFETY: not used after the wait below, which may yield.
    let fs = unsafe { super::fs() };
    let (ino, page) = {
        let vma = &fs.mm.vmas[v];
        (vma.ino, vma.page_of(addr))
    };
    wait_unlocked(fs.variant, ino, page);
    // SAFETY: not used after `pte_fault`, which may yield.
    let fs = unsafe { super::fs() };
    if page * PAGE >= fs.inode(ino).cur.size {
        marks::page("sigbus", fs.op, ino, page, None);
        return false;
    }
    if let Some(first) = pmd_extent(fs, v, addr) {
        return pmd_fault(fs, v, addr, first, write);
    }
    if mm::translate(addr).is_some_and(|m| m.size == HUGE_PAGE_SIZE) {
        // A read-only PMD that can no longer be one: split it.
        fs.mm.zap(ino, page, page);
    }
    pte_fault(v, addr, page, write)
}

/// The first block of the PMD extent around `addr`, when a PMD may map it.
fn pmd_extent(fs: &mut Fs, v: usize, addr: u64) -> Option<u32> {
    let vma = &fs.mm.vmas[v];
    let head_va = addr & !(PMD_SIZE - 1);
    let head = vma.page_of(addr) - (addr - head_va) / PAGE;
    let fits = vma.huge
        && head_va >= vma.start
        && head_va + PMD_SIZE <= vma.end()
        && head.is_multiple_of(PMD_PAGES)
        && !vma.pte_tables.contains(&head_va);
    let ino = vma.ino;
    let inode = fs.inode(ino);
    if !fits || (head + PMD_PAGES) * PAGE > inode.cur.size {
        return None;
    }
    let first = inode.block(head)?;
    let contiguous = (0..PMD_PAGES).all(|i| inode.block(head + i) == Some(first + i as u32));
    (contiguous && u64::from(first).is_multiple_of(PMD_PAGES)).then_some(first)
}

fn pmd_fault(fs: &mut Fs, v: usize, addr: u64, first: u32, write: bool) -> bool {
    let ino = fs.mm.vmas[v].ino;
    let head_va = addr & !(PMD_SIZE - 1);
    let head = fs.mm.vmas[v].page_of(head_va);
    let range = Some((layout::block_off(first), PMD_SIZE));
    let phys = fs.media.addr(layout::block_off(first));
    if !write {
        marks::page("fault-pmd-read", fs.op, ino, head, range);
        return fs.mm.map_pmd(head_va, phys, false);
    }
    marks::page("fault-pmd-write", fs.op, ino, head, range);
    fs.inode(ino).touch();
    radix_entry(fs, ino, head, Some(layout::block_sector(first)), true, true).is_ok()
        && fs.mm.map_pmd(head_va, phys, true)
}

fn pte_fault(v: usize, addr: u64, page: u64, write: bool) -> bool {
    // SAFETY: not used after `insert_mapping`, which may yield.
    let fs = unsafe { super::fs() };
    let ino = fs.mm.vmas[v].ino;
    let va = addr & !(PAGE - 1);
    let block = match (fs.inode(ino).block(page), write) {
        (Some(b), _) => b,
        (None, false) => return hole_page(fs, v, va, page),
        (None, true) => {
            let Some(b) = fs.alloc_block(ino, page) else {
                return false;
            };
            // clear_pmem + wmb_pmem before the block becomes visible.
            fs.media.clear_nt(layout::block_off(b), PAGE);
            fs.media.fence();
            remove_hole_page(fs, ino, page);
            b
        }
    };
    let range = Some((layout::block_off(block), PAGE));
    marks::page(
        if write { "fault-write" } else { "fault-read" },
        fs.op,
        ino,
        page,
        range,
    );
    if write {
        fs.inode(ino).touch();
    }
    insert_mapping(v, va, page, block, write)
}

/// `dax_insert_mapping`: the radix entry, then the PTE (v4.5 order); V4
/// installs the PTE first and keeps it when the entry fails.
fn insert_mapping(v: usize, va: u64, page: u64, block: u32, write: bool) -> bool {
    // SAFETY: not used after the yield point below.
    let fs = unsafe { super::fs() };
    let ino = fs.mm.vmas[v].ino;
    let phys = fs.media.addr(layout::block_off(block));
    let sector = Some(layout::block_sector(block));
    let entry = if fs.variant == Variant::PteBeforeRadixEntry {
        if !fs.mm.map_pte(v, va, phys, write) {
            return false;
        }
        yield_point(Yp::FaultPte);
        // SAFETY: an insert does not yield.
        radix_entry(unsafe { super::fs() }, ino, page, sector, false, write)
    } else {
        radix_entry(fs, ino, page, sector, false, write).and_then(|()| {
            fs.mm
                .map_pte(v, va, phys, write)
                .then_some(())
                .ok_or(EntryError::Io)
        })
    };
    match entry {
        Ok(()) => true,
        Err(EntryError::NoMem) => {
            // SIGBUS: the harness retries the access.
            // SAFETY: nothing below yields.
            let fs = unsafe { super::fs() };
            fs.fail_next_insert = false;
            marks::page("sigbus", fs.op, ino, page, None);
            true
        }
        Err(EntryError::Io) => false,
    }
}

/// A read fault on a hole: a zero page mapped read-only, no DAX entry.
fn hole_page(fs: &mut Fs, v: usize, va: u64, page: u64) -> bool {
    let ino = fs.mm.vmas[v].ino;
    let op = fs.op;
    let inode = fs.inode(ino);
    let phys = match inode.tree.lookup(page) {
        Some(e) if !radix::is_dax(e) => e,
        Some(_) => return false,
        None => {
            let zero = Box::new(ZeroPage([0; 4096]));
            let phys = &*zero as *const ZeroPage as u64;
            inode.tree.insert(page, phys);
            inode.holes.insert(page, zero);
            phys
        }
    };
    marks::page("fault-hole", op, ino, page, None);
    fs.mm.map_pte(v, va, phys, false)
}

/// Drops the hole page of `page`, if any, from every mapping and the tree.
pub fn remove_hole_page(fs: &mut Fs, ino: u64, page: u64) {
    let inode = fs.inode(ino);
    if let Some(e) = inode.tree.lookup(page).filter(|e| !radix::is_dax(*e)) {
        inode.tree.delete_item(page, e);
        inode.holes.remove(&page);
        fs.mm.zap(ino, page, page);
    }
}

/// A write to a present read-only page: `do_wp_page`.
fn wp_fault(v: usize, addr: u64) -> bool {
    let Some(before) = mm::translate(addr) else {
        return false;
    };
    // SAFETY: not used after the faults below, which may yield.
    let fs = unsafe { super::fs() };
    let (ino, page) = {
        let vma = &fs.mm.vmas[v];
        (vma.ino, vma.page_of(addr))
    };
    let hole = fs
        .inode(ino)
        .tree
        .lookup(page)
        .is_some_and(|e| !radix::is_dax(e));
    if before.size == HUGE_PAGE_SIZE || hole {
        // A read-only PMD runs the PMD fault again; a hole page goes
        // through `page_mkwrite`, a full write fault.
        return fault(v, addr, true);
    }
    pfn_mkwrite(v, addr, before)
}

/// The file system's `pfn_mkwrite`, then the PTE upgrade of `wp_pfn_shared`.
fn pfn_mkwrite(v: usize, addr: u64, before: pmemvm_sdk::paging::Mapping) -> bool {
    // SAFETY: not used after the wait below, which may yield.
    let fs = unsafe { super::fs() };
    let (ino, page) = {
        let vma = &fs.mm.vmas[v];
        (vma.ino, vma.page_of(addr))
    };
    if page * PAGE >= fs.inode(ino).cur.size {
        marks::page("sigbus", fs.op, ino, page, None);
        return false;
    }
    let range = fs.page_range(ino, page);
    marks::page("fault-wp", fs.op, ino, page, range);
    fs.inode(ino).touch();
    // v4.10 (not V10): DIRTY and the upgrade under the entry lock.
    let locked = fs.variant.v410() && fs.variant != Variant::MkwritePteUpgradeUnlocked;
    wait_unlocked(fs.variant, ino, page);
    // SAFETY: not used after the yield point below.
    let fs = unsafe { super::fs() };
    let at = fs.inode(ino).tree.entry_index(page);
    // dax_pfn_mkwrite: tag the existing entry, no get_block (V2: nothing).
    if fs.variant != Variant::NoPfnMkwriteTracking {
        let _ = radix_entry(fs, ino, page, None, false, true);
    }
    if let Some(i) = at.filter(|_| locked) {
        fs.inode(ino).tree.set_locked(i, true);
    }
    yield_point(Yp::Mkwrite);
    // pte_same: upgrade only if nobody changed the PTE meanwhile; otherwise
    // the store faults again.
    // SAFETY: nothing below yields.
    let fs = unsafe { super::fs() };
    if mm::translate(addr) == Some(before) {
        fs.mm.make_writable(addr & !(PAGE - 1));
    }
    if let Some(i) = at.filter(|_| locked) {
        fs.inode(ino).tree.set_locked(i, false);
    }
    true
}

/// `dax_radix_entry(mapping, index, sector, pmd_entry, dirty)` (v4.5);
/// `sector` is `None` for `NO_SECTOR`. V5 tracks no DIRTY state. An
/// armed fault injection fails the insert (the caller disarms it).
pub fn radix_entry(
    fs: &mut Fs,
    ino: u64,
    index: u64,
    sector: Option<u64>,
    pmd: bool,
    dirty: bool,
) -> Result<(), EntryError> {
    let op = fs.op;
    let dirty = dirty && fs.variant != Variant::MsyncOnlyVmaFlush;
    let fail = fs.fail_next_insert;
    let tree = &mut fs.inode(ino).tree;
    let head = radix::pmd_index(index);
    let mut at = index;
    let existing = match tree.lookup(head) {
        Some(e) if radix::is_pmd(e) => {
            at = head;
            Some(e)
        }
        _ => tree.lookup(index),
    };
    let entry = match existing {
        Some(e) if !radix::is_dax(e) => return Err(EntryError::Io),
        Some(e) if !pmd || radix::is_pmd(e) => e,
        found => {
            if let Some(pte) = found {
                tree.delete_item(index, pte);
            }
            let Some(sector) = sector else {
                return Ok(());
            };
            if fail {
                return Err(EntryError::NoMem);
            }
            let e = radix::dax_entry(sector, pmd);
            tree.insert(index, e);
            e
        }
    };
    if dirty {
        tree.tag_set(at, DIRTY);
        let len = if radix::is_pmd(entry) { PMD_SIZE } else { PAGE };
        let off = radix::sector(entry) * layout::SECTOR;
        marks::page("tag-dirty", op, ino, at, Some((off, len)));
    }
    Ok(())
}
