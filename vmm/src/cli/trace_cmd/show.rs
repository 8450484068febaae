//! `pmemvm trace show FILE [--from POINT] [--to POINT] [--line ADDR] [--kind KINDS] [--guest ELF]`.

use std::io::Write as _;
use std::path::PathBuf;

use pmemvm_traces::analysis::{resolve_point, show};
use pmemvm_traces::{TraceError, TraceReader};

use super::common;

/// Arguments of `pmemvm trace show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The trace (.json or .jsonl).
    file: PathBuf,
    /// Start just after this crash point (seq:N, fence:K, store:K, promise:K, mark:LABEL[#K], end).
    #[arg(long, value_name = "POINT")]
    from: Option<String>,
    /// Stop at this crash point (its event included).
    #[arg(long, value_name = "POINT")]
    to: Option<String>,
    /// Only events concerning this line (device offset or guest-physical
    /// address): its writes and flushes, marks covering it, fences while it
    /// is not persistent.
    #[arg(long, value_name = "ADDR")]
    line: Option<String>,
    /// Only these kinds, comma-separated (store, clwb, …, or writes, flushes, fences).
    #[arg(long, value_name = "KINDS")]
    kind: Option<String>,
    /// Print JSON Lines (one object per event) instead of text.
    #[arg(long)]
    json: bool,
    /// The guest ELF that wrote the trace, to name the functions of RIPs
    /// (default: the bundled guest, when the trace names it).
    #[arg(long, value_name = "ELF")]
    guest: Option<PathBuf>,
}

/// Streams the selected events to stdout.
pub fn run(a: &ShowArgs) -> anyhow::Result<i32> {
    let mut reader = TraceReader::open(&a.file)?;
    let resolve = |flag: &str, text: &Option<String>| -> anyhow::Result<Option<u64>> {
        text.as_deref()
            .map(|t| {
                let p = common::point(flag, t)?;
                common::name_file(&a.file, resolve_point(&a.file, &p))
            })
            .transpose()
    };
    let filter = show::Filter {
        after: resolve("--from", &a.from)?.unwrap_or(0),
        until: resolve("--to", &a.to)?,
        line: a
            .line
            .as_deref()
            .map(|l| common::line(l, reader.header()))
            .transpose()?,
        kinds: a
            .kind
            .as_deref()
            .map(|k| show::KindSet::parse(k).map_err(|e| super::super::bad_value("--kind", k, e)))
            .transpose()?,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let to_stdout = |e: std::io::Error| TraceError::Io {
        path: "<stdout>".into(),
        error: e,
    };
    if !a.json {
        writeln!(out, "{}", show::TITLES).map_err(to_stdout)?;
    }
    let json = a.json;
    let symbols = common::symbols(a.guest.as_deref(), reader.header())?;
    let result = show::run(&mut reader, filter, |row| {
        // The RIP's `function (file:line)`, when known.
        let function = symbols
            .as_ref()
            .zip(row.event.kind.write())
            .and_then(|(s, w)| s.resolve(w.rip))
            .map(|r| r.to_string());
        let r = match (json, function) {
            (true, None) => serde_json::to_writer(&mut out, row)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out)),
            (true, Some(function)) => serde_json::to_value(row)
                .map(|mut v| {
                    v["function"] = function.into();
                    v
                })
                .and_then(|v| serde_json::to_writer(&mut out, &v))
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out)),
            (false, None) => writeln!(out, "{row}"),
            (false, Some(function)) => writeln!(out, "{row}  {function}"),
        };
        r.map_err(to_stdout)
    })
    .and_then(|_| out.flush().map_err(to_stdout));
    match result {
        // `| head`: the reader went away; that is not an error.
        Err(TraceError::Io { error, .. }) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            Ok(0)
        }
        Err(e) => Err(e.into()),
        Ok(()) => Ok(0),
    }
}
