//! In-memory inodes: the current metadata, the committed metadata (what
//! the media holds), busy blocks, the mapping tree and its hole pages.

use super::journal::{Field, Update};
use super::layout::{self, I_CTIME, I_MTIME, I_SIZE, I_USED, MAX_FILE_PAGES};
use super::media::Media;
use super::radix::Radix;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;

/// The metadata a transaction commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// Size in bytes.
    pub size: u64,
    /// Modification time (logical clock).
    pub mtime: u64,
    /// Change time (logical clock).
    pub ctime: u64,
    /// Block of each page, 0 for a hole. Shared by the current and the
    /// committed metadata until one changes (a recovery that changes
    /// nothing then writes one block map per inode, not two).
    pub blocks: Rc<Vec<u32>>,
}

impl Meta {
    /// Reads inode `ino` from the media.
    pub fn load(media: &Media, ino: u64) -> Meta {
        let base = layout::inode_off(ino);
        Meta {
            size: media.read_u64(base + I_SIZE),
            mtime: media.read_u64(base + I_MTIME),
            ctime: media.read_u64(base + I_CTIME),
            blocks: Rc::new(
                (0..MAX_FILE_PAGES)
                    .map(|p| media.read_u32(layout::map_off(ino, p)))
                    .collect(),
            ),
        }
    }

    /// An empty file.
    pub fn empty() -> Meta {
        Meta {
            size: 0,
            mtime: 0,
            ctime: 0,
            blocks: Rc::new(vec![0; MAX_FILE_PAGES as usize]),
        }
    }

    /// Writes inode `ino` with plain stores (untraced setup only).
    pub fn store_setup(&self, media: &Media, ino: u64) {
        let base = layout::inode_off(ino);
        media.setup_u64(base + I_USED, 1);
        media.setup_u64(base + I_SIZE, self.size);
        media.setup_u64(base + I_MTIME, self.mtime);
        media.setup_u64(base + I_CTIME, self.ctime);
        for (p, b) in self.blocks.iter().enumerate() {
            media.setup_u32(layout::map_off(ino, p as u64), *b);
        }
    }
}

/// A volatile zero page mapped read-only for reads of a hole.
#[repr(C, align(4096))]
pub struct ZeroPage(pub [u8; 4096]);

/// One file.
pub struct Inode {
    /// Inode number.
    pub ino: u64,
    /// Current metadata.
    pub cur: Meta,
    /// What the last committed transaction left on the media.
    pub committed: Meta,
    /// Blocks freed since the last commit: not reusable until it commits.
    pub busy: Vec<u32>,
    /// `mapping->page_tree`.
    pub tree: Radix,
    /// Hole pages by page index (their addresses are in the tree).
    pub holes: BTreeMap<u64, Box<ZeroPage>>,
}

impl Inode {
    /// An inode whose current and committed metadata are `meta`.
    pub fn new(ino: u64, meta: Meta) -> Inode {
        Inode {
            ino,
            cur: meta.clone(),
            committed: meta,
            busy: Vec::new(),
            tree: Radix::default(),
            holes: BTreeMap::new(),
        }
    }

    /// Sets the block of `page` (0: a hole); returns the old one.
    pub fn set_block(&mut self, page: u64, block: u32) -> u32 {
        core::mem::replace(
            &mut Rc::make_mut(&mut self.cur.blocks)[page as usize],
            block,
        )
    }

    /// The block of `page`, if allocated.
    pub fn block(&self, page: u64) -> Option<u32> {
        self.cur
            .blocks
            .get(page as usize)
            .copied()
            .filter(|b| *b != 0)
    }

    /// The metadata updates from committed to current.
    pub fn updates(&self) -> Vec<Update> {
        let (c, n) = (&self.committed, &self.cur);
        let mut out = Vec::new();
        let mut push = |field, index, value| {
            out.push(Update {
                ino: self.ino,
                field,
                index,
                value,
            })
        };
        if !Rc::ptr_eq(&c.blocks, &n.blocks) {
            for (p, (old, new)) in c.blocks.iter().zip(n.blocks.iter()).enumerate() {
                if old != new {
                    push(Field::Block, p as u64, u64::from(*new));
                }
            }
        }
        if c.size != n.size {
            push(Field::Size, 0, n.size);
        }
        if c.mtime != n.mtime {
            push(Field::Mtime, 0, n.mtime);
        }
        if c.ctime != n.ctime {
            push(Field::Ctime, 0, n.ctime);
        }
        out
    }

    /// `file_update_time`: mtime and ctime from the logical clock.
    pub fn touch(&mut self) {
        let now = pmemvm_sdk::clock::tick();
        self.cur.mtime = now;
        self.cur.ctime = now;
    }
}
