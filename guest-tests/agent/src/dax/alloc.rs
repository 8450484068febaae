//! The block allocator: first fit over the data blocks. Blocks freed by a
//! truncate or punch are *busy* (held by their inode) until the transaction
//! that frees them commits, as XFS busy extents are; mount rebuilds the
//! allocator from the committed block maps.

use alloc::vec;
use alloc::vec::Vec;

/// Which blocks are in use: a bit per block (a verify run writes few pages:
/// each page a run writes costs a write-protection fault for the VMM's
/// dirty log).
pub struct Allocator {
    used: Vec<u64>,
    blocks: u32,
    first: u32,
}

impl Allocator {
    /// Every block from `first` to `blocks` free.
    pub fn new(first: u32, blocks: u32) -> Allocator {
        Allocator {
            used: vec![0; (blocks as usize).div_ceil(64)],
            blocks,
            first,
        }
    }

    /// Blocks of the device.
    pub fn blocks(&self) -> u32 {
        self.blocks
    }

    /// True for a data block number.
    pub fn is_data(&self, b: u32) -> bool {
        (self.first..self.blocks()).contains(&b)
    }

    fn is_used(&self, b: u32) -> bool {
        self.used[b as usize / 64] & (1 << (b % 64)) != 0
    }

    fn set(&mut self, b: u32, used: bool) {
        let (word, bit) = (&mut self.used[b as usize / 64], 1u64 << (b % 64));
        if used {
            *word |= bit;
        } else {
            *word &= !bit;
        }
    }

    /// Marks `b` used; false if it was already used or is no data block.
    pub fn claim(&mut self, b: u32) -> bool {
        if !self.is_data(b) || self.is_used(b) {
            return false;
        }
        self.set(b, true);
        true
    }

    /// The lowest free block, now used.
    pub fn alloc(&mut self) -> Option<u32> {
        let b = (self.first..self.blocks()).find(|&b| !self.is_used(b))?;
        self.set(b, true);
        Some(b)
    }

    /// Returns `b` to the free pool (after its freeing transaction committed).
    pub fn free(&mut self, b: u32) {
        self.set(b, false);
    }

    /// Number of used blocks.
    pub fn used(&self) -> usize {
        self.used.iter().map(|w| w.count_ones() as usize).sum()
    }
}
