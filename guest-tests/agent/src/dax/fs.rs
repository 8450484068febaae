//! The mounted file system: inodes, allocator, journal sequence, address
//! space, the current operation id; mount (journal replay and allocator
//! rebuild), block allocation, the metadata commit and the consistency
//! check of the whole.

use super::alloc::Allocator;
use super::check;
use super::inode::{Inode, Meta};
use super::journal::{self, Field};
use super::layout::{self, I_USED, MAGIC, MAX_INODES, PAGE, sb};
use super::marks;
use super::media::Media;
use super::mm::Mm;
use super::variant::Variant;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The file system.
pub struct Fs {
    /// The device.
    pub media: Media,
    /// Inodes in use, by ascending number.
    pub inodes: Vec<Inode>,
    /// Block allocator.
    pub alloc: Allocator,
    /// Sequence number of the last transaction.
    pub seq: u64,
    /// The address space (VMAs of every "process").
    pub mm: Mm,
    /// Id of the operation running (for marks).
    pub op: u64,
    /// The behaviour switches.
    pub variant: Variant,
    /// Fault injection (V4): the next radix-tree insert fails (`-ENOMEM`).
    pub fail_next_insert: bool,
}

impl Fs {
    /// Mounts: checks the superblock, replays the journal, loads the
    /// committed inodes and rebuilds the allocator from their block maps.
    pub fn mount(media: Media, variant: Variant) -> Result<Fs, String> {
        if media.read_u64(sb::MAGIC) != MAGIC {
            return Err("no file system: bad superblock magic".into());
        }
        let blocks = media.read_u64(sb::BLOCKS);
        if blocks != media.size / PAGE {
            return Err(format!(
                "superblock says {blocks} blocks, the device has {}",
                media.size / PAGE
            ));
        }
        let seq = journal::replay(&media)?;
        let mut alloc = Allocator::new(layout::DATA_BLOCK as u32, blocks as u32);
        let mut inodes = Vec::new();
        for ino in 1..=MAX_INODES {
            if media.read_u64(layout::inode_off(ino) + I_USED) == 0 {
                continue;
            }
            let meta = Meta::load(&media, ino);
            check::claim(&mut alloc, ino, &meta, &[])?;
            inodes.push(Inode::new(ino, meta));
        }
        Ok(Fs {
            media,
            inodes,
            alloc,
            seq,
            mm: Mm::default(),
            op: 0,
            variant,
            fail_next_insert: false,
        })
    }

    /// Inode `ino`.
    ///
    /// # Panics
    /// When it does not exist (a bug of the workload).
    pub fn inode(&mut self, ino: u64) -> &mut Inode {
        match self.inodes.iter_mut().find(|i| i.ino == ino) {
            Some(i) => i,
            None => panic!("dax: no inode {ino}"),
        }
    }

    /// Allocates a block for `page` of `ino` and records it in the current
    /// block map. The caller zeroes it before anything can see it.
    pub fn alloc_block(&mut self, ino: u64, page: u64) -> Option<u32> {
        let b = self.alloc.alloc()?;
        self.inode(ino).set_block(page, b);
        marks::page(
            "alloc",
            self.op,
            ino,
            page,
            Some((layout::block_off(b), PAGE)),
        );
        Some(b)
    }

    /// Removes the block of `page` from the current map; it stays busy
    /// until the commit.
    pub fn free_page(&mut self, ino: u64, page: u64) {
        let inode = self.inode(ino);
        let b = inode.set_block(page, 0);
        if b != 0 {
            inode.busy.push(b);
        }
    }

    /// Device range of `page` of `ino`, if allocated.
    pub fn page_range(&mut self, ino: u64, page: u64) -> Option<(u64, u64)> {
        self.inode(ino)
            .block(page)
            .map(|b| (layout::block_off(b), PAGE))
    }

    /// `fs_commit_metadata`: journals the inode's changed metadata, then
    /// releases the blocks its transaction freed. With `datasync`
    /// (fdatasync, msync) timestamps alone commit nothing.
    pub fn commit(&mut self, ino: u64, datasync: bool) {
        let updates = self.inode(ino).updates();
        let timestamps = |u: &journal::Update| matches!(u.field, Field::Mtime | Field::Ctime);
        if updates.is_empty() || (datasync && updates.iter().all(timestamps)) {
            return;
        }
        let op = self.op;
        marks::mark("commit-begin", op, Some(ino), None, None);
        self.seq += 1;
        journal::commit(&self.media, self.seq, &updates);
        let inode = self.inode(ino);
        inode.committed = inode.cur.clone();
        let busy = core::mem::take(&mut inode.busy);
        for b in busy {
            self.alloc.free(b);
        }
        marks::mark("commit-end", op, Some(ino), None, None);
    }

    /// Checks the in-memory state: every block of every current map and
    /// busy list is claimed exactly once, and the allocator counts exactly
    /// those as used.
    pub fn check_consistency(&self) -> Result<(), String> {
        let mut fresh = Allocator::new(0, self.alloc.blocks());
        for i in &self.inodes {
            check::claim(&mut fresh, i.ino, &i.cur, &i.busy)?;
        }
        if fresh.used() != self.alloc.used() {
            return Err(format!(
                "the allocator counts {} used blocks, the block maps hold {}",
                self.alloc.used(),
                fresh.used()
            ));
        }
        Ok(())
    }
}
