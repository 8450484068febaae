//! `pmemvm trace ...`: commands on persistence traces.

mod common;

pub use common::name_file;
mod diff;
mod export;
mod lines;
mod show;
mod states;
mod stats;
mod why;

use clap::Subcommand;

/// Subcommands of `pmemvm trace`.
#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Counts by kind, stores by size, bytes, lines, fences, flush and durability smells.
    Stats(stats::StatsArgs),
    /// The events, one per line: seq, kind, offset, line, size, data, RIP, mark region.
    Show(show::ShowArgs),
    /// Every line written, with its state at a crash point and the events that decide it.
    Lines(lines::LinesArgs),
    /// Why a line is or is not guaranteed persistent at a crash point, in words.
    Why(why::WhyArgs),
    /// Where two traces of the same scenario diverge, then their counts.
    Diff(diff::DiffArgs),
    /// Export to the Chrome trace-event format (Perfetto, chrome://tracing).
    Export(export::ExportArgs),
    /// Every persistent image allowed at a crash point, from the trace alone.
    States(states::StatesArgs),
}

/// Runs a `pmemvm trace` subcommand.
pub fn run(cmd: &TraceCommand) -> anyhow::Result<i32> {
    match cmd {
        TraceCommand::Stats(a) => stats::run(a),
        TraceCommand::Show(a) => show::run(a),
        TraceCommand::Lines(a) => lines::run(a),
        TraceCommand::Why(a) => why::run(a),
        TraceCommand::Diff(a) => diff::run(a),
        TraceCommand::Export(a) => export::run(a),
        TraceCommand::States(a) => states::run(a),
    }
}
