//! fsync, fdatasync, msync(MS_SYNC) and sync: `dax_writeback_mapping_range`
//! and `dax_writeback_one` exactly as in v4.5 (section 2.4, 2.5), then the
//! metadata commit and the device flush, then the durability promise.

use super::fs::Fs;
use super::layout::{self, PAGE, PMD_SIZE, pages_for};
use super::marks;
use super::radix::{self, PAGEVEC, TOWRITE};
use super::variant::{Yp, yield_point};
use pmemvm_rt::pmem;

/// `dax_writeback_mapping_range` for bytes `[start, end]` of `ino`
/// (WB_SYNC_ALL).
pub fn writeback_range(fs: &mut Fs, ino: u64, start: u64, end: u64) {
    if fs.inode(ino).tree.nrexceptional == 0 {
        return;
    }
    let end_index = end / PAGE;
    let start_index = pmd_start(fs, ino, start / PAGE);
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
        let batch = fs
            .inode(ino)
            .tree
            .find_get_entries_tag(start_index, TOWRITE, PAGEVEC);
        if batch.is_empty() {
            break;
        }
        // start_index is not advanced (as in v4.5): progress comes from
        // dax_writeback_one clearing TOWRITE.
        for (index, entry) in batch {
            if index > end_index {
                break 'outer;
            }
            writeback_one(fs, ino, index, entry);
        }
    }
    fs.media.fence();
}

/// Step 4 of section 2.4: a range starting inside a PMD entry starts at
/// the entry (`DAX_PMD_INDEX`).
fn pmd_start(fs: &mut Fs, ino: u64, start_index: u64) -> u64 {
    let head = radix::pmd_index(start_index);
    match fs.inode(ino).tree.lookup(head) {
        Some(e) if radix::is_pmd(e) => head,
        _ => start_index,
    }
}

/// `dax_writeback_one`: flush the entry's lines, then clear TOWRITE.
fn writeback_one(fs: &mut Fs, ino: u64, index: u64, entry: u64) {
    let tree = &fs.inode(ino).tree;
    if tree.lookup(index) != Some(entry) || tree.tags(index) & TOWRITE == 0 {
        return;
    }
    yield_point(Yp::Wb);
    let fs = super::fs();
    let len = if radix::is_pmd(entry) { PMD_SIZE } else { PAGE };
    let off = radix::sector(entry) * layout::SECTOR;
    marks::page("flush", fs.op, ino, index, Some((off, len)));
    fs.media.flush(off, len);
    fs.inode(ino).tree.tag_clear(index, TOWRITE);
}

/// `vfs_fsync_range(file, start, end)` (`end` inclusive): writeback,
/// metadata commit, device flush, then the promise of `[start, end]`.
pub fn fsync_range(fs: &mut Fs, ino: u64, start: u64, end: u64) {
    writeback_range(fs, ino, start, end);
    fs.commit(ino);
    fs.media.fence();
    promise(fs, ino, start, end.saturating_add(1));
}

/// `msync(addr, len, MS_SYNC)` over bytes `[off, off + len)` of mapping `map`.
pub fn msync(fs: &mut Fs, map: u64, off: u64, len: u64) {
    let vma = fs.mm.vma(map);
    let ino = vma.ino;
    let fstart = vma.pgoff * PAGE + off;
    let len = len.min(vma.pages * PAGE - off);
    if len > 0 {
        fsync_range(fs, ino, fstart, fstart + len - 1);
    }
}

/// `sync()`: writeback of every inode with dirty pages, every commit, one
/// device flush, and a promise for every file.
pub fn sync(fs: &mut Fs) {
    let inos: alloc::vec::Vec<u64> = fs.inodes.iter().map(|i| i.ino).collect();
    for &ino in &inos {
        if fs.inode(ino).tree.tagged(radix::DIRTY) {
            writeback_range(fs, ino, 0, u64::MAX);
        }
        fs.commit(ino);
    }
    fs.media.fence();
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
