//! A crash image: the content of every touched line.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::model::LINE_SIZE;

/// Content of every line the run touched (untouched lines keep the initial media).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Image {
    /// Line content by device offset of the line.
    pub lines: BTreeMap<u64, [u8; 64]>,
}

impl Image {
    /// Writes the image over `media` (the device content before the run).
    /// Bytes beyond the end of `media` are ignored.
    pub fn apply(&self, media: &mut [u8]) {
        let len = media.len() as u64;
        for (&off, content) in &self.lines {
            if off >= len {
                continue;
            }
            let n = (len - off).min(LINE_SIZE) as usize;
            let start = off as usize;
            media[start..start + n].copy_from_slice(&content[..n]);
        }
    }

    /// SHA-256 of the line map: for each line in ascending order, its offset
    /// as 8 little-endian bytes then its 64 bytes. Stable across versions.
    pub fn hash(&self) -> [u8; 32] {
        // One contiguous buffer hashes several times faster than an update
        // per line.
        let mut bytes = Vec::with_capacity(self.lines.len() * (8 + 64));
        for (off, content) in &self.lines {
            bytes.extend_from_slice(&off.to_le_bytes());
            bytes.extend_from_slice(content);
        }
        Sha256::digest(&bytes).into()
    }

    /// Device offsets of the lines whose content differs from `other`'s,
    /// ascending (a line `other` lacks differs).
    pub fn differing_lines(&self, other: &Image) -> Vec<u64> {
        self.lines
            .iter()
            .filter(|(off, content)| other.lines.get(off) != Some(content))
            .map(|(off, _)| *off)
            .collect()
    }

    /// [`Image::hash`] as lowercase hex.
    pub fn hash_hex(&self) -> String {
        self.hash().iter().map(|b| format!("{b:02x}")).collect()
    }
}
