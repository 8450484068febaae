//! truncate, hole punch and invalidate (section 7.9).
//!
//! Truncate and punch zero partial pages (`clear_pmem` + fence), unmap the
//! removed pages from every VMA, delete their tree slots and free their
//! blocks (busy until the commit). A PMD entry only partly inside the
//! removed range is split: its remaining pages keep their tags as PTE
//! entries, so no dirty data loses its tracking (v4.5 kept such entries
//! with a stale extent; PMD support was switched off in v4.7 over such
//! problems).

use super::fs::Fs;
use super::layout::{self, MAX_FILE_PAGES, PAGE, PMD_PAGES, pages_for};
use super::radix::{self, DIRTY, TOWRITE};
use super::variant::Variant;

/// Zeroes bytes `[from, to)` of `ino` where blocks exist (no fence).
fn zero(fs: &mut Fs, ino: u64, from: u64, to: u64) {
    let mut at = from;
    while at < to {
        let page = at / PAGE;
        let next = ((page + 1) * PAGE).min(to);
        if let Some(b) = fs.inode(ino).block(page) {
            fs.media
                .clear_nt(layout::block_off(b) + at % PAGE, next - at);
        }
        at = next;
    }
}

/// Removes pages `[first, last]` of `ino`: unmap, tree slots, blocks.
fn remove_pages(fs: &mut Fs, ino: u64, first: u64, last: u64) {
    let head = radix::pmd_index(first);
    fs.mm.zap(ino, first, last);
    let inode = fs.inode(ino);
    for (index, entry, tags) in inode.tree.entries(head, last) {
        let span = if radix::is_pmd(entry) { PMD_PAGES } else { 1 };
        if index + span <= first {
            continue;
        }
        inode.tree.delete_item(index, entry);
        inode.holes.remove(&index);
        if radix::is_pmd(entry) && tags & (DIRTY | TOWRITE) != 0 {
            let kept = (index..index + PMD_PAGES).filter(|p| *p < first || *p > last);
            for p in kept {
                let sector = radix::sector(entry) + (p - index) * (PAGE / layout::SECTOR);
                inode.tree.insert(p, radix::dax_entry(sector, false));
                inode.tree.tag_set(p, tags);
            }
        }
    }
    for page in first..=last.min(MAX_FILE_PAGES - 1) {
        fs.free_page(ino, page);
    }
}

/// `truncate(ino, size)`.
pub fn truncate(fs: &mut Fs, ino: u64, size: u64) {
    let old = fs.inode(ino).cur.size;
    if size < old {
        if !size.is_multiple_of(PAGE) {
            zero(fs, ino, size, size.next_multiple_of(PAGE));
            fs.media.fence();
        }
        remove_pages(fs, ino, pages_for(size), MAX_FILE_PAGES - 1);
    }
    let inode = fs.inode(ino);
    inode.cur.size = size;
    inode.touch();
}

/// `fallocate(PUNCH_HOLE | KEEP_SIZE)` of bytes `[off, off + len)`.
pub fn punch(fs: &mut Fs, ino: u64, off: u64, len: u64) {
    let end = (off + len).min(fs.inode(ino).cur.size);
    if off < end {
        let (first, stop) = (off.div_ceil(PAGE), end / PAGE);
        if first >= stop {
            zero(fs, ino, off, end);
        } else {
            zero(fs, ino, off, first * PAGE);
            zero(fs, ino, stop * PAGE, end);
        }
        fs.media.fence();
        if first < stop {
            remove_pages(fs, ino, first, stop - 1);
        }
    }
    fs.inode(ino).touch();
}

/// `invalidate_inode_pages2_range` over pages `[first, last]`: drops hole
/// pages, and DAX entries that have neither DIRTY nor TOWRITE (post
/// `c6dcf52c23d2`), unmapping what it drops. V7 drops dirty entries too.
pub fn invalidate(fs: &mut Fs, ino: u64, first: u64, last: u64) {
    let keep_dirty = fs.variant != Variant::InvalidateDropsDirtyEntry;
    let entries = fs.inode(ino).tree.entries(first, last);
    for (index, entry, tags) in entries {
        if keep_dirty && radix::is_dax(entry) && tags & (DIRTY | TOWRITE) != 0 {
            continue;
        }
        let span = if radix::is_pmd(entry) { PMD_PAGES } else { 1 };
        fs.mm.zap(ino, index, index + span - 1);
        let inode = fs.inode(ino);
        inode.tree.delete_item(index, entry);
        inode.holes.remove(&index);
    }
}
