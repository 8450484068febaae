//! What the bundled guest may execute, checked on its disassembly:
//! nothing that reads host time or hardware randomness (runs must be
//! deterministic), and no flush, fence, non-temporal store or locked
//! instruction outside the recorded persistent-memory API (an unrecorded
//! fence would let the model allow states the hardware cannot produce).

use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic, OpKind};

/// Executable segments of the bundled guest: (address, bytes).
fn code() -> Vec<(u64, Vec<u8>)> {
    let elf = pmemvm::elf::GuestElf::parse("bundled", pmemvm::guest::BUNDLED).expect("parses");
    elf.segments
        .iter()
        .filter(|s| s.executable)
        .map(|s| (s.paddr, s.data.clone()))
        .collect()
}

#[test]
fn no_host_time_or_randomness_in_the_guest() {
    let forbidden = [
        Mnemonic::Rdtsc,
        Mnemonic::Rdtscp,
        Mnemonic::Rdrand,
        Mnemonic::Rdseed,
        Mnemonic::Rdpid,
    ];
    let mut decoded = 0;
    for (addr, bytes) in code() {
        let mut decoder = Decoder::with_ip(64, &bytes, addr, DecoderOptions::NONE);
        while decoder.can_decode() {
            let insn = decoder.decode();
            decoded += 1;
            assert!(
                !forbidden.contains(&insn.mnemonic()),
                "{:?} at {:#x}: the guest must keep a logical clock, not read host time",
                insn.mnemonic(),
                insn.ip()
            );
        }
    }
    assert!(decoded > 1000, "decoded only {decoded} instructions");
}

/// A flush, fence, non-temporal store or locked instruction.
fn persistence_relevant(insn: &Instruction) -> bool {
    use Mnemonic::*;
    let memory_dest = insn.op_count() > 0 && insn.op0_kind() == OpKind::Memory;
    matches!(
        insn.mnemonic(),
        Clwb | Clflush
            | Clflushopt
            | Sfence
            | Mfence
            | Lfence
            | Movnti
            | Movntdq
            | Movntps
            | Movntpd
            | Movntq
            | Maskmovq
            | Maskmovdqu
            | Wbinvd
            | Wbnoinvd
    ) || insn.has_lock_prefix()
        || (insn.mnemonic() == Xchg && (memory_dest || insn.op1_kind() == OpKind::Memory))
}

#[test]
fn flushes_fences_nt_stores_and_locks_only_in_the_recorded_api() {
    let (api_start, api) = pmemvm::elf::section(pmemvm::guest::BUNDLED, ".pmem_api")
        .expect("the guest has a .pmem_api section");
    let api_range = api_start..api_start + api.len() as u64;
    let mut inside = 0;
    for (addr, bytes) in code() {
        let mut decoder = Decoder::with_ip(64, &bytes, addr, DecoderOptions::NONE);
        while decoder.can_decode() {
            let insn = decoder.decode();
            if !persistence_relevant(&insn) {
                continue;
            }
            assert!(
                api_range.contains(&insn.ip()),
                "{:?} at {:#x} is outside the recorded persistent-memory API ({:#x}..{:#x})",
                insn.mnemonic(),
                insn.ip(),
                api_range.start,
                api_range.end
            );
            inside += 1;
        }
    }
    // clwb, clflushopt, clflush, sfence, mfence, xchg, movnti x2 at least.
    assert!(
        inside >= 8,
        "only {inside} such instructions found in the API"
    );
}
