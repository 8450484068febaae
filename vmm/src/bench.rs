//! `pmemvm bench`: measurements of the VMM on this machine, each reported
//! as the median of several runs made in one invocation.

use crate::error::VmmError;
use crate::run_kind::RunKind;
use crate::session::{self, RunConfig, RunOutcome};
use pmemvm_traces::Recording;
use std::path::Path;
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

/// The workloads of `bench-record` that `pmemvm bench record` measures,
/// with the passes its `epochs` and untraced runs make (its `stores` run
/// makes one): about half a second each, for their time to stand out of
/// the floor's noise (an `epochs` floor run copies the 64 MiB media into
/// fresh memory, 70 ms to several hundred on a loaded machine).
pub const RECORD_WORKLOADS: &[(&str, u64)] = &[
    ("append-64", 4),
    ("append-256", 16),
    ("append-4k", 128),
    ("copy-1m", 64),
];

/// The scenarios `pmemvm bench record` also records both ways (seed 1,
/// variant `correct`; no untraced run).
pub const RECORD_SCENARIOS: &[&str] = &["dax-fsync", "fsx"];

/// One workload of `pmemvm bench record`: its time per pass recorded in
/// `stores` mode, in `epochs` mode and untraced (in the setup phase), each
/// above the floor of a run that writes nothing.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecordRow {
    /// The `bench-record` variant, or the scenario.
    pub workload: String,
    /// Passes of the `epochs` and untraced runs (figures are per pass).
    pub passes: u64,
    /// Recorded in `stores` mode.
    pub stores: Figure,
    /// Recorded in `epochs` mode.
    pub epochs: Figure,
    /// In the untraced setup phase (`-setup` variant); none for a scenario.
    pub untraced: Option<Figure>,
    /// Exits per pass in `stores` mode, above the floor's.
    pub stores_exits: f64,
    /// Exits per pass in `epochs` mode, above the floor's.
    pub epochs_exits: f64,
    /// Exits per pass untraced, above the floor's.
    pub untraced_exits: Option<f64>,
    /// `epochs` over untraced: the price of recording at epochs.
    pub epochs_over_untraced: Option<f64>,
    /// `stores` over `epochs`: what epochs save.
    pub stores_over_epochs: Option<f64>,
    /// Microseconds per exit of the untraced run (the workload's native
    /// work included): what an exit costs without recording.
    pub untraced_us_per_exit: Option<f64>,
    /// Microseconds per exit that `epochs` mode adds to the untraced run:
    /// the dirty log, the comparison of the dirty pages with the shadow,
    /// the events, and the guest's write-protection faults.
    pub epochs_extra_us_per_exit: Option<f64>,
}

/// `a / b`, when `b` is above 0 (a time above the floor may be 0 on a
/// noisy machine).
fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

impl RecordRow {
    /// Works out the ratios from the medians and the exits.
    fn with_ratios(mut self) -> RecordRow {
        let untraced = self.untraced.as_ref().map(|u| u.median_us);
        let epochs = self.epochs.median_us;
        self.epochs_over_untraced = untraced.and_then(|u| ratio(epochs, u));
        self.stores_over_epochs = ratio(self.stores.median_us, epochs);
        self.untraced_us_per_exit = untraced
            .zip(self.untraced_exits)
            .and_then(|(u, e)| ratio(u, e));
        self.epochs_extra_us_per_exit = untraced.and_then(|u| ratio(epochs - u, self.epochs_exits));
        self
    }
}

/// What `pmemvm bench record` measured in one invocation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecordBench {
    /// Repetitions (each figure is their median).
    pub reps: usize,
    /// The floor in `stores` mode: a run that boots, ends its setup and
    /// writes nothing (its median is subtracted from the `stores` and
    /// untraced runs).
    pub floor_stores: Figure,
    /// The floor in `epochs` mode (its median is subtracted from the
    /// `epochs` runs; it holds the fixed cost of the mode, the shadow copy
    /// of the media).
    pub floor_epochs: Figure,
    /// One row per workload.
    pub rows: Vec<RecordRow>,
}

/// A whole run of `scenario` (bundled guest), recorded as `recording`
/// says, its trace written to `trace` if given: its time in microseconds
/// and its exits.
fn record_run(
    scenario: &str,
    variant: &str,
    seed: u64,
    recording: Recording,
    trace: Option<std::path::PathBuf>,
) -> Result<(f64, u64), VmmError> {
    let (took, outcome) = timed(&RunConfig {
        scenario: scenario.into(),
        variant: variant.into(),
        seed,
        kind: RunKind::Record {
            trace,
            power_cut: None,
        },
        nvdimm: crate::nvdimm::NvdimmOptions {
            recording,
            ..Default::default()
        },
        ..RunConfig::default()
    })?;
    Ok((us(took), outcome.stats.exits))
}

/// The runs of one cell of [`RecordRow`]: whole-run times (microseconds)
/// and the exits of the last.
#[derive(Default)]
struct Cell {
    runs: Vec<f64>,
    exits: u64,
}

impl Cell {
    fn push(&mut self, (run_us, exits): (f64, u64)) {
        self.runs.push(run_us);
        self.exits = exits;
    }

    /// Time per pass above the floor, one sample per run.
    fn figure(&self, name: &str, floor: &Floor, passes: u64) -> Figure {
        let passes = passes.max(1) as f64;
        let per_pass = self
            .runs
            .iter()
            .map(|r| (r - floor.figure.median_us).max(0.0) / passes)
            .collect();
        figure(name, per_pass)
    }

    /// Exits per pass above the floor's.
    fn exits(&self, floor: &Floor, passes: u64) -> f64 {
        self.exits.saturating_sub(floor.exits) as f64 / passes.max(1) as f64
    }
}

/// The floor of one mode: its runs' times, and the exits of a run.
struct Floor {
    figure: Figure,
    exits: u64,
}

impl Floor {
    fn of(name: &str, cell: Cell) -> Floor {
        Floor {
            figure: figure(name, cell.runs),
            exits: cell.exits,
        }
    }
}

/// `pmemvm bench record`: each of `workloads` (names of
/// [`RECORD_WORKLOADS`] and [`RECORD_SCENARIOS`]) recorded in `stores`
/// mode, in `epochs` mode and (for the workloads) untraced, `reps` times,
/// interleaved with the floors of both modes, whose median each run's time
/// is taken above (one slow floor run does not move a whole repetition);
/// each recorded run's trace written to `trace_dir` if given.
pub fn record(
    reps: usize,
    workloads: &[&str],
    trace_dir: Option<&Path>,
) -> Result<RecordBench, VmmError> {
    let passes_of = |w: &str| {
        RECORD_WORKLOADS
            .iter()
            .find(|(n, _)| *n == w)
            .map(|(_, p)| *p)
    };
    let trace = |w: &str, mode: &str, rep: usize| {
        trace_dir.map(|d| d.join(format!("record-{w}-{mode}-{rep}.jsonl")))
    };
    let (mut floor_s, mut floor_e) = (Cell::default(), Cell::default());
    let mut cells: Vec<[Cell; 3]> = workloads.iter().map(|_| Default::default()).collect();
    for rep in 0..reps.max(1) {
        floor_s.push(record_run(
            "bench-record",
            "none",
            1,
            Recording::Stores,
            None,
        )?);
        floor_e.push(record_run(
            "bench-record",
            "none",
            1,
            Recording::Epochs,
            None,
        )?);
        for (w, [stores, epochs, untraced]) in workloads.iter().zip(&mut cells) {
            let (scenario, variant, passes) = match passes_of(w) {
                Some(p) => ("bench-record", *w, p),
                None => (*w, "correct", 1),
            };
            let seed = |p: u64| if scenario == "bench-record" { p } else { 1 };
            stores.push(record_run(
                scenario,
                variant,
                seed(1),
                Recording::Stores,
                trace(w, "stores", rep),
            )?);
            epochs.push(record_run(
                scenario,
                variant,
                seed(passes),
                Recording::Epochs,
                trace(w, "epochs", rep),
            )?);
            if scenario == "bench-record" {
                let setup = format!("{w}-setup");
                untraced.push(record_run(
                    scenario,
                    &setup,
                    passes,
                    Recording::Stores,
                    None,
                )?);
            }
        }
    }
    let floor_s = Floor::of("floor, stores", floor_s);
    let floor_e = Floor::of("floor, epochs", floor_e);
    let rows = workloads
        .iter()
        .zip(cells)
        .map(|(w, [stores, epochs, untraced])| {
            let passes = passes_of(w).unwrap_or(1);
            let measured = !untraced.runs.is_empty();
            RecordRow {
                workload: w.to_string(),
                passes,
                stores: stores.figure("stores", &floor_s, 1),
                epochs: epochs.figure("epochs", &floor_e, passes),
                untraced: measured.then(|| untraced.figure("untraced", &floor_s, passes)),
                stores_exits: stores.exits(&floor_s, 1),
                epochs_exits: epochs.exits(&floor_e, passes),
                untraced_exits: measured.then(|| untraced.exits(&floor_s, passes)),
                epochs_over_untraced: None,
                stores_over_epochs: None,
                untraced_us_per_exit: None,
                epochs_extra_us_per_exit: None,
            }
            .with_ratios()
        })
        .collect();
    Ok(RecordBench {
        reps: reps.max(1),
        floor_stores: floor_s.figure,
        floor_epochs: floor_e.figure,
        rows,
    })
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
