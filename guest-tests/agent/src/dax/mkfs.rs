//! Formatting and preallocation, in the untraced setup phase (plain stores:
//! the VMM takes whatever the media holds at `setup_done` as the initial
//! image).

use super::inode::Meta;
use super::layout::{
    self, DATA_BLOCK, J_COMMIT, J_COUNT, J_SEQ, MAGIC, MAX_FILE_PAGES, MAX_INODES, PAGE, PMD_PAGES,
    pages_for, sb,
};
use super::media::Media;

/// A file created by the setup.
#[derive(Debug, Clone, Copy)]
pub struct FileSpec {
    /// Inode number (1..=8).
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Pages `0..allocated` get blocks (one PMD-aligned extent) and the
    /// pattern; the rest are holes.
    pub allocated: u64,
}

impl FileSpec {
    /// A file of `pages` pages whose first `allocated` have blocks.
    pub fn new(ino: u64, pages: u64, allocated: u64) -> FileSpec {
        FileSpec {
            ino,
            size: pages * PAGE,
            allocated,
        }
    }
}

/// The first block of each file's setup extent, in the order of `files`:
/// one PMD-aligned extent per file, from the first data block.
pub fn extents(files: &[FileSpec]) -> impl Iterator<Item = (FileSpec, u64)> + '_ {
    files.iter().scan(DATA_BLOCK, |next, f| {
        let first = *next;
        *next = (first + f.allocated).next_multiple_of(PMD_PAGES);
        Some((*f, first))
    })
}

/// Formats the device and creates `files`; `pattern(ino, offset)` gives the
/// 8 bytes at an 8-aligned file offset of an allocated page.
///
/// # Panics
/// When the files do not fit (a bug of the scenario).
pub fn format(media: &Media, files: &[FileSpec], pattern: fn(u64, u64) -> u64) {
    let blocks = media.size / PAGE;
    media.setup_u64(sb::MAGIC, MAGIC);
    media.setup_u64(sb::BLOCKS, blocks);
    for off in [J_SEQ, J_COUNT, J_COMMIT] {
        media.setup_u64(off, 0);
    }
    for ino in 1..=MAX_INODES {
        Meta::empty().store_setup(media, ino);
        media.setup_u64(layout::inode_off(ino) + layout::I_USED, 0);
    }
    for (f, first) in extents(files) {
        assert!(f.allocated <= pages_for(f.size) && pages_for(f.size) <= MAX_FILE_PAGES);
        let mut meta = Meta::empty();
        meta.size = f.size;
        for p in 0..f.allocated {
            let block = first + p;
            assert!(block < blocks, "setup: files do not fit the device");
            alloc::rc::Rc::make_mut(&mut meta.blocks)[p as usize] = block as u32;
            for w in 0..PAGE / 8 {
                media.setup_u64(block * PAGE + w * 8, pattern(f.ino, p * PAGE + w * 8));
            }
        }
        meta.store_setup(media, f.ino);
    }
}
