//! The address space: VMAs of file mappings in a high ring-3 area, and
//! their page-table entries (real 4-KiB PTEs and 2-MiB PMDs).
//!
//! Each mapping gets its own 64-MiB window from PML4 slot 3 on; inside it
//! the mapping starts at `pgoff`'s offset within a PMD, so virtual address
//! and file offset are congruent modulo 2 MiB and huge mappings line up.

use super::layout::{PAGE, PMD_PAGES, PMD_SIZE};
use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use pmemvm_sdk::paging::{DIRTY, HUGE_PAGE_SIZE, Mapping, PRESENT, PageTables, USER, WRITABLE};

/// Start of the mapping area (PML4 slot 3).
pub const MMAP_BASE: u64 = 0x180_0000_0000;
/// Virtual space per mapping.
pub const WINDOW: u64 = 64 << 20;

/// A shared, writable file mapping.
pub struct Vma {
    /// Id returned by `mmap`.
    pub id: u64,
    /// The file.
    pub ino: u64,
    /// First virtual address.
    pub start: u64,
    /// Length in pages.
    pub pages: u64,
    /// File page of `start`.
    pub pgoff: u64,
    /// Huge (PMD) faults allowed.
    pub huge: bool,
    /// PMD-sized areas that have a page table (no PMD can go there).
    pub pte_tables: BTreeSet<u64>,
}

impl Vma {
    /// End of the mapping (exclusive).
    pub fn end(&self) -> u64 {
        self.start + self.pages * PAGE
    }

    /// The file page mapped at `va`.
    pub fn page_of(&self, va: u64) -> u64 {
        self.pgoff + (va - self.start) / PAGE
    }

    /// Where file page `page` is mapped, if inside the mapping.
    pub fn va_of(&self, page: u64) -> Option<u64> {
        (self.pgoff..self.pgoff + self.pages)
            .contains(&page)
            .then(|| self.start + (page - self.pgoff) * PAGE)
    }
}

/// The VMAs of every process.
#[derive(Default)]
pub struct Mm {
    /// Live mappings.
    pub vmas: Vec<Vma>,
    next: u64,
}

fn pt() -> PageTables {
    PageTables::boot()
}

/// What `va` translates to.
pub fn translate(va: u64) -> Option<Mapping> {
    pt().translate(va)
}

fn flags(writable: bool) -> u64 {
    if writable {
        PRESENT | USER | WRITABLE | DIRTY
    } else {
        PRESENT | USER
    }
}

impl Mm {
    /// `mmap(MAP_SHARED)` of `pages` pages of `ino` from `pgoff`; returns its id.
    ///
    /// # Panics
    /// When the mapping does not fit its window (a bug of the workload).
    pub fn mmap(&mut self, ino: u64, pgoff: u64, pages: u64, huge: bool) -> u64 {
        let id = self.next;
        self.next += 1;
        let start = MMAP_BASE + id * WINDOW + (pgoff % PMD_PAGES) * PAGE;
        assert!(start + pages * PAGE <= MMAP_BASE + (id + 1) * WINDOW);
        self.vmas.push(Vma {
            id,
            ino,
            start,
            pages,
            pgoff,
            huge,
            pte_tables: BTreeSet::new(),
        });
        id
    }

    /// The VMA with id `id`.
    ///
    /// # Panics
    /// When it is not mapped (a bug of the workload).
    pub fn vma(&self, id: u64) -> &Vma {
        match self.vmas.iter().find(|v| v.id == id) {
            Some(v) => v,
            None => panic!("dax: no mapping {id}"),
        }
    }

    /// Index of the VMA containing `va`.
    pub fn find(&self, va: u64) -> Option<usize> {
        self.vmas
            .iter()
            .position(|v| (v.start..v.end()).contains(&va))
    }

    /// Installs a PTE in VMA `v`.
    pub fn map_pte(&mut self, v: usize, va: u64, phys: u64, writable: bool) -> bool {
        self.vmas[v].pte_tables.insert(va & !(PMD_SIZE - 1));
        pt().map_4k(va, phys, flags(writable)).is_ok()
    }

    /// Installs a PMD in VMA `v` (the caller checked there is no page table).
    pub fn map_pmd(&mut self, va: u64, phys: u64, writable: bool) -> bool {
        pt().map_2m(va, phys, flags(writable)).is_ok()
    }

    /// Makes the PTE at `va` writable and dirty (`wp_page_reuse`).
    pub fn make_writable(&mut self, va: u64) -> bool {
        pt().set_flags(va, flags(true)).is_ok()
    }

    /// Makes the page or PMD mapping `va` read-only and clean
    /// (`ptep_clear_flush` + `pte_wrprotect` + `pte_mkclean`).
    pub fn wrprotect(&mut self, va: u64) -> bool {
        pt().set_flags(va, flags(false)).is_ok()
    }

    /// `unmap_mapping_range`: removes the translations of file pages
    /// `[first, last]` of `ino` from every VMA (a PMD covering any of them
    /// goes whole).
    pub fn zap(&mut self, ino: u64, first: u64, last: u64) {
        for v in self.vmas.iter().filter(|v| v.ino == ino) {
            zap_vma(v, first, last);
        }
    }

    /// `munmap`: removes the VMA and its translations; no flush, and the
    /// mapping tree is untouched.
    pub fn munmap(&mut self, id: u64) {
        if let Some(at) = self.vmas.iter().position(|v| v.id == id) {
            let v = self.vmas.remove(at);
            zap_vma(&v, v.pgoff, v.pgoff + v.pages - 1);
        }
    }
}

fn zap_vma(v: &Vma, first: u64, last: u64) {
    let mut page = first.max(v.pgoff);
    let last = last.min(v.pgoff + v.pages - 1);
    let mut tables = pt();
    while page <= last {
        let Some(va) = v.va_of(page) else { break };
        match tables.translate(va) {
            Some(m) if m.size == HUGE_PAGE_SIZE => {
                let head = va & !(HUGE_PAGE_SIZE - 1);
                let _ = tables.unmap(head);
                page += (head + HUGE_PAGE_SIZE - va) / PAGE;
            }
            Some(_) => {
                let _ = tables.unmap(va);
                page += 1;
            }
            None => page += 1,
        }
    }
}
