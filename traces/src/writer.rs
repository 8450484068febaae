//! Writing traces: [`TraceEncoder`] encodes into any `io::Write`;
//! [`TraceWriter`] writes a file through a temporary file renamed into place
//! by [`TraceWriter::finish`] (an [`OutputFile`]).
//!
//! Layouts (see `SCHEMA.md`):
//!
//! * `.json`: one document, one event per line:
//!   ```text
//!   {"header":{...},
//!   "events":[
//!   {"seq":1,...},
//!   {"seq":2,...}
//!   ]}
//!   ```
//! * `.jsonl`: the header object on the first line, one event per line, and
//!   an end record `{"end":{"events":N}}` on the last line (JSON Lines has no
//!   closing bracket; the end record is how a reader tells a complete file
//!   from one cut at a line boundary).

use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use crate::error::{Location, Result, TraceError};
use crate::event::Event;
use crate::files::OutputFile;
use crate::header::Header;
use crate::validate::Validator;

/// The two file layouts of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// One JSON document `{"header": …, "events": […]}` (`.json`).
    Json,
    /// JSON Lines: header line, event lines, end line (`.jsonl`).
    Jsonl,
}

impl Format {
    /// The format a path's extension names: `.json` or `.jsonl`.
    pub fn from_path(path: &Path) -> Result<Format> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Ok(Format::Json),
            Some("jsonl") => Ok(Format::Jsonl),
            _ => Err(TraceError::UnsupportedExtension {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// Encodes a trace into any writer, checking every event as the reader will.
/// Holds no events: memory stays constant (apart from the set of lines
/// written, needed to check `init`).
#[derive(Debug)]
pub struct TraceEncoder<W: io::Write> {
    out: W,
    format: Format,
    name: PathBuf,
    validator: Validator,
    failed: bool,
}

impl<W: io::Write> TraceEncoder<W> {
    /// Writes the header; `name` is used in error messages.
    pub fn new(
        out: W,
        format: Format,
        header: &Header,
        name: impl Into<PathBuf>,
    ) -> Result<TraceEncoder<W>> {
        let name = name.into();
        header
            .validate()
            .map_err(|e| e.located(&Location::file(&name)))?;
        let mut enc = TraceEncoder {
            out,
            format,
            validator: Validator::new(header),
            name,
            failed: false,
        };
        let io = |enc: &mut TraceEncoder<W>| -> io::Result<()> {
            match format {
                Format::Json => {
                    enc.out.write_all(b"{\"header\":")?;
                    serde_json::to_writer(&mut enc.out, header)?;
                    enc.out.write_all(b",\n\"events\":[")
                }
                Format::Jsonl => {
                    serde_json::to_writer(&mut enc.out, header)?;
                    enc.out.write_all(b"\n")
                }
            }
        };
        let r = io(&mut enc);
        enc.io_result(r)?;
        Ok(enc)
    }

    fn io_result(&mut self, r: io::Result<()>) -> Result<()> {
        r.map_err(|e| {
            self.failed = true;
            TraceError::io(&self.name, e)
        })
    }

    fn check_usable(&self) -> Result<()> {
        if self.failed {
            return Err(TraceError::Writer {
                path: self.name.clone(),
                reason: "an earlier write failed".into(),
            });
        }
        Ok(())
    }

    /// Appends one event. It must be valid (see `SCHEMA.md`): next seq, in
    /// the device, `init` on the first write to a line, and so on; an invalid
    /// event is refused and nothing is written.
    pub fn write(&mut self, ev: &Event) -> Result<()> {
        self.check_usable()?;
        self.validator
            .check(ev)
            .map_err(|e| e.located(&Location::file(&self.name)))?;
        let first = ev.seq == 1;
        let r = (|| -> io::Result<()> {
            if self.format == Format::Json {
                self.out.write_all(if first { b"\n" } else { b",\n" })?;
            }
            serde_json::to_writer(&mut self.out, ev)?;
            if self.format == Format::Jsonl {
                self.out.write_all(b"\n")?;
            }
            Ok(())
        })();
        self.io_result(r)
    }

    /// Number of events written.
    pub fn events(&self) -> u64 {
        self.validator.events()
    }

    /// Closes the document (or writes the end record), flushes and returns the writer.
    pub fn finish(mut self) -> Result<W> {
        self.check_usable()?;
        let events = self.events();
        let r = match self.format {
            Format::Json => self.out.write_all(b"\n]}\n"),
            Format::Jsonl => writeln!(self.out, "{{\"end\":{{\"events\":{events}}}}}"),
        }
        .and_then(|()| self.out.flush());
        self.io_result(r)?;
        Ok(self.out)
    }
}

/// Writes a trace file as an [`OutputFile`]: through a temporary file beside
/// the target, renamed into place by [`finish`](Self::finish). Dropped
/// unfinished, it removes the temporary file, so a failed run leaves no file
/// that looks complete (a killed process leaves at most a hidden
/// `.NAME.PID-N.tmp`). The [crate documentation](crate#example) shows it
/// at work.
#[derive(Debug)]
pub struct TraceWriter {
    enc: Option<TraceEncoder<BufWriter<OutputFile>>>,
    path: PathBuf,
}

impl TraceWriter {
    /// Starts a trace at `path`; `.json` or `.jsonl` chooses the [`Format`].
    pub fn create(path: impl AsRef<Path>, header: &Header) -> Result<TraceWriter> {
        let path = path.as_ref().to_path_buf();
        let format = Format::from_path(&path)?;
        header
            .validate()
            .map_err(|e| e.located(&Location::file(&path)))?;
        let out = OutputFile::create(&path)?;
        let enc = TraceEncoder::new(
            BufWriter::with_capacity(1 << 16, out),
            format,
            header,
            &path,
        )?;
        Ok(TraceWriter {
            enc: Some(enc),
            path,
        })
    }

    /// The final path of the trace.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of events written.
    pub fn events(&self) -> u64 {
        self.enc.as_ref().map_or(0, TraceEncoder::events)
    }

    fn enc(&mut self) -> Result<&mut TraceEncoder<BufWriter<OutputFile>>> {
        self.enc.as_mut().ok_or_else(|| TraceError::Writer {
            path: self.path.clone(),
            reason: "the trace is finished".into(),
        })
    }

    /// Appends one event (see [`TraceEncoder::write`]).
    pub fn write(&mut self, ev: &Event) -> Result<()> {
        self.enc()?.write(ev)
    }

    /// Completes the file, syncs it and renames it to its final path.
    pub fn finish(mut self) -> Result<PathBuf> {
        let Some(enc) = self.enc.take() else {
            return Err(TraceError::Writer {
                path: self.path.clone(),
                reason: "the trace is finished".into(),
            });
        };
        let buf = enc.finish()?;
        let out = buf
            .into_inner()
            .map_err(|e| TraceError::io(&self.path, e.into_error()))?;
        out.commit()?;
        log::debug!("trace written: {}", self.path.display());
        Ok(self.path.clone())
    }
}
