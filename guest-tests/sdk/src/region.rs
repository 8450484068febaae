//! The persistent region as a bounds-checked, typed view: integers and
//! byte slices read and written at offsets, sub-regions, and libpmem's
//! flush, drain and persist over ranges of it, every one recorded.
//!
//! Offsets are relative to the region; an access outside it panics (the
//! VMM reports the guest's panic with its message), it never touches
//! memory outside the NVDIMM. Stores are aligned 8-byte words where they
//! can be (one VM exit each while recording), single bytes only at
//! unaligned edges. The accessors are always inlined, so that pmemvm
//! names the caller's function as the place of each store.

use crate::pmem;

/// A range of the NVDIMM, mapped in the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Guest-physical (= virtual) address of the first byte.
    base: u64,
    /// Device offset of the first byte.
    offset: u64,
    /// Length in bytes.
    len: u64,
}

impl Region {
    /// The whole NVDIMM, mapped (through [`pmem::init`]).
    ///
    /// # Panics
    /// When the guest has no usable NVDIMM.
    pub fn nvdimm() -> Region {
        match pmem::init() {
            Ok(d) => Region {
                base: d.base,
                offset: 0,
                len: d.size,
            },
            Err(e) => panic!("no usable NVDIMM: {e:?}"),
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the region has no byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Device offset of the region's first byte (what traces and reports
    /// name).
    pub fn device_offset(&self) -> u64 {
        self.offset
    }

    /// The sub-region of `len` bytes at `offset`.
    ///
    /// # Panics
    /// When it does not lie inside this region.
    pub fn sub(&self, offset: u64, len: u64) -> Region {
        let at = self.check(offset, len);
        Region {
            base: at,
            offset: self.offset + offset,
            len,
        }
    }

    /// The address of `len` bytes at `offset`, checked.
    #[inline(always)]
    fn check(&self, offset: u64, len: u64) -> u64 {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => self.base + offset,
            _ => panic!(
                "region access of {len} bytes at offset {offset:#x} outside the region's {:#x} bytes (device offset {:#x})",
                self.len, self.offset
            ),
        }
    }

    /// The address of the aligned 8-byte word at `offset`, checked.
    #[inline(always)]
    fn word(&self, offset: u64) -> *mut u64 {
        let at = self.check(offset, 8);
        assert!(
            at.is_multiple_of(8),
            "8-byte access at offset {offset:#x} is not aligned"
        );
        at as *mut u64
    }

    /// The `u64` at `offset` (8-aligned).
    #[inline(always)]
    pub fn read_u64(&self, offset: u64) -> u64 {
        // SAFETY: checked: inside the mapped region, aligned.
        unsafe { self.word(offset).read_volatile() }
    }

    /// Stores `value` at `offset` (8-aligned): one store.
    #[inline(always)]
    pub fn write_u64(&self, offset: u64, value: u64) {
        // SAFETY: checked: inside the mapped region, aligned.
        unsafe { self.word(offset).write_volatile(value) }
    }

    /// Stores `value` at `offset` (8-aligned) with a non-temporal store
    /// (`movnti`): it bypasses the cache and needs only a fence to persist.
    #[inline(always)]
    pub fn write_u64_nt(&self, offset: u64, value: u64) {
        // SAFETY: checked: inside the mapped region, aligned.
        unsafe { pmem::movnti_u64(self.word(offset), value) }
    }

    /// Atomically exchanges the `u64` at `offset` (8-aligned) for `value`
    /// (a locked read-modify-write, a full fence); returns the old value.
    #[inline(always)]
    pub fn swap_u64(&self, offset: u64, value: u64) -> u64 {
        // SAFETY: checked: inside the mapped region, aligned.
        unsafe { pmem::xchg_u64(self.word(offset), value) }
    }

    /// Fills `buf` from the bytes at `offset`.
    #[inline(always)]
    pub fn read_bytes(&self, offset: u64, buf: &mut [u8]) {
        let at = self.check(offset, buf.len() as u64) as *const u8;
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: checked: inside the mapped region.
            *b = unsafe { at.add(i).read_volatile() };
        }
    }

    /// Stores `bytes` at `offset` (cached stores: 8-byte words where
    /// aligned).
    #[inline(always)]
    pub fn write_bytes(&self, offset: u64, bytes: &[u8]) {
        let at = self.check(offset, bytes.len() as u64) as *mut u8;
        // SAFETY: checked: inside the mapped region.
        unsafe { pmem::copy_cached(at, bytes) }
    }

    /// Stores `bytes` at `offset` non-temporally (libpmem's
    /// `pmem_memcpy_nodrain`): durable after the next [`Region::drain`].
    #[inline(always)]
    pub fn write_bytes_nt(&self, offset: u64, bytes: &[u8]) {
        let at = self.check(offset, bytes.len() as u64) as *mut u8;
        // SAFETY: checked: inside the mapped region.
        unsafe { pmem::memcpy_nt(at, bytes) }
    }

    /// Sets `len` bytes at `offset` to `byte` (cached stores).
    #[inline(always)]
    pub fn fill(&self, offset: u64, len: u64, byte: u8) {
        let at = self.check(offset, len);
        let mut i = 0;
        while i < len {
            if (at + i).is_multiple_of(8) && len - i >= 8 {
                // SAFETY: checked: inside the mapped region, aligned.
                unsafe { ((at + i) as *mut u64).write_volatile(u64::from_ne_bytes([byte; 8])) };
                i += 8;
            } else {
                // SAFETY: checked: inside the mapped region.
                unsafe { ((at + i) as *mut u8).write_volatile(byte) };
                i += 1;
            }
        }
    }

    /// libpmem's `pmem_flush`: writes back (`clwb`) every line of `len`
    /// bytes at `offset`, without a fence.
    pub fn flush(&self, offset: u64, len: u64) {
        let at = self.check(offset, len);
        pmem::pmem_flush(at as *const u8, len as usize);
    }

    /// libpmem's `pmem_drain`: an `sfence`, which makes earlier flushes
    /// and non-temporal stores durable.
    pub fn drain(&self) {
        pmem::pmem_drain();
    }

    /// libpmem's `pmem_persist`: [`Region::flush`], then [`Region::drain`].
    pub fn persist(&self, offset: u64, len: u64) {
        self.flush(offset, len);
        self.drain();
    }

    /// Declares `len` bytes at `offset` durable from now on, as operation
    /// `op` (a promise): pmemvm checks on every later crash image that each
    /// byte holds its value now or a later store's ([`pmem::promise`]);
    /// verify mode also hands the promises to the guest's recovery
    /// ([`crate::scenario::Context::promises`]).
    pub fn promise(&self, offset: u64, len: u64, op: u64) {
        self.check(offset, len);
        let device = self.offset + offset;
        pmem::promise(1, device, len, op, (device, len));
    }
}
