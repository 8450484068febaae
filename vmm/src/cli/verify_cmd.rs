//! `pmemvm verify`.

use super::CheckedGuestArgs;
use pmemvm::guest_report::Verdict;
use pmemvm::verify::{self, VerifyOptions, verify_trace};
use std::path::PathBuf;

/// Arguments of `pmemvm verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The trace of the recorded run.
    #[arg(long, value_name = "FILE")]
    trace: PathBuf,
    /// Crash point (seq:N, fence:K, store:K, promise:K, mark:LABEL[#K], end).
    #[arg(long, value_name = "POINT")]
    at: String,
    /// Crash image (minimal, maximal, random:SEED, units:...).
    #[arg(long, value_name = "IMAGE", default_value = "minimal")]
    image: String,
    /// The backing file the recording started from (QEMU style), if any.
    #[arg(long, value_name = "OPTIONS")]
    nvdimm: Option<String>,
    // Without `--guest`: the guest the trace's header names (the bundled one,
    // or the recorded file if its SHA-256 matches).
    #[command(flatten)]
    guest: CheckedGuestArgs,
}

/// Verifies one crash image; exit status 0 pass, 1 fail.
pub fn run(a: &VerifyArgs) -> anyhow::Result<i32> {
    // An explicit --guest is checked before the trace is read.
    let given = a
        .guest
        .args
        .guest
        .is_some()
        .then(|| a.guest.guest())
        .transpose()?;
    let header = pmemvm_traces::TraceReader::open(&a.trace)?.header().clone();
    let guest = if let Some(guest) = given {
        if let Some(warning) = verify::guest_mismatch(&a.trace, &header, &guest.source)? {
            eprintln!("warning: {warning}");
        }
        guest
    } else {
        // The guest the trace names, after the same checks as a --guest.
        let mut guest = a.guest.args.guest()?;
        let recorded = verify::recorded_guest(&a.trace, &header)?;
        recorded.check(guest.mem)?;
        guest.source = a.guest.check(recorded)?;
        guest
    };
    let point =
        a.at.parse()
            .map_err(|e| super::bad_value("--at", &a.at, e))?;
    let image = a
        .image
        .parse()
        .map_err(|e| super::bad_value("--image", &a.image, e))?;
    let backing = a
        .nvdimm
        .as_deref()
        .map(|n| {
            n.parse::<pmemvm_device::backing::NvdimmConfig>()
                .map_err(anyhow::Error::new)
        })
        .transpose()?;
    let opts = VerifyOptions {
        guest: guest.source,
        mem: guest.mem,
        timeout_secs: guest.timeout,
        backing,
    };
    let r = super::trace_cmd::name_file(&a.trace, verify_trace(&a.trace, &point, &image, &opts))?;
    let word = if r.verdict.passed { "PASS" } else { "FAIL" };
    println!(
        "{word}: {} at {} (after seq {}), image {}",
        a.trace.display(),
        a.at,
        r.seq,
        r.image
    );
    if !r.verdict.check.is_empty() {
        println!("  check: {}", r.verdict.check);
    }
    if !r.verdict.message.is_empty() {
        println!("  {}", r.verdict.message);
    }
    // The guest's failure came first; the broken promise is news too.
    if let Some(breach) = r
        .broken_promise
        .filter(|_| r.verdict.check != Verdict::PROMISE)
    {
        println!("  also: check {}: {breach}", Verdict::PROMISE);
    }
    Ok(if r.verdict.passed { 0 } else { 1 })
}
