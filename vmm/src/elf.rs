//! Reading a guest ELF: the loadable segments, the entry point and the
//! pmemvm header section. Everything is bounds-checked: an ELF is input.

use crate::error::VmmError;
use pmemvm_abi::{ABI_VERSION, GuestHeader, HEADER_MAGIC, HEADER_SECTION, Plain, VECTORS};

const PT_LOAD: u32 = 1;
const EM_X86_64: u16 = 62;
const ET_EXEC: u16 = 2;
const PF_X: u32 = 1;
/// Size of an ELF64 program header.
const PHDR_SIZE: u16 = 56;

/// One `PT_LOAD` segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Guest-physical load address (`p_paddr`).
    pub paddr: u64,
    /// Bytes from the file.
    pub data: Vec<u8>,
    /// Size in memory (the rest is zero).
    pub mem_size: u64,
    /// Mapped executable (`PF_X`).
    pub executable: bool,
}

/// A guest ELF, checked and ready to load.
#[derive(Debug, Clone)]
pub struct GuestElf {
    /// Where the guest starts, in ring 0.
    pub entry: u64,
    /// The loadable segments.
    pub segments: Vec<Segment>,
    /// The ring-0 exception stubs the guest provides.
    pub vectors: [u64; VECTORS],
}

impl GuestElf {
    /// Parses `bytes`, read from `name` (used in error messages).
    pub fn parse(name: &str, bytes: &[u8]) -> Result<GuestElf, VmmError> {
        let bad = |reason: String| VmmError::Elf {
            path: name.to_string(),
            reason,
        };
        let r = Reader(bytes);
        if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" {
            return Err(bad("not an ELF file".into()));
        }
        if bytes[4] != 2 || bytes[5] != 1 {
            return Err(bad("not a 64-bit little-endian ELF".into()));
        }
        let machine = r.u16(18).ok_or_else(|| bad("truncated header".into()))?;
        if machine != EM_X86_64 {
            return Err(bad(format!("not an x86-64 ELF (machine {machine})")));
        }
        let etype = r.u16(16).unwrap_or(0);
        if etype != ET_EXEC {
            return Err(bad(format!(
                "not a static executable (ELF type {etype}; link with -static -no-pie)"
            )));
        }
        let field = |off: usize| r.u64(off).ok_or_else(|| bad("truncated header".into()));
        let entry = field(24)?;
        let phoff = field(32)?;
        let small = |off: usize| r.u16(off).ok_or_else(|| bad("truncated header".into()));
        let (phentsize, phnum) = (small(54)?, small(56)?);

        // Entries narrower than a program header would overlap: with a size
        // of 0 every entry is the same segment, copied up to 65535 times.
        if phnum > 0 && phentsize < PHDR_SIZE {
            return Err(bad(format!(
                "program header entry size {phentsize}, less than {PHDR_SIZE}"
            )));
        }
        let mut segments = Vec::new();
        // Bytes copied out of the file: at most its size, or overlapping
        // segments would multiply it.
        let mut loaded = 0u64;
        for i in 0..u64::from(phnum) {
            let ph = phoff
                .checked_add(i * u64::from(phentsize))
                .and_then(|o| usize::try_from(o).ok())
                .ok_or_else(|| bad("program header table out of range".into()))?;
            let get = |o: usize| {
                r.u64(ph + o)
                    .ok_or_else(|| bad(format!("program header {i} out of range")))
            };
            if r.u32(ph)
                .ok_or_else(|| bad(format!("program header {i} out of range")))?
                != PT_LOAD
            {
                continue;
            }
            let flags = r.u32(ph + 4).unwrap_or(0);
            let (offset, paddr, filesz, memsz) = (get(8)?, get(24)?, get(32)?, get(40)?);
            if filesz > memsz {
                return Err(bad(format!("segment {i}: file size exceeds memory size")));
            }
            loaded = loaded.saturating_add(filesz);
            if loaded > bytes.len() as u64 {
                return Err(bad(format!(
                    "segment {i}: the loadable segments overlap in the file (more than its {} bytes)",
                    bytes.len()
                )));
            }
            let data = r
                .slice(offset, filesz)
                .ok_or_else(|| bad(format!("segment {i}: data beyond the end of the file")))?;
            segments.push(Segment {
                paddr,
                data: data.to_vec(),
                mem_size: memsz,
                executable: flags & PF_X != 0,
            });
        }
        if segments.iter().all(|s| s.mem_size == 0) {
            return Err(bad("no loadable segment".into()));
        }
        let header = find_header(bytes).ok_or_else(|| {
            bad(format!(
                "no `{HEADER_SECTION}` section: not a pmemvm guest (build it on the pmemvm runtime)"
            ))
        })?;
        if header.magic != HEADER_MAGIC {
            return Err(bad(format!("`{HEADER_SECTION}` has a bad magic number")));
        }
        if header.abi_version != ABI_VERSION || header.nvectors as usize != VECTORS {
            return Err(bad(format!(
                "built for pmemvm ABI {} with {} vectors; this pmemvm speaks ABI {ABI_VERSION} with {VECTORS}",
                header.abi_version, header.nvectors
            )));
        }
        Ok(GuestElf {
            entry,
            segments,
            vectors: header.vectors,
        })
    }

    /// Lowest and highest (exclusive) guest-physical address of the segments.
    pub fn extent(&self) -> (u64, u64) {
        let lo = self.segments.iter().map(|s| s.paddr).min().unwrap_or(0);
        let hi = self
            .segments
            .iter()
            .map(|s| s.paddr.saturating_add(s.mem_size))
            .max()
            .unwrap_or(0);
        (lo, hi)
    }
}

/// A section of an ELF: its address and its bytes in the file.
pub fn section<'a>(bytes: &'a [u8], name: &str) -> Option<(u64, &'a [u8])> {
    let r = Reader(bytes);
    let (shoff, entsize) = (r.u64(40)?, r.u16(58)?);
    let (num, strndx) = (r.u16(60)?, r.u16(62)?);
    let sh = |i: u64| -> Option<usize> {
        usize::try_from(shoff.checked_add(i * u64::from(entsize))?).ok()
    };
    let strtab = sh(u64::from(strndx))?;
    let names = r.slice(r.u64(strtab + 24)?, r.u64(strtab + 32)?)?;
    (0..u64::from(num)).find_map(|i| {
        let s = sh(i)?;
        let name_at = names.get(r.u32(s)? as usize..)?;
        let end = name_at.iter().position(|&b| b == 0)?;
        if &name_at[..end] != name.as_bytes() {
            return None;
        }
        Some((r.u64(s + 16)?, r.slice(r.u64(s + 24)?, r.u64(s + 32)?)?))
    })
}

fn find_header(bytes: &[u8]) -> Option<GuestHeader> {
    let (_, data) = section(bytes, HEADER_SECTION)?;
    GuestHeader::from_bytes(data.get(..GuestHeader::SIZE)?)
}

/// Bounds-checked little-endian reads.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes<const N: usize>(&self, off: usize) -> Option<[u8; N]> {
        self.0.get(off..off.checked_add(N)?)?.try_into().ok()
    }
    fn u16(&self, off: usize) -> Option<u16> {
        self.bytes(off).map(u16::from_le_bytes)
    }
    fn u32(&self, off: usize) -> Option<u32> {
        self.bytes(off).map(u32::from_le_bytes)
    }
    fn u64(&self, off: usize) -> Option<u64> {
        self.bytes(off).map(u64::from_le_bytes)
    }
    fn slice(&self, off: u64, len: u64) -> Option<&'a [u8]> {
        let off = usize::try_from(off).ok()?;
        let end = off.checked_add(usize::try_from(len).ok()?)?;
        self.0.get(off..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(bytes: &[u8]) -> String {
        GuestElf::parse("g.elf", bytes).unwrap_err().to_string()
    }

    #[test]
    fn rejects_non_elf_and_wrong_machine() {
        assert!(err(b"hello").contains("not an ELF file"));
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[16] = 2;
        h[18] = 183; // aarch64
        assert!(err(&h).contains("not an x86-64 ELF"));
        h[18] = 62;
        assert!(err(&h).contains("no loadable segment"));
        h[16] = 3;
        assert!(err(&h).contains("not a static executable"));
    }
}
