//! `pmemvm bench`.

use clap::ValueEnum;

/// What to measure.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Suite {
    /// Boot, a whole run, page-fault and system-call round trips.
    Boot,
    /// Stores: traced to the NVDIMM, untraced in setup, to RAM.
    Pmem,
}

/// Arguments of `pmemvm bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The measurements to make.
    #[arg(value_enum, default_value = "boot")]
    suite: Suite,
    /// Repetitions; the median is reported.
    #[arg(long, default_value_t = 21)]
    reps: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// `pmem`: also write each recording's trace (JSON Lines) to this directory.
    #[arg(long, value_name = "DIR")]
    trace_dir: Option<std::path::PathBuf>,
}

/// Runs the benchmarks and prints medians.
pub fn run(a: &BenchArgs) -> anyhow::Result<i32> {
    anyhow::ensure!(a.reps > 0, "--reps 0: at least one repetition is needed");
    let figures = match a.suite {
        Suite::Boot => pmemvm::bench::boot(a.reps)?,
        Suite::Pmem => pmemvm::bench::pmem(a.reps, a.trace_dir.as_deref())?,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
        return Ok(0);
    }
    println!(
        "{:<44} {:>12} {:>12} {:>12}",
        "figure", "median us", "min us", "max us"
    );
    for f in &figures {
        println!(
            "{:<44} {:>12.4} {:>12.4} {:>12.4}",
            f.name, f.median_us, f.min_us, f.max_us
        );
    }
    if let (Suite::Pmem, [first, rest @ ..]) = (a.suite, figures.as_slice()) {
        for f in rest {
            println!(
                "ratio {:<38} {:>12.1}x",
                format!("{} / {}", first.name, f.name),
                first.median_us / f.median_us.max(1e-9)
            );
        }
    }
    Ok(0)
}
