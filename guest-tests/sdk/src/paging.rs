//! The guest's page tables, changed from ring 3.
//!
//! The VMM builds an identity map of RAM (4-KiB pages for the first 2 MiB,
//! without the null page, 2-MiB pages above) with every table user-writable,
//! so ring-3 code edits entries directly and asks ring 0 for `invlpg` by
//! system call when it changes or removes a present entry.

use crate::syscall::invlpg;
use alloc::alloc::{Layout, alloc_zeroed};

/// Entry present.
pub const PRESENT: u64 = 1 << 0;
/// Writes allowed.
pub const WRITABLE: u64 = 1 << 1;
/// Ring 3 allowed.
pub const USER: u64 = 1 << 2;
/// Accessed (set by the CPU).
pub const ACCESSED: u64 = 1 << 5;
/// Dirty (set by the CPU).
pub const DIRTY: u64 = 1 << 6;
/// A 2-MiB page in a page directory.
pub const HUGE: u64 = 1 << 7;

const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
const FLAGS_MASK: u64 = 0xfff;

/// Size of a small page.
pub const PAGE_SIZE: u64 = 4096;
/// Size of a huge page.
pub const HUGE_PAGE_SIZE: u64 = 2 << 20;

/// Why a mapping could not be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapError {
    /// An address is not aligned to the page size.
    Unaligned,
    /// The range is already covered by a 2-MiB page (or by 4-KiB pages for a 2-MiB request).
    Conflict,
    /// No memory for a page table.
    OutOfMemory,
    /// Nothing is mapped there.
    NotMapped,
}

/// A translation: where a virtual address lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    /// Physical address of the page.
    pub phys: u64,
    /// Flags of the leaf entry.
    pub flags: u64,
    /// Page size: [`PAGE_SIZE`] or [`HUGE_PAGE_SIZE`].
    pub size: u64,
}

fn index(va: u64, level: u32) -> usize {
    ((va >> (12 + 9 * level)) & 0x1ff) as usize
}

/// The page tables rooted at a PML4 (physical = virtual for tables: they
/// live in identity-mapped RAM).
pub struct PageTables {
    pml4: u64,
}

fn table(phys: u64) -> *mut u64 {
    phys as *mut u64
}

fn new_table() -> Result<u64, MapError> {
    // SAFETY: the layout has a non-zero size.
    let page = unsafe {
        alloc_zeroed(Layout::from_size_align(4096, 4096).map_err(|_| MapError::OutOfMemory)?)
    };
    if page.is_null() {
        return Err(MapError::OutOfMemory);
    }
    Ok(page as u64)
}

impl PageTables {
    /// The tables the guest was booted with.
    pub fn boot() -> PageTables {
        PageTables {
            pml4: crate::boot::boot_info().cr3,
        }
    }

    /// Physical address of the PML4.
    pub fn root(&self) -> u64 {
        self.pml4
    }

    /// Pointer to the entry of `va` at `level` (3 = PML4 .. 0 = PT), creating
    /// missing tables on the way when `create` is set.
    fn entry(&mut self, va: u64, level: u32, create: bool) -> Result<*mut u64, MapError> {
        let mut t = self.pml4;
        for l in (level + 1..=3).rev() {
            // SAFETY: `t` is a page table in identity-mapped RAM.
            let e = unsafe { table(t).add(index(va, l)) };
            // SAFETY: as above.
            let v = unsafe { e.read_volatile() };
            if v & PRESENT == 0 {
                if !create {
                    return Err(MapError::NotMapped);
                }
                let new = new_table()?;
                // SAFETY: as above. Accessed preset: the CPU never writes it.
                unsafe { e.write_volatile(new | PRESENT | WRITABLE | USER | ACCESSED) };
                t = new;
            } else if v & HUGE != 0 {
                return Err(MapError::Conflict);
            } else {
                t = v & ADDR_MASK;
            }
        }
        // SAFETY: `t` is a page table in identity-mapped RAM.
        Ok(unsafe { table(t).add(index(va, level)) })
    }

    /// Maps the 4-KiB page at `va` to `phys`.
    pub fn map_4k(&mut self, va: u64, phys: u64, flags: u64) -> Result<(), MapError> {
        if !va.is_multiple_of(PAGE_SIZE) || !phys.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Unaligned);
        }
        let e = self.entry(va, 0, true)?;
        // SAFETY: `e` points into a page table.
        let old = unsafe { e.read_volatile() };
        // SAFETY: as above.
        unsafe { e.write_volatile(phys | (flags & FLAGS_MASK) | PRESENT) };
        if old & PRESENT != 0 {
            invlpg(va);
        }
        Ok(())
    }

    /// Maps the 2-MiB page at `va` to `phys`.
    pub fn map_2m(&mut self, va: u64, phys: u64, flags: u64) -> Result<(), MapError> {
        if !va.is_multiple_of(HUGE_PAGE_SIZE) || !phys.is_multiple_of(HUGE_PAGE_SIZE) {
            return Err(MapError::Unaligned);
        }
        let e = self.entry(va, 1, true)?;
        // SAFETY: `e` points into a page directory.
        let old = unsafe { e.read_volatile() };
        if old & PRESENT != 0 && old & HUGE == 0 {
            return Err(MapError::Conflict);
        }
        // SAFETY: as above.
        unsafe { e.write_volatile(phys | (flags & FLAGS_MASK) | PRESENT | HUGE) };
        if old & PRESENT != 0 {
            invlpg(va);
        }
        Ok(())
    }

    /// The leaf entry mapping `va`, if any.
    fn leaf(&mut self, va: u64) -> Result<(*mut u64, u64), MapError> {
        let pde = self.entry(va, 1, false)?;
        // SAFETY: `pde` points into a page directory.
        let v = unsafe { pde.read_volatile() };
        if v & PRESENT == 0 {
            return Err(MapError::NotMapped);
        }
        if v & HUGE != 0 {
            return Ok((pde, HUGE_PAGE_SIZE));
        }
        let pte = self.entry(va, 0, false)?;
        // SAFETY: `pte` points into a page table.
        if unsafe { pte.read_volatile() } & PRESENT == 0 {
            return Err(MapError::NotMapped);
        }
        Ok((pte, PAGE_SIZE))
    }

    /// Where `va` is mapped.
    pub fn translate(&mut self, va: u64) -> Option<Mapping> {
        let (e, size) = self.leaf(va).ok()?;
        // SAFETY: `e` points into a page table.
        let v = unsafe { e.read_volatile() };
        let base = v & ADDR_MASK & !(size - 1);
        Some(Mapping {
            phys: base + (va & (size - 1)),
            flags: v & FLAGS_MASK,
            size,
        })
    }

    /// Replaces the flags of the page mapping `va` (keeping PRESENT and HUGE).
    pub fn set_flags(&mut self, va: u64, flags: u64) -> Result<(), MapError> {
        let (e, size) = self.leaf(va)?;
        // SAFETY: `e` points into a page table.
        let v = unsafe { e.read_volatile() };
        let keep = v & (ADDR_MASK | HUGE | PRESENT);
        // SAFETY: as above.
        unsafe { e.write_volatile(keep | (flags & FLAGS_MASK & !HUGE)) };
        invlpg(va & !(size - 1));
        Ok(())
    }

    /// Removes the page mapping `va`; returns what it mapped.
    pub fn unmap(&mut self, va: u64) -> Result<Mapping, MapError> {
        let found = self.translate(va).ok_or(MapError::NotMapped)?;
        let (e, size) = self.leaf(va)?;
        // SAFETY: `e` points into a page table.
        unsafe { e.write_volatile(0) };
        invlpg(va & !(size - 1));
        Ok(found)
    }
}
