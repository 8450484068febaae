//! `pmemvm trace lines FILE [--at POINT]`.

use std::path::PathBuf;

use pmemvm::inspect::lines::lines_at;

use super::common;

/// Arguments of `pmemvm trace lines`.
#[derive(Debug, clap::Args)]
pub struct LinesArgs {
    /// The trace (.json or .jsonl).
    file: PathBuf,
    /// Crash point (seq:N, fence:K, store:K, promise:K, mark:LABEL[#K], end).
    #[arg(long, value_name = "POINT", default_value = "end")]
    at: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Replays the trace to the point and lists every line written.
pub fn run(a: &LinesArgs) -> anyhow::Result<i32> {
    let point = common::point("--at", &a.at)?;
    let report = common::name_file(&a.file, lines_at(&a.file, &point))?;
    if a.json {
        common::print_json(&report)?;
    } else {
        print!("{report}");
    }
    Ok(0)
}
