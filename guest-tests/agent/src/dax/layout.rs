//! Geometry of the file system on the media.
//!
//! ```text
//! block 0            superblock
//! blocks 1..17       journal (one transaction: header, commit word, entries)
//! blocks 32..64      inode table: 8 inodes of 4 blocks (header, block map)
//! blocks 512..       data blocks (from 2 MiB, so extents can be PMD-aligned)
//! ```

/// Page and block size.
pub const PAGE: u64 = 4096;
/// Pages per PMD (2 MiB).
pub const PMD_PAGES: u64 = 512;
/// Bytes per PMD.
pub const PMD_SIZE: u64 = PAGE * PMD_PAGES;
/// Sector size: radix entries store sectors, as in v4.5.
pub const SECTOR: u64 = 512;
/// Cache line.
pub const LINE: u64 = 64;

/// Superblock magic.
pub const MAGIC: u64 = u64::from_le_bytes(*b"PMEMDAX1");
/// Inodes in the table (inode numbers 1..=MAX_INODES).
pub const MAX_INODES: u64 = 8;
/// Largest file, in pages (8 MiB).
pub const MAX_FILE_PAGES: u64 = 2048;

/// First journal block.
pub const JOURNAL_BLOCK: u64 = 1;
/// Journal length in blocks.
pub const JOURNAL_BLOCKS: u64 = 16;
/// Journal: device offset of the transaction sequence number.
pub const J_SEQ: u64 = JOURNAL_BLOCK * PAGE;
/// Journal: offset of the entry count.
pub const J_COUNT: u64 = J_SEQ + 8;
/// Journal: offset of the commit word (its own line).
pub const J_COMMIT: u64 = J_SEQ + LINE;
/// Journal: offset of the first entry (16 bytes each: key, value).
pub const J_ENTRIES: u64 = J_SEQ + 2 * LINE;
/// Entries a transaction holds.
pub const J_CAPACITY: u64 = (JOURNAL_BLOCKS * PAGE - 2 * LINE) / 16;

/// First block of the inode table.
pub const INODE_BLOCK: u64 = 32;
/// Blocks per inode.
pub const INODE_BLOCKS: u64 = 4;
/// Inode header: in-use flag.
pub const I_USED: u64 = 0;
/// Inode header: size.
pub const I_SIZE: u64 = 8;
/// Inode header: mtime.
pub const I_MTIME: u64 = 16;
/// Inode header: ctime.
pub const I_CTIME: u64 = 24;
/// Inode: offset of the block map (`u32` per page, 0 = hole).
pub const I_MAP: u64 = PAGE;

/// First data block.
pub const DATA_BLOCK: u64 = 512;

/// Superblock field offsets.
pub mod sb {
    /// Magic.
    pub const MAGIC: u64 = 0;
    /// Number of blocks of the device.
    pub const BLOCKS: u64 = 8;
}

/// Device offset of inode `ino`'s header.
pub fn inode_off(ino: u64) -> u64 {
    (INODE_BLOCK + (ino - 1) * INODE_BLOCKS) * PAGE
}

/// Device offset of the block-map slot of `page` of inode `ino`.
pub fn map_off(ino: u64, page: u64) -> u64 {
    inode_off(ino) + I_MAP + page * 4
}

/// Device offset of a block.
pub fn block_off(block: u32) -> u64 {
    u64::from(block) * PAGE
}

/// The sector of a block.
pub fn block_sector(block: u32) -> u64 {
    u64::from(block) * (PAGE / SECTOR)
}

/// Pages needed for `bytes`.
pub fn pages_for(bytes: u64) -> u64 {
    bytes.div_ceil(PAGE)
}
