//! `pmemvm run`.

use super::{CheckedGuestArgs, NvdimmArgs, WorkloadArgs};
use pmemvm::run_kind::{PowerCut, RunKind};
use pmemvm::session::{self, RunConfig};
use pmemvm_device::crash::ImageSpec;
use std::path::PathBuf;

/// Arguments of `pmemvm run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    guest: CheckedGuestArgs,
    #[command(flatten)]
    workload: WorkloadArgs,
    #[command(flatten)]
    nvdimm: NvdimmArgs,
    /// Write the persistence trace there (.json or .jsonl).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Cut the power at this crash point (seq:N, fence:K, store:K, promise:K, mark:LABEL[#K], end).
    #[arg(long, value_name = "POINT")]
    power_fail_at: Option<String>,
    /// What the media holds after the power failure (minimal, maximal, random:SEED, units:...).
    #[arg(long, value_name = "IMAGE", default_value = "minimal")]
    on_power_fail: String,
}

/// Runs the guest. Exit 0 when it exits 0, 1 when it failed a check
/// (a finding), 3 when it exits with another status (printed).
pub fn run(a: &RunArgs) -> anyhow::Result<i32> {
    if let Some(trace) = &a.trace {
        pmemvm_traces::Format::from_path(trace).map_err(|e| anyhow::anyhow!("--trace: {e}"))?;
        super::check_output("--trace", trace)?;
    }
    let guest = a.guest.guest()?;
    let scenario = a.workload.scenario(&guest)?;
    let nvdimm = a.nvdimm.options()?;
    let image: ImageSpec = a
        .on_power_fail
        .parse()
        .map_err(|e| super::bad_value("--on-power-fail", &a.on_power_fail, e))?;
    let power_cut = a
        .power_fail_at
        .as_deref()
        .map(|p| {
            let at = p
                .parse()
                .map_err(|e| super::bad_value("--power-fail-at", p, e))?;
            anyhow::Ok(PowerCut { at, image })
        })
        .transpose()?;
    let config = RunConfig {
        kind: RunKind::Record {
            trace: a.trace.clone(),
            power_cut,
        },
        nvdimm,
        guest: guest.source,
        scenario,
        variant: a.workload.variant.clone(),
        seed: a.workload.seed,
        mem: guest.mem,
        timeout_secs: guest.timeout,
    };
    let mut stdout = std::io::stdout();
    let outcome = session::run(&config, &mut stdout)?;
    log::info!(
        "{} exits, {} hypercalls",
        outcome.stats.exits,
        outcome.stats.hypercalls
    );
    for f in &outcome.findings.kept {
        eprintln!("pmemvm: FINDING: {f}");
    }
    Ok(match (outcome.status, outcome.findings.is_empty()) {
        (0, true) => 0,
        (_, false) => {
            eprintln!(
                "pmemvm: the guest failed {} check(s) and exited with status {}",
                outcome.findings.count(),
                outcome.status
            );
            super::EXIT_FINDINGS
        }
        (status, true) => {
            eprintln!("pmemvm: the guest exited with status {status}");
            super::EXIT_GUEST_FAILURE
        }
    })
}
