//! The console of a run the VMM reads rather than shows (a crash test's
//! recording, a verify run): only its last [`ConsoleTail::LIMIT`] bytes are
//! kept, so a guest that prints without end costs bounded memory.

use std::collections::VecDeque;
use std::io::Write;

/// The end of a guest's console output.
#[derive(Debug, Default)]
pub struct ConsoleTail {
    bytes: VecDeque<u8>,
    dropped: u64,
}

impl ConsoleTail {
    /// Bytes kept: the last 64 KiB.
    pub const LIMIT: usize = 64 << 10;

    /// What was kept, as text; when more was printed, it starts with how
    /// many bytes were left out.
    pub fn text(&self) -> String {
        let (a, b) = self.bytes.as_slices();
        let kept = String::from_utf8_lossy(&[a, b].concat()).into_owned();
        match self.dropped {
            0 => kept,
            n => format!("[{n} earlier bytes not kept] {kept}"),
        }
    }
}

impl Write for ConsoleTail {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let keep = &buf[buf.len().saturating_sub(Self::LIMIT)..];
        self.dropped += (buf.len() - keep.len()) as u64;
        let over = (self.bytes.len() + keep.len()).saturating_sub(Self::LIMIT);
        self.bytes.drain(..over);
        self.dropped += over as u64;
        self.bytes.extend(keep);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_bytes_are_kept() {
        let mut c = ConsoleTail::default();
        c.write_all(b"hello ").unwrap();
        assert_eq!(c.text(), "hello ");
        for _ in 0..100 {
            c.write_all(&[b'x'; 4096]).unwrap();
        }
        c.write_all(b"the end").unwrap();
        let text = c.text();
        assert!(text.ends_with("xthe end"), "{}", &text[text.len() - 20..]);
        let dropped = 6 + 100 * 4096 + 7 - ConsoleTail::LIMIT;
        assert!(text.starts_with(&format!("[{dropped} earlier bytes not kept] x")));
        assert!(text.len() < ConsoleTail::LIMIT + 100);
    }
}
