//! Flushes, fences, non-temporal stores and locked instructions the model
//! cannot see.
//!
//! The VMM sees every guest store to the NVDIMM, but a flush, a fence, a
//! non-temporal store or a locked read-modify-write reaches it only when the
//! guest executes it through the runtime's recorded persistent-memory API
//! (the `.pmem_api` section). One executed anywhere else (an `_mm_sfence`
//! intrinsic, inline assembly) is invisible, so the model may allow crash
//! states the hardware cannot produce: false alarms. [`lint`] disassembles a
//! guest's executable segments and lists every such instruction outside the
//! API (every one when the guest has no `.pmem_api` section).

use std::ops::Range;

use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic, OpKind};
use serde::Serialize;

use super::symbols::{Resolved, Symbols};
use crate::elf::{self, GuestElf};
use crate::error::VmmError;
use crate::guest::GuestSource;

/// The section holding the recorded persistent-memory API.
pub const API_SECTION: &str = ".pmem_api";

/// One flush, fence, non-temporal store or locked instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Its address.
    #[serde(with = "pmemvm_traces::hex::addr")]
    pub address: u64,
    /// Its mnemonic, lower case, with `lock ` before a locked one
    /// (`sfence`, `lock cmpxchg`, `xchg`).
    pub mnemonic: String,
    /// Where it comes from, when the ELF has symbols.
    pub location: Option<Resolved>,
}

/// What [`lint`] found in a guest.
#[derive(Debug, Clone, Serialize)]
pub struct Lint {
    /// Address range of the `.pmem_api` section, if the guest has one.
    pub api: Option<Range<u64>>,
    /// Such instructions inside the API (not symbolized).
    pub recorded: Vec<Finding>,
    /// Such instructions outside the API, symbolized: the model cannot see them.
    pub unrecorded: Vec<Finding>,
}

impl Lint {
    /// True when every such instruction is inside the recorded API.
    pub fn is_clean(&self) -> bool {
        self.unrecorded.is_empty()
    }
}

/// Lists the guest ELF's flushes, fences, non-temporal stores and locked
/// instructions, inside and outside the recorded API. `name` names the ELF
/// in errors.
pub fn lint(name: &str, bytes: &[u8]) -> Result<Lint, VmmError> {
    let elf = GuestElf::parse(name, bytes)?;
    let api = elf::section(bytes, API_SECTION).map(|(at, code)| at..at + code.len() as u64);
    let (mut recorded, mut unrecorded) = (Vec::new(), Vec::new());
    for insn in instructions(&elf) {
        let Some(mnemonic) = persistence_relevant(&insn) else {
            continue;
        };
        let finding = Finding {
            address: insn.ip(),
            mnemonic,
            location: None,
        };
        if api.as_ref().is_some_and(|r| r.contains(&insn.ip())) {
            recorded.push(finding);
        } else {
            unrecorded.push(finding);
        }
    }
    if !unrecorded.is_empty() {
        let symbols = Symbols::from_elf(name, bytes)?;
        for f in &mut unrecorded {
            f.location = symbols.resolve(f.address);
        }
    }
    Ok(Lint {
        api,
        recorded,
        unrecorded,
    })
}

/// Lints the guest of `source` (read from its file, or the bundled one).
pub fn lint_source(source: &GuestSource) -> Result<Lint, VmmError> {
    let bytes = source.bytes()?;
    lint(&source.name(), &bytes)
}

/// The one-line warning `run`, `crashtest` and `verify` print before their
/// results when a guest other than the bundled one executes such
/// instructions outside the API; `None` for the bundled guest (a test keeps
/// it clean) and for a clean guest.
pub fn warning(source: &GuestSource) -> Result<Option<String>, VmmError> {
    let GuestSource::Path(path) = source else {
        return Ok(None);
    };
    let lint = lint_source(source)?;
    let name = path.display();
    Ok((!lint.is_clean()).then(|| {
        format!(
            "{name} has {} flush/fence/non-temporal/locked instruction(s) outside the recorded \
             persistent-memory API; the model cannot see them, so results may include false \
             alarms (list them: pmemvm lint --guest {name})",
            lint.unrecorded.len()
        )
    }))
}

/// Every instruction of the ELF's executable segments, decoded linearly.
pub fn instructions(elf: &GuestElf) -> impl Iterator<Item = Instruction> + '_ {
    elf.segments
        .iter()
        .filter(|s| s.executable)
        .flat_map(|s| Decoder::with_ip(64, &s.data, s.paddr, DecoderOptions::NONE).into_iter())
}

/// The mnemonic of a flush, fence (not `lfence`: it orders no store),
/// non-temporal store, `wbinvd`/`wbnoinvd` or locked instruction (a `lock`
/// prefix, or `xchg` with memory, locked implicitly); `None` for any other.
pub fn persistence_relevant(insn: &Instruction) -> Option<String> {
    use Mnemonic::*;
    let listed = matches!(
        insn.mnemonic(),
        Clwb | Clflush
            | Clflushopt
            | Sfence
            | Mfence
            | Movnti
            | Movntdq
            | Movntps
            | Movntpd
            | Movntq
            | Maskmovq
            | Maskmovdqu
            | Wbinvd
            | Wbnoinvd
    );
    let memory = (0..insn.op_count()).any(|i| insn.op_kind(i) == OpKind::Memory);
    let xchg_memory = insn.mnemonic() == Xchg && memory;
    let name = format!("{:?}", insn.mnemonic()).to_lowercase();
    if insn.has_lock_prefix() {
        Some(format!("lock {name}"))
    } else {
        (listed || xchg_memory).then_some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Instruction {
        Decoder::with_ip(64, bytes, 0x1000, DecoderOptions::NONE).decode()
    }

    #[test]
    fn classification() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (&[0x0f, 0xae, 0xf8], Some("sfence")),
            (&[0x0f, 0xae, 0xf0], Some("mfence")),
            (&[0x0f, 0xae, 0xe8], None), // lfence
            (&[0x66, 0x0f, 0xae, 0x37], Some("clwb")),
            (&[0x66, 0x0f, 0xae, 0x3f], Some("clflushopt")),
            (&[0x0f, 0xae, 0x3f], Some("clflush")),
            (&[0x48, 0x0f, 0xc3, 0x07], Some("movnti")),
            (&[0x66, 0x0f, 0xe7, 0x07], Some("movntdq")),
            (&[0x0f, 0x09], Some("wbinvd")),
            (&[0xf0, 0x48, 0x0f, 0xb1, 0x0f], Some("lock cmpxchg")),
            (&[0x48, 0x87, 0x07], Some("xchg")), // xchg [rdi], rax
            (&[0x48, 0x87, 0xc3], None),         // xchg rbx, rax
            (&[0x48, 0x89, 0x07], None),         // mov [rdi], rax
            (&[0x90], None),                     // nop
        ];
        for (bytes, want) in cases {
            assert_eq!(
                persistence_relevant(&decode(bytes)).as_deref(),
                *want,
                "{bytes:02x?}"
            );
        }
    }

    #[test]
    fn the_bundled_guest_is_clean() {
        let l = lint_source(&GuestSource::Bundled).expect("lints");
        assert!(l.api.is_some());
        assert!(l.is_clean(), "{:#?}", l.unrecorded);
        assert_eq!(warning(&GuestSource::Bundled).expect("checks"), None);
    }

    #[test]
    fn a_guest_that_cannot_be_read_is_an_error() {
        let e = lint_source(&GuestSource::Path("/nonexistent".into())).expect_err("no file");
        assert!(e.to_string().contains("/nonexistent"), "{e}");
        let e = lint("bytes", b"plain text").expect_err("not an ELF");
        assert!(e.to_string().contains("not an ELF file"), "{e}");
    }
}
