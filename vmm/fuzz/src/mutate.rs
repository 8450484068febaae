//! The mutations: bit flips, byte changes, insertions and deletions, copies
//! within the input, splices with another input, interesting integers
//! (binary, and as decimal or hex text) and dictionary tokens.

/// A small, fast, seeded generator (xorshift64*, seeded through splitmix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value, 0 included).
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// A random element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Integers that sit on boundaries parsers get wrong.
pub const INTERESTING: &[u64] = &[
    0,
    1,
    2,
    7,
    8,
    15,
    16,
    31,
    32,
    55,
    56,
    63,
    64,
    65,
    127,
    128,
    255,
    256,
    4095,
    4096,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x20_0000,
    0x10_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x10_0000_0000,
    1 << 53,
    (1 << 63) - 64,
    i64::MAX as u64,
    1 << 63,
    u64::MAX - 1,
    u64::MAX,
];

/// Decimal and hex spellings that overflow or sit on boundaries.
const TEXT_NUMBERS: &[&str] = &[
    "0",
    "1",
    "00",
    "-1",
    "+1",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "0x0",
    "0xffffffffffffffff",
    "0x10000000000000000",
    "1e309",
    "1.5",
    "",
];

/// Mutates inputs of one target.
#[derive(Debug)]
pub struct Mutator {
    /// The target's tokens.
    pub dict: Vec<Vec<u8>>,
    /// Inputs are cut to this length.
    pub max_len: usize,
}

impl Mutator {
    /// Replaces `out` with a mutation of `input` (1 to 8 stacked mutations),
    /// `other` serving for splices.
    pub fn mutate(&self, rng: &mut Rng, input: &[u8], other: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(input);
        let rounds = 1 + rng.below(8).min(rng.below(8));
        for _ in 0..rounds {
            self.one(rng, other, out);
        }
        out.truncate(self.max_len);
    }

    fn one(&self, rng: &mut Rng, other: &[u8], d: &mut Vec<u8>) {
        let len = d.len();
        match rng.below(14) {
            0 if len > 0 => {
                let i = rng.below(len);
                d[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                d[i] = rng.next_u64() as u8;
            }
            2 if len > 0 => {
                let i = rng.below(len);
                d[i] = *rng.pick(&[
                    0u8, 0x7f, 0x80, 0xff, b'"', b'\\', b'\n', b',', b':', b'{', b'}', b'0', b'9',
                ]);
            }
            3 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(4);
                for _ in 0..n {
                    d.insert(i, rng.next_u64() as u8);
                }
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let most = if rng.one_in(8) { 4096 } else { 16 };
                let n = 1 + rng.below((len - i).min(most));
                d.drain(i..i + n);
            }
            5 if len > 1 => {
                // Copy a chunk of the input elsewhere in it (insert or overwrite).
                let from = rng.below(len);
                let n = 1 + rng.below((len - from).min(64));
                let chunk = d[from..from + n].to_vec();
                let to = rng.below(len);
                if rng.one_in(2) {
                    d.splice(to..to, chunk);
                } else {
                    let end = (to + n).min(len);
                    d.splice(to..end, chunk);
                }
            }
            6 if !other.is_empty() => {
                // Splice: a prefix of this input and a suffix of the other.
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                d.truncate(cut);
                d.extend_from_slice(&other[from..]);
            }
            7 if len > 0 => {
                // An interesting integer, little-endian, often aligned.
                let width = *rng.pick(&[1usize, 2, 4, 8]);
                let mut i = rng.below(len);
                if rng.one_in(2) {
                    i &= !(width - 1);
                }
                let v = if rng.one_in(4) {
                    rng.pick(INTERESTING)
                        .wrapping_add(rng.below(3) as u64)
                        .wrapping_sub(1)
                } else {
                    *rng.pick(INTERESTING)
                };
                let bytes = v.to_le_bytes();
                let end = (i + width).min(len);
                d[i..end].copy_from_slice(&bytes[..end - i]);
            }
            8 if len > 0 => {
                // Add or subtract a little from a byte or a word.
                let i = rng.below(len);
                let delta = 1 + rng.below(16) as u8;
                d[i] = if rng.one_in(2) {
                    d[i].wrapping_add(delta)
                } else {
                    d[i].wrapping_sub(delta)
                };
            }
            9 | 10 => {
                // A number in the text replaced by an interesting spelling.
                let runs = digit_runs(d);
                if !runs.is_empty() {
                    let (s, e) = *rng.pick(&runs);
                    let with: Vec<u8> = if rng.one_in(2) {
                        rng.pick(TEXT_NUMBERS).as_bytes().to_vec()
                    } else {
                        rng.pick(INTERESTING).to_string().into_bytes()
                    };
                    d.splice(s..e, with);
                }
            }
            11 | 12 if !self.dict.is_empty() => {
                // A token inserted, or written over the input.
                let tok = rng.pick(&self.dict).clone();
                let i = rng.below(len + 1);
                if rng.one_in(2) || i == len {
                    d.splice(i..i, tok);
                } else {
                    let end = (i + tok.len()).min(len);
                    d.splice(i..end, tok);
                }
            }
            13 if len > 0 => {
                // A token replaced by another: a run of letters, digits or `-`.
                let i = rng.below(len);
                let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
                if is_word(d[i]) && !self.dict.is_empty() {
                    let s = (0..i).rev().find(|&j| !is_word(d[j])).map_or(0, |j| j + 1);
                    let e = (i..len).find(|&j| !is_word(d[j])).unwrap_or(len);
                    let tok = rng.pick(&self.dict).clone();
                    d.splice(s..e, tok);
                }
            }
            _ => {
                if len > 0 && rng.one_in(2) {
                    d.truncate(rng.below(len));
                } else {
                    d.push(rng.next_u64() as u8);
                }
            }
        }
    }
}

/// The runs of ASCII digits in `d`, as `(start, end)`.
fn digit_runs(d: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < d.len() && runs.len() < 64 {
        if d[i].is_ascii_digit() {
            let s = i;
            while i < d.len() && d[i].is_ascii_digit() {
                i += 1;
            }
            runs.push((s, i));
        } else {
            i += 1;
        }
    }
    runs
}
