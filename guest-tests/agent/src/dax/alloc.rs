//! The block allocator: first fit over the data blocks. Blocks freed by a
//! truncate or punch are *busy* (held by their inode) until the transaction
//! that frees them commits, as XFS busy extents are; mount rebuilds the
//! allocator from the committed block maps.

use alloc::vec;
use alloc::vec::Vec;

/// Which blocks are in use.
pub struct Allocator {
    used: Vec<bool>,
    first: u32,
}

impl Allocator {
    /// Every block from `first` to `blocks` free.
    pub fn new(first: u32, blocks: u32) -> Allocator {
        Allocator {
            used: vec![false; blocks as usize],
            first,
        }
    }

    /// Blocks of the device.
    pub fn blocks(&self) -> u32 {
        self.used.len() as u32
    }

    /// True for a data block number.
    pub fn is_data(&self, b: u32) -> bool {
        (self.first..self.blocks()).contains(&b)
    }

    /// Marks `b` used; false if it was already used or is no data block.
    pub fn claim(&mut self, b: u32) -> bool {
        if !self.is_data(b) || self.used[b as usize] {
            return false;
        }
        self.used[b as usize] = true;
        true
    }

    /// The lowest free block, now used.
    pub fn alloc(&mut self) -> Option<u32> {
        let b = (self.first..self.blocks()).find(|&b| !self.used[b as usize])?;
        self.used[b as usize] = true;
        Some(b)
    }

    /// Returns `b` to the free pool (after its freeing transaction committed).
    pub fn free(&mut self, b: u32) {
        self.used[b as usize] = false;
    }

    /// Number of used blocks.
    pub fn used(&self) -> usize {
        self.used.iter().filter(|u| **u).count()
    }
}
