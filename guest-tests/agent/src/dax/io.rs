//! `write(2)` and `read(2)` (`dax_io`): no radix entries; writes use NT
//! stores (cached stores plus `clwb` at unaligned edges) and one fence,
//! zero the unwritten parts of newly allocated blocks (`dax_new_buf`), and
//! end with `invalidate_inode_pages2_range` over the pages written, as
//! `generic_file_direct_write` does.

use super::fs::Fs;
use super::layout::{self, MAX_FILE_PAGES, PAGE};
use super::truncate;
use alloc::vec;
use alloc::vec::Vec;

/// Why an I/O failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoError {
    /// Past the largest file.
    TooBig,
    /// No free block.
    NoSpace,
}

/// `pwrite(ino, data, off)`.
pub fn write(fs: &mut Fs, ino: u64, off: u64, data: &[u8]) -> Result<(), IoError> {
    let end = off + data.len() as u64;
    if data.is_empty() {
        return Ok(());
    }
    if end > MAX_FILE_PAGES * PAGE {
        return Err(IoError::TooBig);
    }
    let (first, last) = (off / PAGE, (end - 1) / PAGE);
    for page in first..=last {
        let from = (page * PAGE).max(off);
        let to = ((page + 1) * PAGE).min(end);
        let block = match fs.inode(ino).block(page) {
            Some(b) => b,
            None => {
                let b = fs.alloc_block(ino, page).ok_or(IoError::NoSpace)?;
                let base = layout::block_off(b);
                fs.media.clear_nt(base, from - page * PAGE);
                fs.media
                    .clear_nt(base + to - page * PAGE, (page + 1) * PAGE - to);
                b
            }
        };
        let chunk = &data[(from - off) as usize..(to - off) as usize];
        fs.media
            .copy_nt(layout::block_off(block) + from - page * PAGE, chunk);
    }
    fs.media.fence();
    let inode = fs.inode(ino);
    inode.cur.size = inode.cur.size.max(end);
    inode.touch();
    truncate::invalidate(fs, ino, first, last);
    Ok(())
}

/// `pread(ino, len, off)`: short at end of file; holes read as zeros.
pub fn read(fs: &mut Fs, ino: u64, off: u64, len: u64) -> Vec<u8> {
    let media = fs.media;
    let inode = fs.inode(ino);
    let end = (off + len).min(inode.cur.size);
    let mut out = vec![0u8; end.saturating_sub(off) as usize];
    for (i, byte) in out.iter_mut().enumerate() {
        let at = off + i as u64;
        if let Some(b) = inode.block(at / PAGE) {
            *byte = media.read_u8(layout::block_off(b) + at % PAGE);
        }
    }
    out
}
