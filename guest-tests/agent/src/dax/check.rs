//! Block-map invariants: blocks inside the data area, no block in two
//! places, no block past end of file, sizes within bounds.

use super::alloc::Allocator;
use super::inode::Meta;
use super::layout::{MAX_FILE_PAGES, PAGE, pages_for};
use alloc::format;
use alloc::string::String;

/// Claims every block of `meta` (and the busy blocks) in `alloc`, checking
/// the invariants on the way.
pub fn claim(alloc: &mut Allocator, ino: u64, meta: &Meta, busy: &[u32]) -> Result<(), String> {
    if meta.size > MAX_FILE_PAGES * PAGE {
        return Err(format!("inode {ino}: size {} too large", meta.size));
    }
    let eof = pages_for(meta.size);
    for (p, &b) in meta.blocks.iter().enumerate() {
        if b == 0 {
            continue;
        }
        if p as u64 >= eof {
            return Err(format!(
                "inode {ino}: block {b} at page {p}, past end of file (size {})",
                meta.size
            ));
        }
        if !alloc.claim(b) {
            return Err(format!(
                "inode {ino} page {p}: block {b} is outside the data area or in use twice"
            ));
        }
    }
    for &b in busy {
        if !alloc.claim(b) {
            return Err(format!("inode {ino}: busy block {b} is also in use"));
        }
    }
    Ok(())
}
