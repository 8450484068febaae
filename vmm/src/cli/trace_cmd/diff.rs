//! `pmemvm trace diff A B`.

use std::path::PathBuf;

use pmemvm_traces::TraceReader;
use pmemvm_traces::analysis::diff::compare;

/// Exit status when the traces differ (as `diff` does).
const EXIT_DIFFERENT: i32 = 1;

/// Arguments of `pmemvm trace diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The first trace (for example the correct variant).
    a: PathBuf,
    /// The second trace (for example a bug variant).
    b: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Compares the traces; exits 1 when they differ.
pub fn run(a: &DiffArgs) -> anyhow::Result<i32> {
    let mut ra = TraceReader::open(&a.a)?;
    let mut rb = TraceReader::open(&a.b)?;
    let d = compare(&mut ra, &mut rb)?;
    if a.json {
        super::common::print_json(&d)?;
    } else {
        print!("{d}");
    }
    Ok(if d.identical { 0 } else { EXIT_DIFFERENT })
}
