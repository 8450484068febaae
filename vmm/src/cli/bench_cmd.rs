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
    /// The same workloads recorded in `stores` mode, in `epochs` mode and
    /// untraced (in the setup phase).
    Record,
}

/// Arguments of `pmemvm bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The measurements to make.
    #[arg(value_enum, default_value = "boot")]
    suite: Suite,
    /// Repetitions; the median is reported (default: 21; `crashtest`: 5
    /// rounds of a crash test and its floor; `record`: 5).
    #[arg(long)]
    reps: Option<usize>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// `pmem`, `record`: also write each recording's trace (JSON Lines) to
    /// this directory (its writing is then part of the times).
    #[arg(long, value_name = "DIR")]
    trace_dir: Option<std::path::PathBuf>,
    /// `crashtest`: the scenario.
    #[arg(long, default_value = "dax-fsync")]
    scenario: String,
    /// `crashtest`: worker VMs (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// `record`: the workloads to measure, comma-separated (default: all:
    /// append-64, append-256, append-4k, copy-1m, dax-fsync, fsx).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    workloads: Vec<String>,
}

/// Runs the benchmarks and prints medians.
pub fn run(a: &BenchArgs) -> anyhow::Result<i32> {
    let reps = a.reps.unwrap_or(match a.suite {
        Suite::Crashtest => 5,
        Suite::Record => 5,
        Suite::Boot | Suite::Pmem => 21,
    });
    anyhow::ensure!(reps > 0, "--reps 0: at least one repetition is needed");
    let figures = match a.suite {
        Suite::Boot => pmemvm::bench::boot(reps)?,
        Suite::Pmem => pmemvm::bench::pmem(reps, a.trace_dir.as_deref())?,
        Suite::Crashtest => return crashtest(a, reps),
        Suite::Record => return record(a, reps),
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
fn crashtest(a: &BenchArgs, rounds: usize) -> anyhow::Result<i32> {
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let dir = std::env::temp_dir().join(format!("pmemvm-bench-{}", std::process::id()));
    let result = pmemvm::bench::crashtest_rounds(&a.scenario, jobs, &dir, rounds);
    let _ = std::fs::remove_dir_all(&dir);
    let mut rounds = result?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rounds)?);
        return Ok(0);
    }
    let first = &rounds[0].report;
    println!(
        "scenario {} ({} jobs): {} images verified at {} crash points",
        first.scenario, jobs, first.counts.images_verified, first.counts.points
    );
    println!(
        "{:<6} {:>22} {:>22} {:>8}",
        "round", "verified images/s", "floor (empty runs/s)", "ratio"
    );
    for (i, b) in rounds.iter().enumerate() {
        println!(
            "{:<6} {:>22.0} {:>22.0} {:>7.2}x",
            i + 1,
            b.report.images_per_second,
            b.floor_per_second,
            b.ratio()
        );
    }
    rounds.sort_by(|x, y| x.ratio().total_cmp(&y.ratio()));
    let b = &rounds[rounds.len() / 2];
    let (r, t) = (&b.report, &b.report.time_in_verifiers);
    println!(
        "median ratio floor / crash test {:.2}x (round of {:.0} verified images/s, floor {:.0})",
        b.ratio(),
        r.images_per_second,
        b.floor_per_second
    );
    println!(
        "that round, time (s): recording {:.3}, after it {:.3}; walking the events and building images {:.3} (overlaps the recording)",
        r.record_seconds,
        r.seconds - r.record_seconds,
        r.walk_seconds
    );
    println!(
        "that round, time in verify VMs (s): boot and warm-up {:.3}, restore RAM+vCPU {:.3}, re-register {:.3}, media {:.3}, guest {:.3}",
        t.boot, t.restore_ram, t.reregister, t.media, t.guest
    );
    Ok(0)
}

/// `pmemvm bench record`.
fn record(a: &BenchArgs, reps: usize) -> anyhow::Result<i32> {
    use pmemvm::bench::{RECORD_SCENARIOS, RECORD_WORKLOADS};
    let known: Vec<&str> = RECORD_WORKLOADS
        .iter()
        .map(|(w, _)| *w)
        .chain(RECORD_SCENARIOS.iter().copied())
        .collect();
    let workloads: Vec<&str> = if a.workloads.is_empty() {
        known.clone()
    } else {
        a.workloads.iter().map(String::as_str).collect()
    };
    for w in &workloads {
        anyhow::ensure!(
            known.contains(w),
            "--workloads {}: unknown workload; known: {}",
            pmemvm_abi::shown::Shown(w),
            known.join(", ")
        );
    }
    if let Some(dir) = &a.trace_dir {
        std::fs::create_dir_all(dir)?;
    }
    let bench = pmemvm::bench::record(reps, &workloads, a.trace_dir.as_deref())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&bench)?);
        return Ok(0);
    }
    let ms = |us: f64| format!("{:.3}", us / 1000.0);
    let ratio = |r: f64| format!("{r:.1}x");
    println!(
        "ms per pass above the floor (medians of {} reps); floor: stores {} ms, epochs {} ms per run",
        bench.reps,
        ms(bench.floor_stores.median_us),
        ms(bench.floor_epochs.median_us)
    );
    println!(
        "{:<11} {:>6} {:>11} {:>9} {:>9} {:>9} {:>9} {:>11} {:>10} {:>10}",
        "workload",
        "passes",
        "stores",
        "epochs",
        "untraced",
        "ep/untr",
        "st/ep",
        "exits ep",
        "us/exit un",
        "us/exit +ep"
    );
    for r in &bench.rows {
        let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        println!(
            "{:<11} {:>6} {:>11} {:>9} {:>9} {:>9} {:>9} {:>11.0} {:>10} {:>10}",
            r.workload,
            r.passes,
            ms(r.stores.median_us),
            ms(r.epochs.median_us),
            opt(r.untraced.as_ref().map(|u| ms(u.median_us))),
            opt(r.epochs_over_untraced.map(ratio)),
            opt(r.stores_over_epochs.map(ratio)),
            r.epochs_exits,
            opt(r.untraced_us_per_exit.map(|v| format!("{v:.1}"))),
            opt(r.epochs_extra_us_per_exit.map(|v| format!("{v:.1}"))),
        );
    }
    println!(
        "ep/untr: epochs / untraced; st/ep: stores / epochs; exits ep: exits per pass recorded \
         in epochs; us/exit un: untraced time per exit; us/exit +ep: epochs' extra time per exit"
    );
    Ok(0)
}
