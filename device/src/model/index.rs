//! A fast hasher for line indices (the line map is on the hot path; its
//! keys are not attacker-chosen in a way that matters: a guest can only
//! slow its own trace down).

use std::hash::{BuildHasherDefault, Hasher};

/// Hashes one `u64` with the splitmix64 finaliser.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LineHasher(u64);

impl Hasher for LineHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        let mut z = (self.0 ^ n).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        self.0 = z ^ (z >> 31);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The hasher builder of the line map.
pub(crate) type LineHash = BuildHasherDefault<LineHasher>;
