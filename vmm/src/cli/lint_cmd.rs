//! `pmemvm lint [--guest ELF] [--json]`.

use std::path::PathBuf;

use pmemvm::guest::GuestSource;
use pmemvm::guest_code::lint::{self, Finding};

/// Arguments of `pmemvm lint`.
#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// Guest ELF to check instead of the bundled agent.
    #[arg(long, value_name = "ELF")]
    guest: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Lists the instructions the model cannot see; exit 0 clean, 1 some found.
pub fn run(a: &LintArgs) -> anyhow::Result<i32> {
    let source = a
        .guest
        .clone()
        .map_or(GuestSource::Bundled, GuestSource::Path);
    let name = source.name();
    let l = lint::lint_source(&source)?;
    if a.json {
        let report = serde_json::json!({
            "guest": name,
            "clean": l.is_clean(),
            "api": l.api.as_ref().map(|r| serde_json::json!({
                "start": format!("{:#x}", r.start),
                "end": format!("{:#x}", r.end),
            })),
            "recorded": l.recorded.len(),
            "unrecorded": l.unrecorded,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if l.is_clean() {
        println!(
            "lint: clean: no flush, fence, non-temporal store or locked instruction outside the \
             recorded persistent-memory API ({name}: {} inside it)",
            l.recorded.len()
        );
    } else {
        for f in &l.unrecorded {
            println!("{}", line(f));
        }
        let api = match &l.api {
            Some(_) => "outside the recorded persistent-memory API",
            None => "and no recorded persistent-memory API (no `.pmem_api` section)",
        };
        println!(
            "lint: {name}: {} flush/fence/non-temporal/locked instruction(s) {api}; the model \
             cannot see them, so crash tests may report false alarms (call the runtime's \
             persistent-memory API instead: pmemvm_sdk::pmem in Rust; in C libpmem.h, \
             pmemvm.h, or intrinsics with -include pmemvm/intrin.h)",
            l.unrecorded.len()
        );
    }
    Ok(if l.is_clean() { 0 } else { 1 })
}

/// `0x10234a  sfence  in log::append (src/log.rs:42)`, with `, inlined
/// into F (file:line)` when the function was inlined into another.
fn line(f: &Finding) -> String {
    match &f.location {
        Some(r) => format!("{:#x}  {}  in {r}", f.address, f.mnemonic),
        None => format!("{:#x}  {}", f.address, f.mnemonic),
    }
}
