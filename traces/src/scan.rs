//! A small structural scanner over a JSON byte stream: skips whitespace,
//! checks punctuation, and cuts out whole values (strings, objects, arrays)
//! as raw bytes, tracking line and column. The JSON document reader uses it
//! to walk `{"header": …, "events": [ … ]}` one event at a time, whatever the
//! layout, handing each event's bytes to serde_json.

use std::io::BufRead;
use std::path::PathBuf;

use crate::error::{Location, Result, TraceError};

/// Largest record (header or event) accepted, in bytes.
pub(crate) const MAX_RECORD: usize = 1 << 20;

pub(crate) struct Scanner<R> {
    reader: R,
    path: PathBuf,
    line: u64,
    column: u64,
}

fn advance(line: &mut u64, column: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        if b == b'\n' {
            *line += 1;
            *column = 1;
        } else {
            *column += 1;
        }
    }
}

impl<R: BufRead> Scanner<R> {
    pub(crate) fn new(reader: R, path: PathBuf) -> Scanner<R> {
        Scanner {
            reader,
            path,
            line: 1,
            column: 1,
        }
    }

    /// Current position (of the next byte).
    pub(crate) fn pos(&self) -> (u64, u64) {
        (self.line, self.column)
    }

    pub(crate) fn here(&self) -> Location {
        Location::at(&self.path, self.line, Some(self.column))
    }

    fn io(&self, e: std::io::Error) -> TraceError {
        TraceError::io(&self.path, e)
    }

    pub(crate) fn truncated(&self, reason: impl Into<String>) -> TraceError {
        TraceError::Truncated {
            at: self.here(),
            reason: reason.into(),
        }
    }

    pub(crate) fn syntax(&self, reason: impl Into<String>) -> TraceError {
        TraceError::Syntax {
            at: self.here(),
            reason: reason.into(),
        }
    }

    /// The next byte, not consumed; `None` at the end of the input.
    pub(crate) fn peek(&mut self) -> Result<Option<u8>> {
        loop {
            match self.reader.fill_buf() {
                Ok(buf) => return Ok(buf.first().copied()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io(e)),
            }
        }
    }

    /// Consumes one byte (after a successful `peek`).
    pub(crate) fn bump(&mut self) -> Result<()> {
        if let Some(b) = self.peek()? {
            advance(&mut self.line, &mut self.column, &[b]);
            self.reader.consume(1);
        }
        Ok(())
    }

    /// Skips JSON whitespace.
    pub(crate) fn skip_ws(&mut self) -> Result<()> {
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io(e)),
            };
            if buf.is_empty() {
                return Ok(());
            }
            let n = buf
                .iter()
                .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(buf.len());
            advance(&mut self.line, &mut self.column, &buf[..n]);
            let all = n == buf.len();
            self.reader.consume(n);
            if !all {
                return Ok(());
            }
        }
    }

    /// Skips whitespace, then requires `byte`. `ctx` says what is being read.
    pub(crate) fn expect(&mut self, byte: u8, ctx: &str) -> Result<()> {
        self.skip_ws()?;
        match self.peek()? {
            Some(b) if b == byte => self.bump(),
            Some(b) => Err(self.syntax(format!(
                "expected `{}` {ctx}, found `{}`",
                byte as char,
                b.escape_ascii()
            ))),
            None => Err(self.truncated(format!(
                "the file ends where `{}` is expected {ctx}",
                byte as char
            ))),
        }
    }

    /// Skips whitespace and cuts out one whole JSON value into `out`
    /// (replacing its content). `what` names it in errors.
    pub(crate) fn capture(&mut self, out: &mut Vec<u8>, what: &str) -> Result<()> {
        out.clear();
        self.skip_ws()?;
        let Some(first) = self.peek()? else {
            return Err(self.truncated(format!("the file ends where {what} is expected")));
        };
        let scalar = !matches!(first, b'{' | b'[' | b'"');
        let mut depth: u32 = 0;
        let mut in_str = false;
        let mut esc = false;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io(e)),
            };
            if buf.is_empty() {
                if scalar && !out.is_empty() {
                    return Ok(());
                }
                return Err(self.truncated(format!("the file ends inside {what}")));
            }
            let mut done = false;
            let mut n = 0;
            for &b in buf {
                if scalar {
                    if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                        done = true;
                        break;
                    }
                    n += 1;
                    continue;
                }
                n += 1;
                if in_str {
                    if esc {
                        esc = false;
                    } else if b == b'\\' {
                        esc = true;
                    } else if b == b'"' {
                        in_str = false;
                        if depth == 0 {
                            done = true;
                            break;
                        }
                    }
                } else {
                    match b {
                        b'"' => in_str = true,
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                done = true;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            out.extend_from_slice(&buf[..n]);
            advance(&mut self.line, &mut self.column, &buf[..n]);
            self.reader.consume(n);
            if out.len() > MAX_RECORD {
                return Err(self.syntax(format!("{what} is longer than {MAX_RECORD} bytes")));
            }
            if done {
                return Ok(());
            }
        }
    }

    /// Requires the end of the input after optional whitespace.
    pub(crate) fn expect_eof(&mut self, ctx: &str) -> Result<()> {
        self.skip_ws()?;
        match self.peek()? {
            None => Ok(()),
            Some(_) => Err(self.syntax(format!("unexpected data {ctx}"))),
        }
    }
}
