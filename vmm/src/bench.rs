//! `pmemvm bench`: measurements of the VMM on this machine, each reported
//! as the median of several runs made in one invocation.

use crate::error::VmmError;
use crate::run_kind::RunKind;
use crate::session::{self, RunConfig, RunOutcome};
use std::time::{Duration, Instant};

/// One measured figure.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Figure {
    /// What was measured.
    pub name: String,
    /// Median, in microseconds.
    pub median_us: f64,
    /// Smallest run, in microseconds.
    pub min_us: f64,
    /// Largest run, in microseconds.
    pub max_us: f64,
}

fn figure(name: &str, mut samples: Vec<f64>) -> Figure {
    samples.sort_by(f64::total_cmp);
    Figure {
        name: name.into(),
        median_us: samples.get(samples.len() / 2).copied().unwrap_or(0.0),
        min_us: samples.first().copied().unwrap_or(0.0),
        max_us: samples.last().copied().unwrap_or(0.0),
    }
}

fn timed_run(scenario: &str, seed: u64) -> Result<(Duration, RunOutcome), VmmError> {
    timed(&RunConfig {
        scenario: scenario.into(),
        seed,
        ..RunConfig::default()
    })
}

fn timed(config: &RunConfig) -> Result<(Duration, RunOutcome), VmmError> {
    let scenario = &config.scenario;
    let start = Instant::now();
    let outcome = session::run(config, &mut std::io::sink())?;
    let took = start.elapsed();
    if outcome.status != 0 {
        return Err(VmmError::GuestStatus {
            status: outcome.status,
            mode: "benchmark",
            console: format!("scenario {scenario}"),
        });
    }
    Ok((took, outcome))
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Per-operation cost of a scenario that repeats an operation `seed` times:
/// (time with `n` operations - time with none) / `n`, per repetition.
fn per_op(scenario: &str, n: u64, reps: usize) -> Result<Vec<f64>, VmmError> {
    (0..reps)
        .map(|_| {
            let (base, _) = timed_run(scenario, 0)?;
            let (full, _) = timed_run(scenario, n)?;
            Ok((us(full) - us(base)) / n as f64)
        })
        .collect()
}

/// Boot figures: VM creation to the first exit, a whole `hello` run, a
/// page-fault round trip through the upcall, a system-call round trip.
pub fn boot(reps: usize) -> Result<Vec<Figure>, VmmError> {
    let mut first = Vec::new();
    let mut whole = Vec::new();
    for _ in 0..reps {
        let (took, outcome) = timed_run("hello", 1)?;
        first.push(us(outcome.first_exit));
        whole.push(us(took));
    }
    Ok(vec![
        figure("VM creation to first guest exit", first),
        figure("full `hello` run (ELF load to exit)", whole),
        figure(
            "page-fault round trip (ring-3 handler)",
            per_op("bench-pagefault", 1000, reps)?,
        ),
        figure(
            "system-call round trip (ud2)",
            per_op("bench-syscall", 1000, reps)?,
        ),
    ])
}

/// Stores `bench-pmem` makes per pass (1 MiB of 8-byte stores).
pub const PMEM_STORES: u64 = (1 << 20) / 8;
/// Passes of the untraced variants, so that their time stands out of the
/// noise of a whole run (the traced variant makes one).
const UNTRACED_PASSES: u64 = 200;

/// Store costs: the same 1 MiB of 8-byte stores to the NVDIMM while
/// recording (every store an exit, the model and the trace), to the NVDIMM
/// in the untraced setup phase, and to guest RAM; each is the run's time
/// minus a run that writes nothing, per store.
pub fn pmem(reps: usize, trace_dir: Option<&std::path::Path>) -> Result<Vec<Figure>, VmmError> {
    let run = |variant: &str, rep: usize| -> Result<f64, VmmError> {
        let mut config = RunConfig {
            scenario: "bench-pmem".into(),
            variant: variant.into(),
            seed: if variant == "traced" {
                1
            } else {
                UNTRACED_PASSES
            },
            ..RunConfig::default()
        };
        if let Some(dir) = trace_dir.filter(|_| variant == "traced") {
            config.kind = RunKind::Record {
                trace: Some(dir.join(format!("bench-{rep}.jsonl"))),
                power_cut: None,
            };
        }
        Ok(us(timed(&config)?.0))
    };
    let mut samples: [Vec<f64>; 3] = Default::default();
    let variants = ["traced", "setup", "ram"];
    for rep in 0..reps {
        let base = run("none", rep)?;
        for (i, v) in variants.iter().enumerate() {
            let passes = if *v == "traced" { 1 } else { UNTRACED_PASSES };
            let stores = (PMEM_STORES * passes) as f64;
            samples[i].push((run(v, rep)? - base).max(0.0) / stores);
        }
    }
    let [traced, setup, ram] = samples;
    Ok(vec![
        figure("NVDIMM store while recording", traced),
        figure("NVDIMM store in the setup phase", setup),
        figure("RAM store", ram),
    ])
}

/// A crash test's speed next to its floor, measured one after the other.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CrashBench {
    /// The crash test's report (counts, time, where the verify VMs spent it).
    pub report: crate::crashtest::report::Report,
    /// Empty verify runs per second on reused VMs, as many workers.
    pub floor_per_second: f64,
}

impl CrashBench {
    /// How many times faster the floor is than the crash test.
    pub fn ratio(&self) -> f64 {
        self.floor_per_second / self.report.images_per_second.max(1e-9)
    }
}

/// Verify runs per second of a guest that passes at once (`idle`), on
/// `jobs` reused VMs in parallel: the floor of any crash test.
pub fn verify_floor(jobs: usize, runs_per_job: u64) -> Result<f64, VmmError> {
    let config = RunConfig {
        scenario: "idle".into(),
        ..RunConfig::default()
    };
    let base = std::sync::Arc::new(pmemvm_device::media::SharedMedia::zeroed(
        config.nvdimm.default_size as usize,
    )?);
    let image = pmemvm_device::crash::Image {
        lines: Default::default(),
    };
    let input = crate::verify_input::VerifyInput::default();
    let mut verifiers = (0..jobs.max(1))
        .map(|_| crate::verify::Verifier::new(&config, base.clone(), 0))
        .collect::<Result<Vec<_>, _>>()?;
    // Booting and warming up, as crash-test workers do: not part of the floor.
    for v in &mut verifiers {
        v.warm_up()?;
    }
    let start = Instant::now();
    std::thread::scope(|s| {
        let handles: Vec<_> = verifiers
            .iter_mut()
            .map(|v| {
                let (image, input) = (&image, &input);
                s.spawn(move || -> Result<(), VmmError> {
                    for _ in 0..runs_per_job {
                        v.verify(image, input)?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(VmmError::panicked("floor worker")))
        })
    })?;
    for v in &verifiers {
        log::info!("floor verifier: {} runs, {:?}", v.runs(), v.timings());
    }
    Ok((runs_per_job * jobs.max(1) as u64) as f64 / start.elapsed().as_secs_f64())
}

/// `rounds` times: crash-tests `scenario` with the default options, then
/// measures the floor (the machine's load changes between rounds, not
/// within one).
pub fn crashtest_rounds(
    scenario: &str,
    jobs: usize,
    out_dir: &std::path::Path,
    rounds: usize,
) -> Result<Vec<CrashBench>, VmmError> {
    (0..rounds.max(1))
        .map(|_| crashtest(scenario, jobs, out_dir))
        .collect()
}

/// Crash-tests `scenario` with the default options and measures the floor
/// right after.
fn crashtest(
    scenario: &str,
    jobs: usize,
    out_dir: &std::path::Path,
) -> Result<CrashBench, VmmError> {
    let opts = crate::crashtest::CrashTestOptions {
        run: RunConfig {
            scenario: scenario.into(),
            ..RunConfig::default()
        },
        points: pmemvm_traces::PointSet::Fences,
        states: crate::crashtest::states::parse_list(crate::crashtest::states::DEFAULT_STATES)?,
        max_images_per_point: 256,
        jobs,
        out_dir: out_dir.to_path_buf(),
        progress: false,
        interrupted: Default::default(),
    };
    let report = crate::crashtest::run(&opts)?;
    let floor_per_second = verify_floor(jobs, 300)?;
    Ok(CrashBench {
        report,
        floor_per_second,
    })
}
