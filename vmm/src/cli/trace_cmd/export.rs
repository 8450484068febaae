//! `pmemvm trace export FILE --format chrome -o OUT`.

use std::path::PathBuf;

use pmemvm_traces::TraceReader;
use pmemvm_traces::analysis::chrome;
use serde_json::json;

/// Export formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    /// Chrome trace-event JSON (Perfetto, chrome://tracing).
    Chrome,
}

/// Arguments of `pmemvm trace export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The trace (.json or .jsonl).
    file: PathBuf,
    /// Output format.
    #[arg(long, value_enum)]
    format: ExportFormat,
    /// Output file (written through a temporary file, renamed when complete).
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    json: bool,
}

/// Writes the export.
pub fn run(a: &ExportArgs) -> anyhow::Result<i32> {
    crate::cli::check_output("-o", &a.output)?;
    let mut reader = TraceReader::open(&a.file)?;
    let summary = match a.format {
        ExportFormat::Chrome => chrome::export(&mut reader, &a.output)?,
    };
    if a.json {
        super::common::print_json(&json!({
            "output": a.output.display().to_string(),
            "format": "chrome",
            "events_read": summary.events_read,
            "events_written": summary.events_written,
        }))?;
    } else {
        println!(
            "{}: {} trace events from {} events of {} (open in https://ui.perfetto.dev or chrome://tracing)",
            a.output.display(),
            summary.events_written,
            summary.events_read,
            a.file.display()
        );
    }
    Ok(0)
}
