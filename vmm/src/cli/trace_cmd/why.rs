//! `pmemvm trace why FILE --line ADDR --at POINT [--guest ELF]`.

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
    /// The guest ELF that wrote the trace, to name the functions of RIPs
    /// (default: the bundled guest, when the trace names it).
    #[arg(long, value_name = "ELF")]
    guest: Option<PathBuf>,
}

/// Explains the line's state at the point.
pub fn run(a: &WhyArgs) -> anyhow::Result<i32> {
    let point = common::point("--at", &a.at)?;
    let header = common::header(&a.file)?;
    let line = common::line(&a.line, &header)?;
    let symbols = common::symbols(a.guest.as_deref(), &header)?;
    let w = common::name_file(&a.file, why(&a.file, line, &point, symbols.as_ref()))?;
    if a.json {
        common::print_json(&w)?;
    } else {
        print!("{w}");
    }
    Ok(0)
}
