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
use std::collections::BTreeMap;

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

/// The shadow of the media at the last exit.
pub(super) struct Shadow {
    bytes: Vec<u8>,
    unit: usize,
}

impl Shadow {
    /// A shadow of `media` (the media when recording starts).
    pub fn new(media: &[u8], atomicity: Atomicity) -> Shadow {
        Shadow {
            bytes: media.to_vec(),
            unit: atomicity.unit_size() as usize,
        }
    }

    /// The units of `pages` (page numbers from the device's start, as the
    /// dirty log gives them) whose bytes in `media` differ from the shadow,
    /// and the units holding bytes of `forced` (device ranges), in offset
    /// order; the shadow takes their new bytes.
    pub fn changes(&mut self, media: &[u8], pages: &[u64], forced: &[(u64, u64)]) -> Vec<Change> {
        let line = LINE_SIZE as usize;
        let len = self.bytes.len().min(media.len());
        // Lines to look at, and per line the forced bytes (a bit per byte).
        let mut lines: BTreeMap<usize, u64> = BTreeMap::new();
        for page in pages {
            let start = (page * PAGE_SIZE) as usize;
            for l in (start..(start + PAGE_SIZE as usize).min(len)).step_by(line) {
                lines.entry(l).or_default();
            }
        }
        for &(offset, size) in forced {
            for b in offset..(offset + size).min(len as u64) {
                let l = (b & !(LINE_SIZE - 1)) as usize;
                *lines.entry(l).or_default() |= 1 << (b as usize - l);
            }
        }
        let mut out = Vec::new();
        for (l, forced) in lines {
            let (old, new) = (&self.bytes[l..l + line], &media[l..l + line]);
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
            self.bytes[l..l + line].copy_from_slice(new);
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
