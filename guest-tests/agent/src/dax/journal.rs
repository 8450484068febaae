//! The metadata journal: one transaction at a time.
//!
//! Commit (`fs_commit_metadata`): the entries and the header with NT
//! stores, `sfence`; the commit word (a checksum of sequence number, count
//! and entries) with an NT store, `sfence`; then the entries applied in
//! place in the inode table with NT stores, `sfence`. Replay at mount
//! re-applies the transaction when its commit word matches (idempotent); a
//! torn transaction never matches and is ignored, and its predecessor was
//! applied in place before it started.

use super::layout::{
    self, I_CTIME, I_MTIME, I_SIZE, J_CAPACITY, J_COMMIT, J_COUNT, J_ENTRIES, J_SEQ,
    MAX_FILE_PAGES, MAX_INODES,
};
use super::media::Media;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// What a journal entry sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The block of a page (`index`).
    Block,
    /// The size.
    Size,
    /// The mtime.
    Mtime,
    /// The ctime.
    Ctime,
}

/// One metadata update: inode, field, index (pages only), value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Update {
    /// Inode number.
    pub ino: u64,
    /// Field.
    pub field: Field,
    /// Page index for [`Field::Block`], 0 otherwise.
    pub index: u64,
    /// New value.
    pub value: u64,
}

impl Update {
    fn key(&self) -> u64 {
        let kind = match self.field {
            Field::Block => 1,
            Field::Size => 2,
            Field::Mtime => 3,
            Field::Ctime => 4,
        };
        (self.ino << 56) | (kind << 48) | self.index
    }

    fn from_key(key: u64, value: u64) -> Result<Update, String> {
        let ino = key >> 56;
        let index = key & 0xffff_ffff_ffff;
        let field = match (key >> 48) & 0xff {
            1 if index < MAX_FILE_PAGES => Field::Block,
            2 => Field::Size,
            3 => Field::Mtime,
            4 => Field::Ctime,
            _ => return Err(format!("journal entry with bad key {key:#x}")),
        };
        if !(1..=MAX_INODES).contains(&ino) {
            return Err(format!("journal entry for bad inode {ino}"));
        }
        Ok(Update {
            ino,
            field,
            index,
            value,
        })
    }

    /// Whether the inode table already holds the value.
    fn applied(&self, media: &Media) -> bool {
        match self.field {
            Field::Block => u64::from(media.read_u32(self.target())) == self.value,
            _ => media.read_u64(self.target()) == self.value,
        }
    }

    /// Device offset of the field in the inode table.
    fn target(&self) -> u64 {
        let base = layout::inode_off(self.ino);
        match self.field {
            Field::Block => layout::map_off(self.ino, self.index),
            Field::Size => base + I_SIZE,
            Field::Mtime => base + I_MTIME,
            Field::Ctime => base + I_CTIME,
        }
    }
}

fn checksum(seq: u64, words: impl Iterator<Item = u64>) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seq;
    for w in words {
        h = (h ^ w).wrapping_mul(0x0000_0100_0000_01b3);
        h ^= h >> 29;
    }
    h | 1
}

/// Applies updates in place with NT stores, then fences.
fn apply(media: &Media, updates: &[Update]) {
    for u in updates {
        match u.field {
            Field::Block => media.nt_u32(u.target(), u.value as u32),
            _ => media.nt_u64(u.target(), u.value),
        }
    }
    media.fence();
}

/// Commits `updates` as transaction `seq`.
///
/// # Panics
/// When the transaction exceeds the journal (the geometry rules it out).
pub fn commit(media: &Media, seq: u64, updates: &[Update]) {
    assert!(updates.len() as u64 <= J_CAPACITY, "journal overflow");
    for (i, u) in updates.iter().enumerate() {
        let at = J_ENTRIES + 16 * i as u64;
        media.nt_u64(at, u.key());
        media.nt_u64(at + 8, u.value);
    }
    media.nt_u64(J_SEQ, seq);
    media.nt_u64(J_COUNT, updates.len() as u64);
    media.fence();
    let words = updates.iter().flat_map(|u| [u.key(), u.value]);
    media.nt_u64(J_COMMIT, checksum(seq, words));
    media.fence();
    apply(media, updates);
}

/// Replays the journal's transaction if it committed (the updates the
/// inode table does not hold yet: usually none, the commit applied them);
/// returns the sequence number the next transaction must follow.
pub fn replay(media: &Media) -> Result<u64, String> {
    let seq = media.read_u64(J_SEQ);
    let count = media.read_u64(J_COUNT);
    let commit = media.read_u64(J_COMMIT);
    if commit == 0 || count > J_CAPACITY {
        return Ok(seq);
    }
    let raw: Vec<(u64, u64)> = (0..count)
        .map(|i| {
            let at = J_ENTRIES + 16 * i;
            (media.read_u64(at), media.read_u64(at + 8))
        })
        .collect();
    if checksum(seq, raw.iter().flat_map(|(k, v)| [*k, *v])) != commit {
        return Ok(seq);
    }
    let mut pending = Vec::new();
    for (k, v) in raw {
        let u = Update::from_key(k, v)?;
        if !u.applied(media) {
            pending.push(u);
        }
    }
    if !pending.is_empty() {
        apply(media, &pending);
    }
    Ok(seq)
}
