//! Identity-mapped page tables for guest RAM.
//!
//! The first 2 MiB use 4-KiB pages with the null page absent; the rest of
//! RAM uses 2-MiB pages (not 1-GiB ones: KVM's software walker consults the
//! guest's CPUID for those). Every entry is user-accessible and writable,
//! so ring-3 guest code can change the tables itself.

use pmemvm_abi::layout;

/// Present, writable, user, accessed: the CPU never has to set the
/// accessed bit, so it never writes the tables (a reused verify VM can then
/// tell that a run left them alone).
const PRW_USER: u64 = 0x27;
/// Dirty, preset on leaf entries for the same reason.
const DIRTY: u64 = 0x40;
/// 2-MiB page.
const HUGE: u64 = 0x80;
const TWO_MIB: u64 = 2 << 20;
const ONE_GIB: u64 = 1 << 30;

/// Table pages to write: `(guest-physical address, 512 entries)`.
pub fn identity_tables(ram_size: u64) -> Vec<(u64, Vec<u64>)> {
    let gibs = ram_size.div_ceil(ONE_GIB);
    let mut pml4 = vec![0u64; 512];
    pml4[0] = layout::PDPT | PRW_USER;
    let mut pdpt = vec![0u64; 512];
    let mut tables = Vec::new();
    for g in 0..gibs {
        let pd_addr = layout::PD + g * 0x1000;
        pdpt[g as usize] = pd_addr | PRW_USER;
        let mut pd = vec![0u64; 512];
        for (i, e) in pd.iter_mut().enumerate() {
            let addr = g * ONE_GIB + i as u64 * TWO_MIB;
            if addr == 0 {
                *e = layout::PT0 | PRW_USER;
            } else if addr < ram_size {
                *e = addr | PRW_USER | DIRTY | HUGE;
            }
        }
        tables.push((pd_addr, pd));
    }
    let pt0 = (0..512u64)
        .map(|i| {
            if i == 0 {
                0
            } else {
                (i << 12) | PRW_USER | DIRTY
            }
        })
        .collect();
    tables.push((layout::PT0, pt0));
    tables.push((layout::PML4, pml4));
    tables.push((layout::PDPT, pdpt));
    tables
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_ram_identically_without_the_null_page() {
        let t = identity_tables(64 << 20);
        let find = |a: u64| &t.iter().find(|(addr, _)| *addr == a).expect("table").1;
        assert_eq!(find(layout::PML4)[0], layout::PDPT | 0x27);
        assert_eq!(find(layout::PD)[0], layout::PT0 | 0x27);
        assert_eq!(find(layout::PD)[1], TWO_MIB | 0xe7);
        assert_eq!(find(layout::PD)[32], 0, "nothing above 64 MiB");
        assert_eq!(find(layout::PT0)[0], 0, "null page absent");
        assert_eq!(find(layout::PT0)[1], 0x1067);
    }
}
