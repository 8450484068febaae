//! Command-line parsing and the subcommands.

mod bench_cmd;
mod campaign_cmd;
mod crashtest_cmd;
mod lint_cmd;
mod new_cmd;
mod run_cmd;
mod scenarios_cmd;
mod trace_cmd;
mod verify_cmd;

use clap::{Parser, Subcommand};
use pmemvm::Fault;
use pmemvm_device::DeviceError;
use std::path::{Path, PathBuf};

/// pmemvm: find every way your persistent-memory code can lose data on power failure.
#[derive(Debug, Parser)]
#[command(
    name = "pmemvm",
    version,
    about,
    long_about = None,
    after_help = "Exit status: 0 success; 1 findings (data lost or a check failed in the \
                  guest's code); 2 pmemvm could not run (bad input, no KVM, internal \
                  error); 3 the guest failed (exception, timeout, protocol violation, \
                  non-zero status); 130 interrupted."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Crash-test a scenario: every way it can lose data on power failure.
    Crashtest(crashtest_cmd::CrashTestArgs),
    /// Crash-test a matrix of seeds, variants and persistence domains: the distinct bugs across it.
    Campaign(campaign_cmd::CampaignArgs),
    /// Work on campaign reports (merge the shards' reports).
    #[command(subcommand)]
    Report(campaign_cmd::ReportCommand),
    /// Run a scenario of a guest (the bundled agent by default).
    Run(run_cmd::RunArgs),
    /// List a guest's scenarios (asks the guest itself).
    Scenarios(scenarios_cmd::ScenariosArgs),
    /// Measure pmemvm on this machine.
    Bench(bench_cmd::BenchArgs),
    /// Verify one crash image of a recorded trace: boot the guest on it and check its promises.
    Verify(verify_cmd::VerifyArgs),
    /// List the guest's flushes, fences, non-temporal stores and locked instructions outside the recorded persistent-memory API.
    Lint(lint_cmd::LintArgs),
    /// Make a guest project on the SDK in DIR (Rust, or C with --lang c): a persistent log to crash-test, and a README.
    New(new_cmd::NewArgs),
    /// Inspect persistence traces.
    #[command(subcommand)]
    Trace(trace_cmd::TraceCommand),
}

/// Options shared by every command that boots a guest.
#[derive(Debug, clap::Args, Clone)]
struct GuestArgs {
    /// Guest ELF to run instead of the bundled agent.
    #[arg(long, value_name = "ELF")]
    guest: Option<PathBuf>,
    /// Guest RAM size (e.g. 64M, 1G).
    #[arg(long, value_name = "SIZE", default_value = "64M")]
    mem: String,
    /// Stop a guest that runs longer than this (1 to 86400).
    #[arg(long, value_name = "SECS", default_value_t = pmemvm::session::DEFAULT_TIMEOUT_SECS)]
    timeout: u64,
}

/// [`GuestArgs`] checked: the guest file fits the RAM, the sizes and the
/// time limit are in range.
#[derive(Debug, Clone)]
struct Guest {
    source: pmemvm::guest::GuestSource,
    mem: u64,
    timeout: u64,
}

/// [`GuestArgs`] of the commands that report results (`run`, `crashtest`,
/// `verify`): the guest is checked for instructions the model cannot see
/// before anything runs.
#[derive(Debug, clap::Args, Clone)]
struct CheckedGuestArgs {
    #[command(flatten)]
    args: GuestArgs,
    /// Refuse (exit 2, nothing run) a guest with a flush, fence, non-temporal
    /// store or locked instruction outside the recorded persistent-memory API
    /// (`pmemvm lint` lists them) instead of warning.
    #[arg(long)]
    strict: bool,
}

impl CheckedGuestArgs {
    /// The guest, after the checks of [`GuestArgs::guest`] and the lint:
    /// one warning line on stderr when a guest other than the bundled one
    /// executes instructions the model cannot see, or an error with
    /// `--strict`.
    fn guest(&self) -> anyhow::Result<Guest> {
        let mut guest = self.args.guest()?;
        guest.source = self.check(guest.source)?;
        Ok(guest)
    }

    /// The lint of [`guest`](Self::guest) on `source` (for a guest named
    /// by a trace rather than by `--guest`).
    fn check(
        &self,
        source: pmemvm::guest::GuestSource,
    ) -> anyhow::Result<pmemvm::guest::GuestSource> {
        if let Some(warning) = pmemvm::guest_code::lint::warning(&source)? {
            anyhow::ensure!(!self.strict, "--strict: {warning}");
            eprintln!("warning: {warning}");
        }
        Ok(source)
    }
}

/// Which workload to run.
#[derive(Debug, clap::Args, Clone)]
struct WorkloadArgs {
    /// Scenario (`pmemvm scenarios` lists them). Default: `dax-fsync` on the
    /// bundled guest, the only scenario of a `--guest` that has one.
    #[arg(long)]
    scenario: Option<String>,
    /// Variant of the scenario.
    #[arg(long, default_value = "correct")]
    variant: String,
    /// Seed of the workload.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// The bundled guest's default scenario.
const BUNDLED_DEFAULT_SCENARIO: &str = "dax-fsync";

impl WorkloadArgs {
    /// The scenario to run, checked with the guest (asked in list mode), so
    /// a wrong one is one clear line before anything runs: `--scenario`;
    /// without it `dax-fsync` on the bundled guest, or the only scenario of
    /// a `--guest`, and an error naming them when it has several.
    fn scenario(&self, guest: &Guest) -> anyhow::Result<String> {
        pmemvm::session::check_name("variant", &self.variant)?;
        if let Some(s) = &self.scenario {
            pmemvm::session::check_name("scenario", s)?;
        }
        let known = pmemvm::session::list_scenarios(&guest.source, guest.mem, guest.timeout)?;
        let names: Vec<&str> = known.iter().map(|s| s.name.as_str()).collect();
        let scenario = match (&self.scenario, &guest.source, known.as_slice()) {
            (Some(s), _, _) => s.clone(),
            (None, pmemvm::guest::GuestSource::Bundled, _) => BUNDLED_DEFAULT_SCENARIO.into(),
            (None, _, [only]) => only.name.clone(),
            (None, source, _) => anyhow::bail!(
                "--guest {} has {} scenarios, choose one with --scenario: {}",
                source.name(),
                known.len(),
                names.join(", ")
            ),
        };
        let Some(info) = known.iter().find(|s| s.name == scenario) else {
            anyhow::bail!(
                "--scenario {}: unknown scenario; the guest has: {}",
                pmemvm_abi::shown::Shown(&scenario),
                names.join(", ")
            );
        };
        // A scenario that lists no variants takes any (the guest decides).
        let variants: Vec<&str> = info.variants.iter().map(|v| v.name.as_str()).collect();
        anyhow::ensure!(
            variants.is_empty() || variants.contains(&self.variant.as_str()),
            "--variant {}: unknown variant of {scenario}; it has: {}",
            pmemvm_abi::shown::Shown(&self.variant),
            variants.join(", ")
        );
        Ok(scenario)
    }
}

/// Options of the emulated NVDIMM.
#[derive(Debug, clap::Args, Clone)]
struct NvdimmArgs {
    /// Backing file, QEMU style: mem-path=FILE,size=SIZE[,label-size=SIZE][,share=on|off]
    /// (default: 64 MiB in a temporary file).
    #[arg(long, value_name = "OPTIONS")]
    nvdimm: Vec<String>,
    /// Persistence domain (QEMU nvdimm-persistence): mem-ctrl (ADR) or cpu (eADR).
    #[arg(long, value_name = "DOMAIN", default_value = "mem-ctrl")]
    persistence: String,
    /// Failure atomicity unit of the model: line or word.
    #[arg(long, value_name = "UNIT", default_value = "line")]
    atomicity: String,
    /// How stores are recorded: `stores` (every store exits and is traced
    /// in program order) or `epochs` (stores run natively; at each exit the
    /// changed lines are traced before the epoch's flushes and fences;
    /// crash points only at epoch ends; see README "Recording modes").
    #[arg(long, value_name = "MODE", default_value = "stores")]
    record: String,
}

/// Parses `--record`.
fn parse_recording(text: &str) -> anyhow::Result<pmemvm_traces::Recording> {
    match text {
        "stores" => Ok(pmemvm_traces::Recording::Stores),
        "epochs" => Ok(pmemvm_traces::Recording::Epochs),
        other => Err(bad_value(
            "--record",
            other,
            "unknown recording mode (stores, epochs)",
        )),
    }
}

impl NvdimmArgs {
    fn options(&self) -> anyhow::Result<pmemvm::nvdimm::NvdimmOptions> {
        let backing = match self.nvdimm.as_slice() {
            [] => None,
            [one] => Some(
                one.parse::<pmemvm_device::backing::NvdimmConfig>()
                    .map_err(|e| bad_value("--nvdimm", one, e))?,
            ),
            [_, second, ..] => {
                return Err(bad_value(
                    "--nvdimm",
                    second,
                    "a second NVDIMM is not supported yet (one device per VM)",
                ));
            }
        };
        Ok(pmemvm::nvdimm::NvdimmOptions {
            backing,
            persistence: DeviceError::parse_name(&self.persistence)
                .map_err(|e| bad_value("--persistence", &self.persistence, e))?,
            atomicity: DeviceError::parse_name(&self.atomicity)
                .map_err(|e| bad_value("--atomicity", &self.atomicity, e))?,
            recording: parse_recording(&self.record)?,
            ..Default::default()
        })
    }
}

impl GuestArgs {
    /// Checks the options before anything is read or booted: `--mem` in
    /// range, `--timeout` from 1 to [`MAX_TIMEOUT_SECS`], and a `--guest`
    /// that is a regular file no larger than the RAM.
    ///
    /// [`MAX_TIMEOUT_SECS`]: pmemvm::session::MAX_TIMEOUT_SECS
    fn guest(&self) -> anyhow::Result<Guest> {
        let mem = pmemvm_device::backing::parse_size(&self.mem)
            .map_err(|e| bad_value("--mem", &self.mem, e))?;
        pmemvm::vm::check_ram_size(mem)?;
        let max = pmemvm::session::MAX_TIMEOUT_SECS;
        anyhow::ensure!(
            (1..=max).contains(&self.timeout),
            "--timeout {}: the time limit must be between 1 and {max} seconds",
            self.timeout
        );
        let source = match &self.guest {
            Some(p) => pmemvm::guest::GuestSource::Path(p.clone()),
            None => pmemvm::guest::GuestSource::Bundled,
        };
        source.check(mem)?;
        Ok(Guest {
            source,
            mem,
            timeout: self.timeout,
        })
    }
}

/// The error of a bad `value` of `option`: both named, the value shown
/// escaped and cut ([`Shown`](pmemvm_abi::shown::Shown)).
fn bad_value(option: &str, value: &str, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{option} {}: {e}", pmemvm_abi::shown::Shown(value))
}

/// Checks the output file of `option` before the work starts: its directory
/// exists and is writable, it is not a directory.
fn check_output(option: &str, path: &Path) -> anyhow::Result<()> {
    pmemvm_traces::files::check_output(path).map_err(|e| anyhow::anyhow!("{option}: {e}"))
}

/// Writes the output file of `option` (a regular file through a temporary
/// file and a rename, a device or FIFO in place; see
/// [`pmemvm_traces::files::OutputFile`]).
fn write_output(option: &str, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    pmemvm_traces::files::write_output(path, bytes).map_err(|e| anyhow::anyhow!("{option}: {e}"))
}

/// Exit status when the user's code lost data or failed a check.
const EXIT_FINDINGS: i32 = 1;
/// Exit status when pmemvm could not run (bad input, no KVM, an internal
/// error).
const EXIT_CANNOT_RUN: i32 = 2;
/// Exit status when the guest failed (exception, timeout, protocol
/// violation, non-zero status).
const EXIT_GUEST_FAILURE: i32 = 3;
/// Exit status when the user stopped pmemvm (Ctrl-C).
const EXIT_INTERRUPTED: i32 = 130;

/// The exit status of a command that failed with `e`: whose fault it is.
fn exit_status(e: &anyhow::Error) -> i32 {
    match e.downcast_ref::<pmemvm::VmmError>().map(|v| v.fault()) {
        Some(Fault::Guest) => EXIT_GUEST_FAILURE,
        Some(Fault::Interrupted) => EXIT_INTERRUPTED,
        Some(Fault::Input | Fault::Internal) | None => EXIT_CANNOT_RUN,
    }
}

/// A command-line error of clap's in one line: its message and the
/// arguments it lists, without the usage and the pointer to `--help`.
fn one_line(rendered: &str) -> String {
    let words: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty() && !l.starts_with("tip:"))
        .collect();
    let text = words.join(" ");
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    format!("{text} (see --help)")
}

/// Runs the command line; returns the process exit status.
pub fn main() -> i32 {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp(None)
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help, version, and the help shown for a missing subcommand.
        Err(e)
            if !e.use_stderr()
                || e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            e.exit()
        }
        Err(e) => {
            eprintln!("pmemvm: {}", one_line(&e.render().to_string()));
            return EXIT_CANNOT_RUN;
        }
    };
    if cli.command.boots_guests() {
        pmemvm::interrupt::install();
    }
    let result = match cli.command {
        Command::Crashtest(a) => crashtest_cmd::run(&a),
        Command::Campaign(a) => campaign_cmd::run(&a),
        Command::Report(c) => campaign_cmd::report(&c),
        Command::Run(a) => run_cmd::run(&a),
        Command::Scenarios(a) => scenarios_cmd::run(&a),
        Command::Bench(a) => bench_cmd::run(&a),
        Command::Trace(c) => trace_cmd::run(&c),
        Command::Verify(a) => verify_cmd::run(&a),
        Command::Lint(a) => lint_cmd::run(&a),
        Command::New(a) => new_cmd::run(&a),
    };
    match result {
        Ok(status) => status,
        Err(e) => {
            eprintln!("pmemvm: {e:#}");
            exit_status(&e)
        }
    }
}

impl Command {
    /// Commands that boot guests stop them on Ctrl-C and exit 130; the
    /// others keep the default action of SIGINT.
    fn boots_guests(&self) -> bool {
        !matches!(
            self,
            Command::Trace(_) | Command::Lint(_) | Command::New(_) | Command::Report(_)
        )
    }
}
