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
    let end = (off + len).min(fs.inode(ino).cur.size);
    let mut out = vec![0u8; end.saturating_sub(off) as usize];
    read_into(fs, ino, off, &mut out);
    out
}

/// Fills `buf` with the bytes of `ino` at `off`: zeros for holes and past
/// end of file; aligned words are loaded a word at a time.
pub fn read_into(fs: &mut Fs, ino: u64, off: u64, buf: &mut [u8]) {
    let media = fs.media;
    let inode = fs.inode(ino);
    let size = inode.cur.size;
    let mut done = 0;
    while done < buf.len() {
        let at = off + done as u64;
        let n = (((at / PAGE + 1) * PAGE - at) as usize).min(buf.len() - done);
        let dst = &mut buf[done..done + n];
        match inode.block(at / PAGE).filter(|_| at < size) {
            Some(b) => copy_from_media(&media, layout::block_off(b) + at % PAGE, dst),
            None => dst.fill(0),
        }
        let valid = size.saturating_sub(at).min(n as u64) as usize;
        dst[valid..].fill(0);
        done += n;
    }
}

/// Loads `dst.len()` bytes of the device at `off`, aligned words at once.
fn copy_from_media(media: &super::media::Media, off: u64, dst: &mut [u8]) {
    let head = ((off.next_multiple_of(8) - off) as usize).min(dst.len());
    let (first, rest) = dst.split_at_mut(head);
    for (i, b) in first.iter_mut().enumerate() {
        *b = media.read_u8(off + i as u64);
    }
    let base = off + head as u64;
    let whole = (rest.len() / 8 * 8) as u64;
    let mut words = rest.chunks_exact_mut(8);
    for (i, w) in words.by_ref().enumerate() {
        w.copy_from_slice(&media.read_u64(base + 8 * i as u64).to_le_bytes());
    }
    let tail = words.into_remainder();
    let at = base + whole;
    for (i, b) in tail.iter_mut().enumerate() {
        *b = media.read_u8(at + i as u64);
    }
}
