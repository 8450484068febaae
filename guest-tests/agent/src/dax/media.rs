//! The NVDIMM as the file system sees it: device offsets, loads, plain
//! stores (setup only), and the recorded persistence primitives
//! (`movnti`, `clear_pmem`, `memcpy_to_pmem`, `wb_cache_pmem`, `wmb_pmem`).

use pmemvm_sdk::pmem;

/// Zeros for `clear_pmem`.
static ZEROS: [u8; 4096] = [0; 4096];

/// The device, identity-mapped at `base`.
#[derive(Debug, Clone, Copy)]
pub struct Media {
    /// Guest-physical (and virtual) address of device offset 0.
    pub base: u64,
    /// Size in bytes.
    pub size: u64,
}

impl Media {
    /// Address of device offset `off`.
    pub fn addr(&self, off: u64) -> u64 {
        debug_assert!(off < self.size);
        self.base + off
    }

    /// Loads a byte.
    pub fn read_u8(&self, off: u64) -> u8 {
        // SAFETY: the device is mapped; `off` lies inside it.
        unsafe { (self.addr(off) as *const u8).read_volatile() }
    }

    /// Loads an aligned `u32`.
    pub fn read_u32(&self, off: u64) -> u32 {
        // SAFETY: as above, aligned by the callers' layout.
        unsafe { (self.addr(off) as *const u32).read_volatile() }
    }

    /// Loads an aligned `u64`.
    pub fn read_u64(&self, off: u64) -> u64 {
        // SAFETY: as above.
        unsafe { (self.addr(off) as *const u64).read_volatile() }
    }

    /// A plain (cached, unflushed) `u64` store: only for the untraced setup.
    pub fn setup_u64(&self, off: u64, v: u64) {
        // SAFETY: as above.
        unsafe { (self.addr(off) as *mut u64).write_volatile(v) }
    }

    /// A plain `u32` store: only for the untraced setup.
    pub fn setup_u32(&self, off: u64, v: u32) {
        // SAFETY: as above.
        unsafe { (self.addr(off) as *mut u32).write_volatile(v) }
    }

    /// Non-temporal `u64` store (durable at the next fence).
    pub fn nt_u64(&self, off: u64, v: u64) {
        // SAFETY: aligned, inside the device.
        unsafe { pmem::movnti_u64(self.addr(off) as *mut u64, v) }
    }

    /// Non-temporal `u32` store.
    pub fn nt_u32(&self, off: u64, v: u32) {
        // SAFETY: aligned, inside the device.
        unsafe { pmem::movnti_u32(self.addr(off) as *mut u32, v) }
    }

    /// `memcpy_to_pmem`: NT stores, cached stores plus `clwb` at unaligned
    /// edges. Needs a fence.
    pub fn copy_nt(&self, off: u64, data: &[u8]) {
        debug_assert!(off + data.len() as u64 <= self.size);
        // SAFETY: the range lies inside the device.
        unsafe { pmem::memcpy_nt(self.addr(off) as *mut u8, data) }
    }

    /// `clear_pmem` without its fence: zeroes `len` bytes at `off`.
    pub fn clear_nt(&self, off: u64, len: u64) {
        let mut done = 0;
        while done < len {
            let n = (len - done).min(ZEROS.len() as u64);
            self.copy_nt(off + done, &ZEROS[..n as usize]);
            done += n;
        }
    }

    /// `wb_cache_pmem`: `clwb` every line of the range.
    pub fn flush(&self, off: u64, len: u64) {
        pmem::wb_cache_pmem(self.addr(off) as *const u8, len as usize);
    }

    /// `wmb_pmem`: `sfence`.
    pub fn fence(&self) {
        pmem::wmb_pmem();
    }
}
