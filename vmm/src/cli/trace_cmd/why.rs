//! `pmemvm trace why FILE --line ADDR --at POINT`.

use std::path::PathBuf;

use pmemvm::inspect::why::why;

use super::common;

/// Arguments of `pmemvm trace why`.
#[derive(Debug, clap::Args)]
pub struct WhyArgs {
    /// The trace (.json or .jsonl).
    file: PathBuf,
    /// The line: a device offset or a guest-physical address (0x hex or decimal).
    #[arg(long, value_name = "ADDR")]
    line: String,
    /// Crash point (seq:N, fence:K, store:K, promise:K, mark:LABEL[#K], end).
    #[arg(long, value_name = "POINT")]
    at: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Explains the line's state at the point.
pub fn run(a: &WhyArgs) -> anyhow::Result<i32> {
    let point = common::point("--at", &a.at)?;
    let line = common::line(&a.line, &common::header(&a.file)?)?;
    let w = common::name_file(&a.file, why(&a.file, line, &point))?;
    if a.json {
        common::print_json(&w)?;
    } else {
        print!("{w}");
    }
    Ok(0)
}
