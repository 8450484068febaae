//! One run of a guest: load it, boot it in a mode, run it to its exit.

use crate::console_tail::ConsoleTail;
use crate::devices::Devices;
use crate::elf::GuestElf;
use crate::error::VmmError;
use crate::exits::{self, ExitStats, RunEnd};
use crate::guest::GuestSource;
use crate::guest_report::{Findings, ScenarioInfo, Verdict};
use crate::nvdimm::{MediaOutcome, Nvdimm, NvdimmOptions, RunNames};
use crate::run_kind::RunKind;
use crate::verify_input::VerifyInput;
use crate::vm::Vm;
use crate::watchdog::Watchdog;
use pmemvm_abi::{ABI_VERSION, BOOT_MAGIC, BootInfo, NAME_LEN, layout};
use pmemvm_device::model::Persistence;
use pmemvm_device::nfit::{CAPS_CPU, CAPS_MEM_CTRL, NfitRegion, build_acpi_tables};
use std::io::Write;
use std::time::{Duration, Instant};

/// Default guest RAM.
pub const DEFAULT_MEM: u64 = 64 << 20;
/// Heap a guest needs at least above its image.
const MIN_HEAP: u64 = 4 << 20;
/// Default time limit of a run.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// Longest time limit of a run (a day): `--timeout` accepts 1 to this.
pub const MAX_TIMEOUT_SECS: u64 = 86_400;

/// Everything that defines a run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The guest.
    pub guest: GuestSource,
    /// What the run is for (and so the mode the guest boots in).
    pub kind: RunKind,
    /// Scenario name.
    pub scenario: String,
    /// Variant name.
    pub variant: String,
    /// Workload seed.
    pub seed: u64,
    /// Guest RAM in bytes.
    pub mem: u64,
    /// Time limit.
    pub timeout_secs: u64,
    /// The NVDIMM.
    pub nvdimm: NvdimmOptions,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            guest: GuestSource::Bundled,
            kind: RunKind::RECORD,
            scenario: "hello".into(),
            variant: "correct".into(),
            seed: 1,
            mem: DEFAULT_MEM,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            nvdimm: NvdimmOptions::default(),
        }
    }
}

/// How a run ended (when it ended with an exit status or a power failure).
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The guest's exit status (0 after a power failure).
    pub status: u32,
    /// The NVDIMM's media, trace and power failure.
    pub media: MediaOutcome,
    /// Scenarios reported in list mode.
    pub scenarios: Vec<ScenarioInfo>,
    /// Exit counters.
    pub stats: ExitStats,
    /// Time from the start of VM creation to the first exit.
    pub first_exit: Duration,
    /// Verify mode's verdict, if the guest gave one.
    pub verdict: Option<Verdict>,
    /// Checks the guest failed in record mode.
    pub findings: Findings,
}

/// Checks a scenario or variant name (`what`): it must fit the boot info.
pub fn check_name(what: &str, value: &str) -> Result<(), VmmError> {
    if value.len() >= NAME_LEN || value.contains('\0') {
        return Err(VmmError::Config {
            what: format!("{what} `{}`", pmemvm_abi::shown::Shown(value)),
            reason: format!("names are at most {} bytes, without NUL", NAME_LEN - 1),
        });
    }
    Ok(())
}

fn name_field(what: &str, value: &str) -> Result<[u8; NAME_LEN], VmmError> {
    check_name(what, value)?;
    let mut field = [0u8; NAME_LEN];
    field[..value.len()].copy_from_slice(value.as_bytes());
    Ok(field)
}

/// Checks that the guest image lies in RAM above the reserved low memory and
/// leaves room for a heap.
pub fn check_fits(config: &RunConfig, elf: &GuestElf) -> Result<(), VmmError> {
    let (lo, hi) = elf.extent();
    let bad = |reason: String| VmmError::Elf {
        path: config.guest.name(),
        reason,
    };
    if lo < layout::LOAD_MIN {
        return Err(bad(format!(
            "a segment starts at {lo:#x}, below {:#x}",
            layout::LOAD_MIN
        )));
    }
    if hi.saturating_add(MIN_HEAP) > config.mem {
        return Err(bad(format!(
            "does not fit in guest RAM: it ends at {hi:#x} and needs {} MiB above it, RAM is {:#x} bytes (use --mem)",
            MIN_HEAP >> 20,
            config.mem
        )));
    }
    Ok(())
}

/// The boot-info block for a run, and the verify block to place at its
/// `verify` address (just above the image; the heap starts after it).
pub(crate) fn boot_info(
    config: &RunConfig,
    elf: &GuestElf,
) -> Result<(BootInfo, Vec<u8>), VmmError> {
    check_fits(config, elf)?;
    let (_, hi) = elf.extent();
    let image_end = hi.div_ceil(4096) * 4096;
    let input = match &config.kind {
        RunKind::Verify { input, .. } => Some(input),
        _ => None,
    };
    let verify = input.map(VerifyInput::to_bytes).unwrap_or_default();
    let free_start = image_end + (verify.len() as u64).div_ceil(4096) * 4096;
    if free_start.saturating_add(MIN_HEAP) > config.mem {
        return Err(VmmError::Config {
            what: format!("{} promises", input.map_or(0, |v| v.promises.len())),
            reason: "too many for guest RAM (use --mem)".into(),
        });
    }
    let info = BootInfo {
        magic: BOOT_MAGIC,
        abi_version: ABI_VERSION,
        mode: config.kind.mode() as u32,
        ram_size: config.mem,
        free_start,
        cr3: layout::PML4,
        rsdp: layout::ACPI,
        seed: config.seed,
        verify: if input.is_some() { image_end } else { 0 },
        scenario: name_field("scenario", &config.scenario)?,
        variant: name_field("variant", &config.variant)?,
    };
    Ok((info, verify))
}

/// A VM ready for its first instruction, with its NVDIMM attached.
pub(crate) struct Started {
    /// The VM.
    pub vm: Vm,
    /// Its NVDIMM.
    pub nvdimm: Nvdimm,
    /// Where the verify block lives (0: none).
    pub verify_at: u64,
}

/// Loads the guest, creates the VM and the NVDIMM, writes the boot info,
/// the verify block and the ACPI tables.
pub(crate) fn start(config: &RunConfig, log_dirty: bool) -> Result<Started, VmmError> {
    let elf = config.guest.load()?;
    let (info, verify) = boot_info(config, &elf)?;
    let mut nvdimm = Nvdimm::new(
        &config.nvdimm,
        RunNames {
            scenario: config.scenario.clone(),
            variant: config.variant.clone(),
            seed: config.seed,
            guest: config.guest.trace_name(),
            // Only a recorded trace names the guest's hash: verify runs
            // (many per crash test) need not hash it.
            guest_sha256: match (&config.guest, config.kind.trace()) {
                (GuestSource::Path(_), Some(_)) => Some(config.guest.sha256()?),
                _ => None,
            },
        },
        &config.kind,
    )?;
    let mut vm = Vm::new(config.mem, log_dirty)?;
    vm.boot(&elf, &info)?;
    if info.verify != 0 {
        vm.write(info.verify, &verify)?;
    }
    nvdimm.attach(&vm, log_dirty)?;
    let caps = match config.nvdimm.persistence {
        Persistence::Adr => CAPS_MEM_CTRL,
        Persistence::Eadr => CAPS_CPU,
    };
    let region = NfitRegion {
        base: nvdimm.base(),
        size: nvdimm.size(),
    };
    vm.write(layout::ACPI, &build_acpi_tables(layout::ACPI, region, caps))?;
    Ok(Started {
        vm,
        nvdimm,
        verify_at: info.verify,
    })
}

/// Runs a guest to its exit (or to the power failure), streaming its console
/// to `console`.
pub fn run(config: &RunConfig, console: &mut dyn Write) -> Result<RunOutcome, VmmError> {
    let begin = Instant::now();
    let Started { mut vm, nvdimm, .. } = start(config, false)?;
    let mut devices = Devices::new(console, config.kind.mode(), nvdimm);
    let watchdog = Watchdog::start(Duration::from_secs(config.timeout_secs))
        .map_err(|e| VmmError::Internal(format!("watchdog: {e}")))?;
    let mut stats = ExitStats::default();
    let mut first_exit = None;
    let end = loop {
        let end = exits::run(
            &mut vm,
            &mut devices,
            &watchdog,
            config.timeout_secs,
            &mut stats,
            &mut || {
                first_exit.get_or_insert_with(|| begin.elapsed());
            },
        )?;
        if end != RunEnd::Snapshot {
            break end;
        }
    };
    drop(vm);
    let Devices {
        scenarios,
        nvdimm,
        verdict,
        findings,
        ..
    } = devices;
    let media = nvdimm.finish(end == RunEnd::PowerFail)?;
    Ok(RunOutcome {
        status: match end {
            RunEnd::Exit(status) => status,
            RunEnd::PowerFail | RunEnd::Snapshot => 0,
        },
        media,
        scenarios,
        stats,
        first_exit: first_exit.unwrap_or_default(),
        verdict,
        findings,
    })
}

/// Asks a guest for its scenarios by booting it in list mode.
pub fn list_scenarios(
    guest: &GuestSource,
    mem: u64,
    timeout_secs: u64,
) -> Result<Vec<ScenarioInfo>, VmmError> {
    let config = RunConfig {
        guest: guest.clone(),
        kind: RunKind::List,
        scenario: String::new(),
        mem,
        timeout_secs,
        ..RunConfig::default()
    };
    let mut console = ConsoleTail::default();
    let outcome = run(&config, &mut console)?;
    if outcome.status != 0 {
        return Err(VmmError::GuestStatus {
            status: outcome.status,
            mode: "list",
            console: console.text(),
        });
    }
    Ok(outcome.scenarios)
}
