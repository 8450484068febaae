//! What the `pmemvm trace` subcommands share: parsing points and line
//! addresses, naming the file in errors, printing JSON.

use std::path::Path;

use anyhow::Context as _;
use pmemvm::VmmError;
use pmemvm::guest::GuestSource;
use pmemvm::guest_code::Symbols;
use pmemvm_traces::{BUNDLED_GUEST, CrashPoint, Header, LINE_SIZE, TraceError, TraceReader};
use serde::Serialize;

/// Parses the crash point of option `flag`.
pub fn point(flag: &str, text: &str) -> anyhow::Result<CrashPoint> {
    text.parse()
        .map_err(|e| anyhow::anyhow!("{flag} {text}: {e}"))
}

/// Parses `--line ADDR` against the trace's device: a device offset, or a
/// guest-physical address inside the device; hex with `0x` or decimal.
/// Returns the device offset of the line holding it.
pub fn line(text: &str, header: &Header) -> anyhow::Result<u64> {
    let value = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    }
    .map_err(|_| super::super::bad_value("--line", text, "not an address (0x hex or decimal)"))?;
    let dev = &header.device;
    let offset = if value < dev.size {
        value
    } else if value >= dev.base && value - dev.base < dev.size {
        value - dev.base
    } else {
        anyhow::bail!(
            "--line {text}: outside the device (device offsets 0x0..{:#x}, guest-physical {:#x}..{:#x})",
            dev.size,
            dev.base,
            dev.base + dev.size
        );
    };
    Ok(offset - offset % LINE_SIZE)
}

/// The symbols of the trace's guest: the ELF of `--guest`, else the bundled
/// guest when the header names it; `None` when the guest is unknown.
pub fn symbols(guest: Option<&Path>, header: &Header) -> anyhow::Result<Option<Symbols>> {
    let source = match guest {
        Some(path) => GuestSource::Path(path.to_path_buf()),
        None if header.guest.as_deref() == Some(BUNDLED_GUEST) => GuestSource::Bundled,
        None => return Ok(None),
    };
    Ok(Some(Symbols::from_source(&source)?))
}

/// The header of the trace at `path`.
pub fn header(path: &Path) -> anyhow::Result<Header> {
    Ok(TraceReader::open(path)?.header().clone())
}

/// Adds the file name to errors that lack it (a point beyond the end).
pub fn name_file<T, E>(file: &Path, r: Result<T, E>) -> anyhow::Result<T>
where
    E: Into<anyhow::Error>,
{
    r.map_err(Into::into).map_err(|e: anyhow::Error| {
        let beyond = |t: &TraceError| matches!(t, TraceError::PointBeyondEnd { .. });
        let lacks_file = e.downcast_ref::<TraceError>().is_some_and(beyond)
            || matches!(e.downcast_ref::<VmmError>(), Some(VmmError::TraceFile(t)) if beyond(t));
        if lacks_file {
            e.context(file.display().to_string())
        } else {
            e
        }
    })
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json(v: &impl Serialize) -> anyhow::Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).context("cannot encode JSON")?
    );
    Ok(())
}
