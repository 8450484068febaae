//! Reading traces as a stream: [`TraceReader`] yields one checked [`Event`]
//! at a time from a `.json` document or a `.jsonl` file, holding one event in
//! memory (plus the set of lines written, to check `init`).
//!
//! The layout is taken from the content, not the file name: a document
//! starts with `{"header"`, JSON Lines with the header object itself. A
//! `.json` document may be laid out in any way (one event per line as the
//! writer does, or pretty-printed by `jq`), as long as `header` comes before
//! `events` and nothing else is in it.

use std::fs::File;
use std::io::{BufRead, BufReader, Read as _};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Location, Result, TraceError};
use crate::event::Event;
use crate::event_json::parse_event;
use crate::header::{FORMAT_NAME, FORMAT_VERSION, Header};
use crate::scan::{MAX_RECORD, Scanner};
use crate::validate::Validator;
use crate::writer::Format;

/// Streams the header and events of a trace, checking each event against
/// the header and the events before it.
pub struct TraceReader<R = BufReader<File>> {
    header: Header,
    format: Format,
    path: PathBuf,
    src: Source<R>,
    validator: Validator,
    buf: Vec<u8>,
    last: Location,
    done: bool,
}

enum Source<R> {
    Json { scan: Scanner<R>, first: bool },
    Jsonl { reader: R, line: u64 },
}

impl<R> std::fmt::Debug for TraceReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceReader")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("events", &self.validator.events())
            .finish_non_exhaustive()
    }
}

/// The fields that decide whether an object is a trace header of a version
/// we read, looked at before the header is parsed strictly.
#[derive(Deserialize)]
struct HeaderProbe {
    format: Option<serde_json::Value>,
    version: Option<serde_json::Value>,
}

/// Parses and checks a header from its bytes; errors are relative to them.
fn parse_header(bytes: &[u8]) -> Result<Header> {
    let probe = serde_json::from_slice::<HeaderProbe>(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => TraceError::NotATrace {
            at: Location::default(),
            reason: "the first record is not a JSON object".into(),
        },
        _ => TraceError::json(e, "header"),
    })?;
    if probe.format.as_ref().and_then(|v| v.as_str()) != Some(FORMAT_NAME) {
        return Err(TraceError::NotATrace {
            at: Location::default(),
            reason: format!("the header has no `\"format\": \"{FORMAT_NAME}\"`"),
        });
    }
    match probe.version.as_ref().map(|v| v.as_u64()) {
        Some(Some(FORMAT_VERSION)) => {}
        Some(Some(found)) => {
            return Err(TraceError::UnsupportedVersion {
                at: Location::default(),
                found,
                supported: FORMAT_VERSION,
            });
        }
        _ => {
            return Err(TraceError::InvalidHeader {
                at: Location::default(),
                reason: "`version` is missing or not a whole number".into(),
            });
        }
    }
    let header =
        serde_json::from_slice::<Header>(bytes).map_err(|e| TraceError::json(e, "header"))?;
    header.validate()?;
    Ok(header)
}

/// The JSON Lines end record.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndRecord {
    end: EndFields,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndFields {
    events: u64,
}

/// True when a JSON Lines record's first key is `"end"`.
fn is_end_record(line: &[u8]) -> bool {
    let rest = line.trim_ascii_start();
    rest.strip_prefix(b"{")
        .is_some_and(|r| r.trim_ascii_start().starts_with(b"\"end\""))
}

/// Which layout the content has: `{"header"` (or `{"events"`, which the
/// document reader then refuses with a clear message) starts a document;
/// any other object starts JSON Lines.
fn sniff<R: BufRead>(reader: &mut R, path: &Path) -> Result<Format> {
    let buf = reader.fill_buf().map_err(|e| TraceError::io(path, e))?;
    let rest = buf.trim_ascii_start();
    let not_trace = |reason: &str| TraceError::NotATrace {
        at: Location::at(path, 1, None),
        reason: reason.into(),
    };
    if buf.is_empty() {
        return Err(not_trace("the file is empty"));
    }
    let Some(obj) = rest.strip_prefix(b"{") else {
        return Err(not_trace("it does not start with a JSON object `{`"));
    };
    let key = obj.trim_ascii_start();
    if key.starts_with(b"\"header\"") || key.starts_with(b"\"events\"") {
        Ok(Format::Json)
    } else {
        Ok(Format::Jsonl)
    }
}

impl TraceReader<BufReader<File>> {
    /// Opens a trace file and reads its header. The file must be a regular
    /// file: a FIFO, device or directory is refused before it is opened
    /// (reading a FIFO would block until a writer comes).
    pub fn open(path: impl AsRef<Path>) -> Result<TraceReader<BufReader<File>>> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| TraceError::io(path, e))?;
        if !meta.is_file() {
            return Err(TraceError::NotATrace {
                at: Location::file(path),
                reason: format!(
                    "it is a {}, not a regular file",
                    crate::files::file_kind(&meta.file_type())
                ),
            });
        }
        let file = File::open(path).map_err(|e| TraceError::io(path, e))?;
        TraceReader::from_reader(BufReader::with_capacity(1 << 16, file), path)
    }
}

impl<R: BufRead> TraceReader<R> {
    /// Reads the header from any buffered reader; `name` is used in errors.
    ///
    /// ```
    /// use pmemvm_traces::{EventKind, Persistence, TraceReader};
    /// # fn main() -> pmemvm_traces::Result<()> {
    /// let trace = concat!(
    ///     r#"{"format":"pmemvm-trace","version":1,"tool_version":"0.1.0","#,
    ///     r#""model":["intel-x86","crash-sync","atomic-line"],"#,
    ///     r#""device":{"base":"0x100000000","size":1048576},"line_size":64,"#,
    ///     r#""persistence":"cpu","atomicity":"line","scenario":"demo","#,
    ///     r#""variant":"correct","seed":1,"initial_media_sha256":""#,
    ///     "0000000000000000000000000000000000000000000000000000000000000000",
    ///     "\"}\n",
    ///     r#"{"seq":1,"kind":"sfence"}"#,
    ///     "\n",
    ///     r#"{"end":{"events":1}}"#,
    ///     "\n",
    /// );
    /// let mut reader = TraceReader::from_reader(trace.as_bytes(), "demo.jsonl")?;
    /// assert_eq!(reader.header().persistence, Persistence::Eadr);
    /// let ev = reader.next_event()?.expect("one event");
    /// assert_eq!((ev.seq, ev.kind), (1, EventKind::Sfence));
    /// assert!(reader.next_event()?.is_none());
    /// # Ok(()) }
    /// ```
    pub fn from_reader(mut reader: R, name: impl Into<PathBuf>) -> Result<TraceReader<R>> {
        let path = name.into();
        let format = sniff(&mut reader, &path)?;
        let mut buf = Vec::new();
        let (header, src) = match format {
            Format::Json => {
                let mut scan = Scanner::new(reader, path.clone());
                scan.expect(b'{', "at the start of the document")?;
                scan.capture(&mut buf, "the first key")?;
                if buf != b"\"header\"" {
                    return Err(scan.syntax("the first key of the document must be \"header\""));
                }
                scan.expect(b':', "after \"header\"")?;
                scan.skip_ws()?;
                let (l, c) = scan.pos();
                scan.capture(&mut buf, "the header")?;
                let header = parse_header(&buf).map_err(|e| e.relocated(&path, l, c))?;
                scan.expect(
                    b',',
                    "after the header (the document must continue with \"events\")",
                )?;
                scan.skip_ws()?;
                let at = scan.here();
                scan.capture(&mut buf, "the key \"events\"")?;
                if buf != b"\"events\"" {
                    return Err(TraceError::Syntax {
                        at,
                        reason: format!(
                            "expected the key \"events\" after the header, found {}",
                            String::from_utf8_lossy(&buf)
                        ),
                    });
                }
                scan.expect(b':', "after \"events\"")?;
                scan.expect(b'[', "to open the events array")?;
                (header, Source::Json { scan, first: true })
            }
            Format::Jsonl => {
                let mut line = 0;
                read_line(&mut reader, &mut buf, &path, &mut line)?;
                let header = parse_header(&buf).map_err(|e| e.relocated(&path, 1, 1))?;
                (header, Source::Jsonl { reader, line })
            }
        };
        let validator = Validator::new(&header);
        log::debug!("reading trace {} ({format:?})", path.display());
        Ok(TraceReader {
            header,
            format,
            last: Location::file(&path),
            path,
            src,
            validator,
            buf,
            done: false,
        })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The layout of the input.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The name of the input, as used in errors.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of events read so far (the seq of the last one).
    pub fn events_read(&self) -> u64 {
        self.validator.events()
    }

    /// Where the last event returned starts (file and line).
    pub fn last_location(&self) -> &Location {
        &self.last
    }

    /// The next event, `Ok(None)` at the proper end of the trace. After an
    /// error or the end, keeps returning `Ok(None)`.
    pub fn next_event(&mut self) -> Result<Option<Event>> {
        if self.done {
            return Ok(None);
        }
        let r = self.read_next();
        if !matches!(r, Ok(Some(_))) {
            self.done = true;
        }
        r
    }

    fn read_next(&mut self) -> Result<Option<Event>> {
        let (ev, line, column) = match &mut self.src {
            Source::Json { scan, first } => {
                scan.skip_ws()?;
                match scan.peek()? {
                    None => {
                        return Err(scan.truncated(format!(
                            "the events array is not closed (`]}}` missing) after seq {}",
                            self.validator.events()
                        )));
                    }
                    Some(b']') => {
                        scan.bump()?;
                        scan.expect(b'}', "to close the document after the events")?;
                        scan.expect_eof("after the end of the trace document")?;
                        return Ok(None);
                    }
                    Some(b',') if !*first => scan.bump()?,
                    Some(_) if *first => {}
                    Some(b) => {
                        return Err(scan.syntax(format!(
                            "expected `,` or `]` after an event, found `{}`",
                            b.escape_ascii()
                        )));
                    }
                }
                *first = false;
                scan.skip_ws()?;
                if scan.peek()? == Some(b']') {
                    return Err(scan.syntax("a trailing `,` before `]`"));
                }
                let (l, c) = scan.pos();
                scan.capture(&mut self.buf, "an event")?;
                (parse_event(&self.buf), l, c)
            }
            Source::Jsonl { reader, line } => {
                loop {
                    if !read_line(reader, &mut self.buf, &self.path, line)? {
                        return Err(TraceError::Truncated {
                            at: Location::at(&self.path, *line + 1, None),
                            reason: format!(
                                "the file stops after seq {} without its end record {{\"end\":{{\"events\":N}}}}",
                                self.validator.events()
                            ),
                        });
                    }
                    if !self.buf.trim_ascii().is_empty() {
                        break;
                    }
                }
                let l = *line;
                if is_end_record(&self.buf) {
                    let rec = serde_json::from_slice::<EndRecord>(&self.buf).map_err(|e| {
                        TraceError::json(e, "end record").relocated(&self.path, l, 1)
                    })?;
                    if rec.end.events != self.validator.events() {
                        return Err(TraceError::Truncated {
                            at: Location::at(&self.path, l, None),
                            reason: format!(
                                "the end record counts {} events but the file holds {}",
                                rec.end.events,
                                self.validator.events()
                            ),
                        });
                    }
                    loop {
                        if !read_line(reader, &mut self.buf, &self.path, line)? {
                            return Ok(None);
                        }
                        if !self.buf.trim_ascii().is_empty() {
                            return Err(TraceError::Syntax {
                                at: Location::at(&self.path, *line, None),
                                reason: "data after the end record".into(),
                            });
                        }
                    }
                }
                (parse_event(&self.buf), l, 1)
            }
        };
        let ev = ev.map_err(|e| e.relocated(&self.path, line, column))?;
        self.last = Location::at(&self.path, line, None);
        self.validator
            .check(&ev)
            .map_err(|e| e.located(&self.last))?;
        Ok(Some(ev))
    }
}

/// Reads one line (without its newline) into `buf`; false at the end of the
/// input. Refuses lines longer than [`MAX_RECORD`].
fn read_line<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    path: &Path,
    line: &mut u64,
) -> Result<bool> {
    buf.clear();
    let n = reader
        .by_ref()
        .take(MAX_RECORD as u64 + 1)
        .read_until(b'\n', buf)
        .map_err(|e| TraceError::io(path, e))?;
    if n == 0 {
        return Ok(false);
    }
    *line += 1;
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > MAX_RECORD {
        return Err(TraceError::Syntax {
            at: Location::at(path, *line, None),
            reason: format!("line longer than {MAX_RECORD} bytes"),
        });
    }
    Ok(true)
}

impl<R: BufRead> Iterator for TraceReader<R> {
    type Item = Result<Event>;

    fn next(&mut self) -> Option<Result<Event>> {
        self.next_event().transpose()
    }
}

impl<R: BufRead> std::iter::FusedIterator for TraceReader<R> {}
