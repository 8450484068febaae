//! `pmemvm trace stats FILE`.

use std::path::PathBuf;

use pmemvm_traces::TraceReader;
use pmemvm_traces::analysis::stats;

/// Arguments of `pmemvm trace stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// The trace (.json or .jsonl).
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Reads the trace as a stream and prints its statistics.
pub fn run(a: &StatsArgs) -> anyhow::Result<i32> {
    let mut reader = TraceReader::open(&a.file)?;
    let s = stats::compute(&mut reader)?;
    if a.json {
        super::common::print_json(&s)?;
    } else {
        print!("{}: {s}", a.file.display());
    }
    Ok(0)
}
