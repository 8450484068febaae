//! The RAM window a verifier restores whole after every run instead of
//! having KVM log writes to it.
//!
//! With dirty logging, the first write of a run to each logged page costs
//! a write-protection fault (~5 µs under PVM, measured); copying a page
//! back costs a fraction of a microsecond. Recovery code writes the same
//! pages run after run (the top of its stack, the heap it allocates from),
//! so the pages a run wrote, where they lie close together, are cheaper to
//! restore unconditionally.

use std::ops::Range;

/// A logged page written costs about as much as copying this many pages.
const FAULT_IN_COPIES: u64 = 16;
/// Widest window, in pages.
pub const MAX_PAGES: u64 = 128;
/// Fewest written pages for which a window pays for registering the RAM
/// memslots again (once per verifier).
pub const MIN_WRITTEN: usize = 8;
/// Pages added above the last written one, for runs whose heap reaches a
/// little further.
pub const HEADROOM: u64 = 8;
/// Pages added below the first written one, for runs whose stack (which
/// grows down) reaches a little deeper.
pub const FOOTROOM: u64 = 4;

/// The window, in page numbers, that saves the most: of `written` (page
/// numbers a run wrote), the pages it holds cost a fault each when logged,
/// and each of its pages a copy; at most [`MAX_PAGES`], plus [`FOOTROOM`]
/// and [`HEADROOM`], within `ram_pages`. `None` when the best one holds
/// fewer than [`MIN_WRITTEN`] written pages.
pub fn choose(written: &[u64], ram_pages: u64) -> Option<Range<u64>> {
    let mut pages: Vec<u64> = written.iter().copied().filter(|&p| p < ram_pages).collect();
    pages.sort_unstable();
    pages.dedup();
    let mut best: Option<(u64, usize, Range<u64>)> = None;
    for lo in 0..pages.len() {
        for hi in lo..pages.len() {
            let span = pages[hi] + 1 - pages[lo];
            if span > MAX_PAGES {
                break;
            }
            let count = hi + 1 - lo;
            let saved = (count as u64 * FAULT_IN_COPIES).saturating_sub(span);
            if best.as_ref().is_none_or(|(s, _, _)| saved > *s) {
                best = Some((saved, count, pages[lo]..pages[hi] + 1));
            }
        }
    }
    let (_, count, range) = best?;
    (count >= MIN_WRITTEN)
        .then(|| range.start.saturating_sub(FOOTROOM)..(range.end + HEADROOM).min(ram_pages))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_the_densest_run_of_written_pages() {
        // Two page tables and a page far below, the stack top and a heap
        // above it.
        let written: Vec<u64> = [5, 6, 0x13b]
            .into_iter()
            .chain(0x178..0x17c)
            .chain(0x18f..0x1a3)
            .collect();
        assert_eq!(
            choose(&written, 0x4000),
            Some(0x178 - FOOTROOM..0x1a3 + HEADROOM)
        );
    }

    #[test]
    fn stays_within_ram_and_max_pages() {
        let written: Vec<u64> = (0..MAX_PAGES * 3).step_by(2).collect();
        let w = choose(&written, MAX_PAGES * 3);
        assert!(w.is_some_and(|w| w.end - w.start <= FOOTROOM + MAX_PAGES + HEADROOM));
        let w = choose(&(0..10).chain(90..100).collect::<Vec<_>>(), 100);
        assert_eq!(w, Some(0..100), "within RAM at both ends");
    }

    #[test]
    fn too_few_pages_make_no_window() {
        assert_eq!(choose(&[1, 2, 3], 1000), None);
        assert_eq!(choose(&[], 1000), None);
        let sparse: Vec<u64> = (0..20).map(|i| i * MAX_PAGES).collect();
        assert_eq!(choose(&sparse, 20 * MAX_PAGES), None);
        // Pages beyond RAM do not count.
        assert_eq!(choose(&(2000..2020).collect::<Vec<_>>(), 1000), None);
    }
}
