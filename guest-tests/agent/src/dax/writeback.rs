//! fsync, fdatasync, msync(MS_SYNC) and sync: `dax_writeback_mapping_range`
//! and `dax_writeback_one` exactly as in v4.5 (section 2.4, 2.5) or v4.10
//! (section 7.7: entry lock, mkclean, DIRTY cleared after the flush), then
//! the metadata commit and the device flush, then the durability promise.

use super::fs::Fs;
use super::layout::{self, PAGE, PMD_SIZE, pages_for};
use super::marks;
use super::mkclean;
use super::mm;
use super::radix::{self, DIRTY, PAGEVEC, TOWRITE};
use super::variant::{Variant, Yp, wait_while, yield_point};
use pmemvm_sdk::pmem;

/// `dax_writeback_mapping_range` for bytes `[start, end]` of `ino`
/// (WB_SYNC_ALL).
pub fn writeback_range(ino: u64, start: u64, end: u64) {
    // SAFETY: not used after the yield point below.
    let fs = unsafe { super::fs() };
    // V5 tracks nothing: only msync flushes, by user address.
    if fs.inode(ino).tree.nrexceptional == 0 || fs.variant == Variant::MsyncOnlyVmaFlush {
        return;
    }
    let variant = fs.variant;
    let end_index = end / PAGE;
    let start_index = pmd_start(fs, ino, start);
    let op = fs.op;
    let tagged = fs
        .inode(ino)
        .tree
        .tag_pages_for_writeback(start_index, end_index);
    for index in tagged {
        marks::page("tag-towrite", op, ino, index, None);
    }
    yield_point(Yp::Tagged);
    'outer: loop {
        // SAFETY: used for the lookup alone (writing an entry back yields).
        let tree = &unsafe { super::fs() }.inode(ino).tree;
        let batch = tree.find_get_entries_tag(start_index, TOWRITE, PAGEVEC);
        if batch.is_empty() {
            break;
        }
        // start_index is not advanced (as in v4.5): progress comes from
        // dax_writeback_one clearing TOWRITE.
        for (index, entry) in batch {
            if index > end_index {
                break 'outer;
            }
            if variant.v410() {
                writeback_one_v410(ino, index, entry);
            } else {
                writeback_one(ino, index, entry);
            }
        }
    }
    // SAFETY: used for the fence alone.
    fence(unsafe { super::fs() });
}

/// `wmb_pmem`, which V8 leaves out.
fn fence(fs: &Fs) {
    if fs.variant != Variant::MissingFenceAfterClwb {
        fs.media.fence();
    }
}

/// Step 4 of section 2.4: a range starting at byte `start` inside a PMD
/// entry starts at the entry (`DAX_PMD_INDEX`). V3 looks the entry up at
/// `start & PMD_MASK`, a byte offset, as if it were a page index.
fn pmd_start(fs: &mut Fs, ino: u64, start: u64) -> u64 {
    let head = match fs.variant {
        Variant::PmdLookupBytesAsIndex => start & !(PMD_SIZE - 1),
        _ => radix::pmd_index(start / PAGE),
    };
    match fs.inode(ino).tree.lookup(head) {
        Some(e) if radix::is_pmd(e) => radix::pmd_index(start / PAGE),
        _ => start / PAGE,
    }
}

/// Flushes the lines of `entry` (at `index` of `ino`).
fn flush_entry(fs: &mut Fs, ino: u64, index: u64, entry: u64) {
    let len = if radix::is_pmd(entry) { PMD_SIZE } else { PAGE };
    let off = radix::sector(entry) * layout::SECTOR;
    marks::page("flush", fs.op, ino, index, Some((off, len)));
    fs.media.flush(off, len);
}

/// `dax_writeback_one` (v4.5): flush the entry's lines, then clear
/// TOWRITE; V1 clears it before the flush.
fn writeback_one(ino: u64, index: u64, entry: u64) {
    // SAFETY: not used after the yield point below.
    let fs = unsafe { super::fs() };
    let tree = &mut fs.inode(ino).tree;
    if tree.lookup(index) != Some(entry) || tree.tags(index) & TOWRITE == 0 {
        return;
    }
    let early = fs.variant == Variant::TowriteClearBeforeFlush;
    if early {
        fs.inode(ino).tree.tag_clear(index, TOWRITE);
    }
    yield_point(Yp::Wb);
    // SAFETY: nothing below yields.
    let fs = unsafe { super::fs() };
    flush_entry(fs, ino, index, entry);
    if !early {
        fs.inode(ino).tree.tag_clear(index, TOWRITE);
    }
}

/// `dax_writeback_one` (v4.10): wait for the entry lock, compare sectors,
/// lock, clear TOWRITE, write-protect every mapping of the entry, flush,
/// clear DIRTY, unlock.
fn writeback_one_v410(ino: u64, index: u64, entry: u64) {
    // SAFETY: used for the lookup alone, before the wait yields.
    wait_while(|| unsafe { super::fs() }.inode(ino).tree.locked(index));
    // SAFETY: not used after the yield point below.
    let fs = unsafe { super::fs() };
    let tree = &mut fs.inode(ino).tree;
    let same = tree
        .lookup(index)
        .is_some_and(|e| radix::is_dax(e) && radix::sector(e) == radix::sector(entry));
    if !same || tree.tags(index) & TOWRITE == 0 {
        return;
    }
    tree.set_locked(index, true);
    tree.tag_clear(index, TOWRITE);
    yield_point(Yp::Wb);
    // SAFETY: nothing below yields.
    let fs = unsafe { super::fs() };
    mkclean::mkclean(fs, ino, index, entry);
    flush_entry(fs, ino, index, entry);
    let tree = &mut fs.inode(ino).tree;
    tree.tag_clear(index, DIRTY);
    tree.set_locked(index, false);
}

/// `vfs_fsync_range(file, start, end, datasync)` (`end` inclusive):
/// writeback, metadata commit (which `metadata_not_committed` skips),
/// device flush, then the promise of `[start, end]`.
pub fn fsync_range(ino: u64, start: u64, end: u64, datasync: bool) {
    writeback_range(ino, start, end);
    // SAFETY: nothing below yields.
    let fs = unsafe { super::fs() };
    if fs.variant != Variant::MetadataNotCommitted {
        fs.commit(ino, datasync);
    }
    fence(fs);
    promise(fs, ino, start, end.saturating_add(1));
}

/// `msync(addr, len, MS_SYNC)` over bytes `[off, off + len)` of mapping
/// `map`: `vfs_fsync_range(datasync)` of the file range it maps. V5 first
/// flushes the mapped pages of the range by user address and fences.
pub fn msync(map: u64, off: u64, len: u64) {
    // SAFETY: not used after `fsync_range`, which yields.
    let fs = unsafe { super::fs() };
    let vma = fs.mm.vma(map);
    let (ino, start) = (vma.ino, vma.start);
    let fstart = vma.pgoff * PAGE + off;
    let len = len.min(vma.pages * PAGE - off);
    if len == 0 {
        return;
    }
    if fs.variant == Variant::MsyncOnlyVmaFlush {
        let media = fs.media;
        let mut va = (start + off) & !(PAGE - 1);
        while va < start + off + len {
            let device = mm::translate(va)
                .map(|m| m.phys)
                .filter(|p| (media.base..media.base + media.size).contains(p));
            if let Some(phys) = device {
                media.flush(phys - media.base, PAGE);
            }
            va += PAGE;
        }
        media.fence();
    }
    fsync_range(ino, fstart, fstart + len - 1, true);
}

/// `sync()`: writeback of every inode with dirty pages, every commit, one
/// device flush, and a promise for every file.
pub fn sync() {
    // SAFETY: used for the list of inodes alone.
    let inos: alloc::vec::Vec<u64> = unsafe { super::fs() }
        .inodes
        .iter()
        .map(|i| i.ino)
        .collect();
    for &ino in &inos {
        // SAFETY: not used after `writeback_range`, which yields.
        let fs = unsafe { super::fs() };
        if fs.inode(ino).tree.tagged(DIRTY) && fs.variant != Variant::SyncSkipsDax {
            writeback_range(ino, 0, u64::MAX);
        }
        // SAFETY: a commit does not yield.
        unsafe { super::fs() }.commit(ino, false);
    }
    // SAFETY: nothing below yields.
    let fs = unsafe { super::fs() };
    fence(fs);
    for ino in inos {
        promise(fs, ino, 0, u64::MAX);
    }
}

/// Promises bytes `[start, end)` of `ino` (clipped to the size), one
/// promise per run of contiguous blocks, or of holes (whose device range is
/// their block-map slots).
fn promise(fs: &mut Fs, ino: u64, start: u64, end: u64) {
    let op = fs.op;
    let inode = fs.inode(ino);
    let end = end.min(inode.cur.size);
    let mut at = start;
    while at < end {
        let page = at / PAGE;
        let first = inode.block(page);
        let mut run_end = ((page + 1) * PAGE).min(end);
        while run_end < end {
            let next = inode.block(run_end / PAGE);
            let expect = first.map(|b| b + (run_end / PAGE - page) as u32);
            if next != expect {
                break;
            }
            run_end = ((run_end / PAGE + 1) * PAGE).min(end);
        }
        // A hole's bytes are decided by its block-map slots: name those.
        let range = first.map_or(
            (
                layout::map_off(ino, page),
                4 * pages_for(run_end) - 4 * page,
            ),
            |b| (layout::block_off(b) + at % PAGE, run_end - at),
        );
        pmem::promise(ino, at, run_end - at, op, range);
        at = run_end;
    }
}
