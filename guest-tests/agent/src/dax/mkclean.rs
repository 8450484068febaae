//! `dax_mapping_entry_mkclean` (v4.10, with the later fixes `f729c8c9b24f`
//! and `06083a0921fd`): before an entry is flushed and its DIRTY tag
//! cleared, every PTE and PMD of every VMA that maps any page of the entry
//! is write-protected and cleaned, so the next store faults and re-dirties
//! it. V9 is the code before those fixes: it visits only VMAs mapping the
//! entry's head page, only at that page, and never touches a PMD.

use super::fs::Fs;
use super::layout::{PAGE, PMD_PAGES, SECTOR};
use super::mm;
use super::radix;
use super::variant::Variant;
use alloc::vec::Vec;
use pmemvm_sdk::paging::{DIRTY, HUGE_PAGE_SIZE, WRITABLE};

/// Write-protects and cleans the mappings of `entry` (at `index` of `ino`).
pub fn mkclean(fs: &mut Fs, ino: u64, index: u64, entry: u64) {
    let pages = if radix::is_pmd(entry) { PMD_PAGES } else { 1 };
    let lo = fs.media.addr(radix::sector(entry) * SECTOR);
    let hi = lo + pages * PAGE;
    let old = fs.variant == Variant::CleanWithoutWrprotect;
    let mut targets = Vec::new();
    for vma in fs.mm.vmas.iter().filter(|v| v.ino == ino) {
        let range = if old {
            index..index + 1
        } else {
            index..index + pages
        };
        targets.extend(range.filter_map(|p| vma.va_of(p)));
    }
    for va in targets {
        let Some(m) = mm::translate(va) else { continue };
        let huge = m.size == HUGE_PAGE_SIZE;
        if (lo..hi).contains(&m.phys) && m.flags & (WRITABLE | DIRTY) != 0 && !(old && huge) {
            fs.mm.wrprotect(va);
        }
    }
}
