//! `pmemvm trace ...`: commands on persistence traces.

mod states;

use clap::Subcommand;

/// Subcommands of `pmemvm trace`.
#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Every persistent image allowed at a crash point, from the trace alone.
    States(states::StatesArgs),
}

/// Runs a `pmemvm trace` subcommand.
pub fn run(cmd: &TraceCommand) -> anyhow::Result<i32> {
    match cmd {
        TraceCommand::States(a) => states::run(a),
    }
}
