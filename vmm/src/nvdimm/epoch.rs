//! Epoch recording (`--record epochs`): what the guest's stores changed
//! since the last exit.
//!
//! The NVDIMM stays writable with KVM dirty logging, so stores run at
//! native speed. At each exit the VMM asks KVM which pages the guest wrote
//! and compares each with its copy of the page at the last exit (the
//! shadow): every atomicity unit (a line, or an 8-byte word) whose bytes
//! changed becomes one write of the bytes from its first to its last
//! changed byte. Changes come in device-offset order, a fixed order that
//! does not depend on the guest's.
//!
//! Bytes an NT store wrote are *forced*: their unit is written whether they
//! changed or not, its span covers them (an NT store makes its bytes
//! durable at the next fence even when they hold the value an earlier,
//! unflushed store left).

use pmemvm_device::model::{Atomicity, LINE_SIZE};
use std::collections::{BTreeMap, HashMap};

/// Bytes per dirty-log page.
const PAGE_SIZE: u64 = 4096;

/// One changed unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Change {
    /// Device offset of the first changed byte.
    pub offset: u64,
    /// The unit's bytes from the first to the last changed one, as they are now.
    pub data: Vec<u8>,
    /// The whole line, as it was at the last exit.
    pub line_before: [u8; LINE_SIZE as usize],
}

/// A page of the shadow.
type Page = Box<[u8; PAGE_SIZE as usize]>;

/// The shadow of the media at the last exit, sparse: a page it does not
/// hold is all zero (most of a fresh NVDIMM), so starting costs a scan of
/// the media, not a copy of it.
pub(super) struct Shadow {
    pages: HashMap<u64, Page>,
    len: usize,
    unit: usize,
}

/// A page of zeros.
const ZERO: [u8; PAGE_SIZE as usize] = [0; PAGE_SIZE as usize];

impl Shadow {
    /// A shadow of `media` (the media when recording starts).
    pub fn new(media: &[u8], atomicity: Atomicity) -> Shadow {
        let mut pages = HashMap::new();
        for (i, chunk) in media.chunks(PAGE_SIZE as usize).enumerate() {
            if chunk.iter().any(|b| *b != 0) {
                let mut page = Box::new(ZERO);
                page[..chunk.len()].copy_from_slice(chunk);
                pages.insert(i as u64, page);
            }
        }
        Shadow {
            pages,
            len: media.len(),
            unit: atomicity.unit_size() as usize,
        }
    }

    /// The units of `pages` (page numbers from the device's start, as the
    /// dirty log gives them) whose bytes in `media` differ from the shadow,
    /// and the units holding bytes of `forced` (device ranges), in offset
    /// order; the shadow takes their new bytes.
    pub fn changes(&mut self, media: &[u8], pages: &[u64], forced: &[(u64, u64)]) -> Vec<Change> {
        let line = LINE_SIZE as usize;
        let len = self.len.min(media.len());
        // Per line with forced bytes, a bit per byte.
        let mut forced_bits: BTreeMap<usize, u64> = BTreeMap::new();
        for &(offset, size) in forced {
            for b in offset..(offset + size).min(len as u64) {
                let l = (b & !(LINE_SIZE - 1)) as usize;
                *forced_bits.entry(l).or_default() |= 1 << (b as usize - l);
            }
        }
        let mut pages = pages.to_vec();
        pages.extend(forced_bits.keys().map(|l| *l as u64 / PAGE_SIZE));
        pages.sort_unstable();
        pages.dedup();
        let mut out = Vec::new();
        for page in pages {
            let start = (page * PAGE_SIZE) as usize;
            let end = (start + PAGE_SIZE as usize).min(len);
            if start >= end {
                continue;
            }
            let new_page = &media[start..end];
            let old_page = self
                .pages
                .get(&page)
                .map_or(&ZERO[..end - start], |p| &p[..end - start]);
            let has_forced = forced_bits.range(start..end).next().is_some();
            if old_page == new_page && !has_forced {
                continue;
            }
            for l in (start..end).step_by(line) {
                let (old, new) = (
                    &old_page[l - start..][..line],
                    &new_page[l - start..][..line],
                );
                let forced = forced_bits.get(&l).copied().unwrap_or(0);
                if old == new && forced == 0 {
                    continue;
                }
                let mut before = [0u8; LINE_SIZE as usize];
                before.copy_from_slice(old);
                for u in (0..line).step_by(self.unit) {
                    let span = |i: &usize| old[u + i] != new[u + i] || forced & (1 << (u + i)) != 0;
                    let Some(first) = (0..self.unit).find(span) else {
                        continue;
                    };
                    let last = (0..self.unit).rev().find(span).unwrap_or(first);
                    out.push(Change {
                        offset: (l + u + first) as u64,
                        data: new[u + first..=u + last].to_vec(),
                        line_before: before,
                    });
                }
            }
            self.pages.entry(page).or_insert_with(|| Box::new(ZERO))[..end - start]
                .copy_from_slice(new_page);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_units_in_offset_order_from_first_to_last_changed_byte() {
        let media = vec![0u8; 3 * PAGE_SIZE as usize];
        let mut line = Shadow::new(&media, Atomicity::Line);
        let mut word = Shadow::new(&media, Atomicity::Word);
        let mut now = media.clone();
        now[8200] = 1; // page 2
        now[70] = 2; // page 0, line 1
        now[77] = 3; // same line, another word
        now[4096 + 5] = 9; // page 1, not reported dirty
        let got = line.changes(&now, &[2, 0], &[]);
        let offsets: Vec<(u64, usize)> = got.iter().map(|c| (c.offset, c.data.len())).collect();
        assert_eq!(offsets, [(70, 8), (8200, 1)]);
        assert_eq!(got[0].data, [2, 0, 0, 0, 0, 0, 0, 3]);
        let got = word.changes(&now, &[0, 2], &[]);
        let offsets: Vec<(u64, usize)> = got.iter().map(|c| (c.offset, c.data.len())).collect();
        assert_eq!(offsets, [(70, 1), (77, 1), (8200, 1)]);
        // The shadow took the new bytes: nothing changed since.
        assert!(line.changes(&now, &[0, 2], &[]).is_empty());
        // Putting the earlier byte back is a change from the shadow.
        now[8200] = 0;
        let back = line.changes(&now, &[2], &[]);
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].line_before[8200 % 64], 1);
    }

    #[test]
    fn forced_bytes_are_written_changed_or_not() {
        let media = vec![0u8; PAGE_SIZE as usize];
        let mut word = Shadow::new(&media, Atomicity::Word);
        let mut now = media.clone();
        now[130] = 5;
        // An NT store of 8 unchanged bytes at 64 (page not even dirty), and
        // one at 128 whose first two bytes did not change.
        let got = word.changes(&now, &[], &[(64, 8), (128, 8)]);
        let spans: Vec<(u64, usize)> = got.iter().map(|c| (c.offset, c.data.len())).collect();
        assert_eq!(spans, [(64, 8), (128, 8)]);
        assert_eq!(got[1].data, [0, 0, 5, 0, 0, 0, 0, 0]);
    }
}
