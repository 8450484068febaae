//! `pmemvm run`.

use super::GuestArgs;
use pmemvm::session::{self, RunConfig};

/// Arguments of `pmemvm run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    guest: GuestArgs,
    /// Scenario to run.
    #[arg(long, default_value = "hello")]
    scenario: String,
    /// Variant of the scenario.
    #[arg(long, default_value = "correct")]
    variant: String,
    /// Seed of the workload.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Runs the guest; exits with its status.
pub fn run(a: &RunArgs) -> anyhow::Result<i32> {
    let config = RunConfig {
        guest: a.guest.source(),
        scenario: a.scenario.clone(),
        variant: a.variant.clone(),
        seed: a.seed,
        mem: a.guest.mem_bytes()?,
        timeout_secs: a.guest.timeout,
        ..RunConfig::default()
    };
    let mut stdout = std::io::stdout();
    let outcome = session::run(&config, &mut stdout)?;
    log::info!(
        "{} exits, {} hypercalls",
        outcome.stats.exits,
        outcome.stats.hypercalls
    );
    Ok(i32::try_from(outcome.status).unwrap_or(i32::MAX))
}
