//! `pmemvm bench`.

use clap::ValueEnum;

/// What to measure.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Suite {
    /// Boot, a whole run, page-fault and system-call round trips.
    Boot,
    /// Stores: traced to the NVDIMM, untraced in setup, to RAM.
    Pmem,
    /// Verified crash images per second on a scenario, next to the floor.
    Crashtest,
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
    /// `crashtest`: the scenario.
    #[arg(long, default_value = "dax-fsync")]
    scenario: String,
    /// `crashtest`: worker VMs (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
}

/// Runs the benchmarks and prints medians.
pub fn run(a: &BenchArgs) -> anyhow::Result<i32> {
    anyhow::ensure!(a.reps > 0, "--reps 0: at least one repetition is needed");
    let figures = match a.suite {
        Suite::Boot => pmemvm::bench::boot(a.reps)?,
        Suite::Pmem => pmemvm::bench::pmem(a.reps, a.trace_dir.as_deref())?,
        Suite::Crashtest => return crashtest(a),
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

/// `pmemvm bench crashtest`.
fn crashtest(a: &BenchArgs) -> anyhow::Result<i32> {
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let dir = std::env::temp_dir().join(format!("pmemvm-bench-{}", std::process::id()));
    let result = pmemvm::bench::crashtest(&a.scenario, jobs, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    let b = result?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&b)?);
        return Ok(0);
    }
    let r = &b.report;
    let t = &r.time_in_verifiers;
    println!(
        "scenario {} ({} jobs): {} images verified at {} crash points",
        r.scenario, jobs, r.counts.images_verified, r.counts.points
    );
    println!(
        "verified crash images per second      {:>10.0}",
        r.images_per_second
    );
    println!(
        "floor (empty verify runs per second)  {:>10.0}",
        b.floor_per_second
    );
    println!(
        "ratio floor / crash test              {:>10.2}x",
        b.floor_per_second / r.images_per_second.max(1e-9)
    );
    println!(
        "time (s): recording {:.3}, after it {:.3}, of which walking the events and building images {:.3}",
        r.record_seconds,
        r.seconds - r.record_seconds,
        r.walk_seconds
    );
    println!(
        "time in verify VMs (s): boot {:.3}, restore RAM+vCPU {:.3}, re-register {:.3}, media {:.3}, guest {:.3}",
        t.boot, t.restore_ram, t.reregister, t.media, t.guest
    );
    Ok(0)
}
