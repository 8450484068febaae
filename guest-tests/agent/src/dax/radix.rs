//! The mapping radix tree (`mapping->page_tree`), keyed by page index.
//!
//! A slot holds either a hole page (the address of a volatile zero page,
//! low bits clear) or an exceptional DAX entry `sector << 4 | type` with
//! type [`PTE`] (`0x6`) or [`PMD`] (`0xA`), so lookups compare values
//! bitwise as v4.5 does. A PMD entry occupies only the slot at its aligned
//! index. Tags are per slot ([`DIRTY`], [`TOWRITE`]); the tree is a sorted
//! map, so tagged lookups walk slots in index order. The v4.10 entry lock
//! is a per-slot bit kept beside the value (v4.7 put it in the entry; v4.10
//! compares sectors, not values, so the difference does not show).

use super::layout::PMD_PAGES;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// `RADIX_TREE_EXCEPTIONAL_ENTRY`.
pub const EXCEPTIONAL: u64 = 2;
/// `RADIX_DAX_PTE`.
pub const PTE: u64 = 0x4 | EXCEPTIONAL;
/// `RADIX_DAX_PMD`.
pub const PMD: u64 = 0x8 | EXCEPTIONAL;
/// `RADIX_DAX_SHIFT`.
pub const SHIFT: u32 = 4;

/// `PAGECACHE_TAG_DIRTY`.
pub const DIRTY: u8 = 1 << 0;
/// `PAGECACHE_TAG_TOWRITE`.
pub const TOWRITE: u8 = 1 << 2;

/// `PAGEVEC_SIZE`: the batch of `find_get_entries_tag`.
pub const PAGEVEC: usize = 14;

/// A DAX entry for `sector`.
pub fn dax_entry(sector: u64, pmd: bool) -> u64 {
    (sector << SHIFT) | if pmd { PMD } else { PTE }
}

/// True for an exceptional (DAX) entry.
pub fn is_dax(v: u64) -> bool {
    v & EXCEPTIONAL != 0
}

/// True for a PMD entry.
pub fn is_pmd(v: u64) -> bool {
    v & 0xf == PMD
}

/// `RADIX_DAX_SECTOR`.
pub fn sector(v: u64) -> u64 {
    v >> SHIFT
}

/// `DAX_PMD_INDEX`.
pub fn pmd_index(i: u64) -> u64 {
    i & !(PMD_PAGES - 1)
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    value: u64,
    tags: u8,
    locked: bool,
}

/// One mapping's tree.
#[derive(Default)]
pub struct Radix {
    slots: BTreeMap<u64, Slot>,
    /// `mapping->nrexceptional`.
    pub nrexceptional: u64,
}

impl Radix {
    /// The value at `i`.
    pub fn lookup(&self, i: u64) -> Option<u64> {
        self.slots.get(&i).map(|s| s.value)
    }

    /// Inserts `v` at `i`; false when the slot is occupied.
    pub fn insert(&mut self, i: u64, v: u64) -> bool {
        if self.slots.contains_key(&i) {
            return false;
        }
        self.slots.insert(
            i,
            Slot {
                value: v,
                tags: 0,
                locked: false,
            },
        );
        if is_dax(v) {
            self.nrexceptional += 1;
        }
        true
    }

    /// Deletes the slot at `i` (with its tags) if it still holds `v`.
    pub fn delete_item(&mut self, i: u64, v: u64) -> bool {
        if self.lookup(i) != Some(v) {
            return false;
        }
        self.slots.remove(&i);
        if is_dax(v) {
            self.nrexceptional -= 1;
        }
        true
    }

    /// Sets `tag` on the slot at `i` (if any).
    pub fn tag_set(&mut self, i: u64, tag: u8) {
        if let Some(s) = self.slots.get_mut(&i) {
            s.tags |= tag;
        }
    }

    /// Clears `tag` on the slot at `i`.
    pub fn tag_clear(&mut self, i: u64, tag: u8) {
        if let Some(s) = self.slots.get_mut(&i) {
            s.tags &= !tag;
        }
    }

    /// The tags of the slot at `i`.
    pub fn tags(&self, i: u64) -> u8 {
        self.slots.get(&i).map_or(0, |s| s.tags)
    }

    /// Locks (`true`) or unlocks the entry at `i` (v4.10).
    pub fn set_locked(&mut self, i: u64, locked: bool) {
        if let Some(s) = self.slots.get_mut(&i) {
            s.locked = locked;
        }
    }

    /// True while the entry at `i` is locked.
    pub fn locked(&self, i: u64) -> bool {
        self.slots.get(&i).is_some_and(|s| s.locked)
    }

    /// The index of the DAX entry covering page `i`: the PMD entry at its
    /// head, or a PTE entry at `i`.
    pub fn entry_index(&self, i: u64) -> Option<u64> {
        let head = pmd_index(i);
        match (self.lookup(head), self.lookup(i)) {
            (Some(e), _) if is_pmd(e) => Some(head),
            (_, Some(e)) if is_dax(e) => Some(i),
            _ => None,
        }
    }

    /// True if any slot carries `tag` (`mapping_tagged`).
    pub fn tagged(&self, tag: u8) -> bool {
        self.slots.values().any(|s| s.tags & tag != 0)
    }

    /// `tag_pages_for_writeback`: TOWRITE on every DIRTY slot in
    /// `[start, end]` (DIRTY stays). Returns the indices tagged.
    pub fn tag_pages_for_writeback(&mut self, start: u64, end: u64) -> Vec<u64> {
        let mut tagged = Vec::new();
        for (i, s) in self.slots.range_mut(start..=end) {
            if s.tags & DIRTY != 0 {
                s.tags |= TOWRITE;
                tagged.push(*i);
            }
        }
        tagged
    }

    /// `find_get_entries_tag`: up to `nr` `(index, value)` snapshots of
    /// slots tagged `tag` from `start` upward (no end bound).
    pub fn find_get_entries_tag(&self, start: u64, tag: u8, nr: usize) -> Vec<(u64, u64)> {
        self.slots
            .range(start..)
            .filter(|(_, s)| s.tags & tag != 0)
            .take(nr)
            .map(|(i, s)| (*i, s.value))
            .collect()
    }

    /// Every `(index, value, tags)` with index in `[start, end]`.
    pub fn entries(&self, start: u64, end: u64) -> Vec<(u64, u64, u8)> {
        self.slots
            .range(start..=end)
            .map(|(i, s)| (*i, s.value, s.tags))
            .collect()
    }
}
