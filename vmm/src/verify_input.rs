//! What verify mode is given: the last operation started before the crash
//! point, the promises made before it and the NVDIMM pages written before
//! it, collected from trace events and encoded as the guest reads them (a
//! [`VerifyHeader`], the promises, the written-pages bitmap).

use pmemvm_abi::{Plain, PromiseArgs, VerifyHeader};
use pmemvm_device::model::Model;
use pmemvm_traces::{DeviceRange, Event, EventKind};

/// NVDIMM bytes covered by one byte of the written-pages bitmap.
const PAGE_BITS: u64 = 4096 * 8;

/// What verify mode is given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyInput {
    /// Id of the last operation started (0: none).
    pub last_op: u64,
    /// The promises.
    pub promises: Vec<PromiseArgs>,
    /// One bit per 4-KiB NVDIMM page a traced store wrote before the point.
    pub written_pages: Vec<u8>,
}

impl VerifyInput {
    /// Room for `promises` promises on an NVDIMM of `device_size` bytes:
    /// the largest block a guest booted with it may later be given.
    pub fn capacity(promises: usize, device_size: u64) -> VerifyInput {
        VerifyInput {
            last_op: 0,
            promises: vec![PromiseArgs::default(); promises],
            written_pages: vec![0; usize::try_from(device_size.div_ceil(PAGE_BITS)).unwrap_or(0)],
        }
    }

    /// The bytes of the block the guest reads ([`VerifyHeader`], the
    /// promises, the written-pages bitmap).
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = VerifyHeader {
            last_op: self.last_op,
            promises: self.promises.len() as u64,
            written_bitmap_bytes: self.written_pages.len() as u64,
        };
        let mut bytes = header.as_bytes().to_vec();
        for p in &self.promises {
            bytes.extend_from_slice(p.as_bytes());
        }
        bytes.extend_from_slice(&self.written_pages);
        bytes
    }

    /// Notes what `ev` tells verify mode: a mark's operation, a promise.
    pub fn note(&mut self, ev: &Event) {
        match &ev.kind {
            EventKind::Mark(m) => {
                if let Some(op) = m.op {
                    self.last_op = self.last_op.max(op);
                }
            }
            EventKind::Promise(p) => {
                let range = p
                    .ranges
                    .first()
                    .copied()
                    .unwrap_or(DeviceRange { offset: 0, len: 0 });
                self.promises.push(PromiseArgs {
                    file: p.file,
                    offset: p.offset,
                    len: p.len,
                    op: p.op,
                    range_offset: range.offset,
                    range_len: range.len,
                });
            }
            _ => {}
        }
    }

    /// Sets `written_pages` from the lines the model saw written.
    pub fn note_written(&mut self, model: &Model) {
        let mut bitmap = VerifyInput::capacity(0, model.config().size).written_pages;
        for line in model.touched_lines() {
            let page = line / 4096;
            if let Some(byte) = bitmap.get_mut((page / 8) as usize) {
                *byte |= 1 << (page % 8);
            }
        }
        self.written_pages = bitmap;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_is_the_header_the_promises_and_the_bitmap() {
        let promise = PromiseArgs {
            file: 3,
            offset: 4,
            len: 5,
            op: 6,
            range_offset: 7,
            range_len: 8,
        };
        let input = VerifyInput {
            last_op: 9,
            promises: vec![promise],
            written_pages: vec![0xa5],
        };
        let bytes = input.to_bytes();
        let words: Vec<u64> = bytes[..72]
            .chunks(8)
            .map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")))
            .collect();
        assert_eq!(words, [9, 1, 1, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&bytes[72..], [0xa5]);
        assert_eq!(
            VerifyInput::capacity(2, 64 << 20).to_bytes().len(),
            24 + 2 * 48 + 2048
        );
    }
}
