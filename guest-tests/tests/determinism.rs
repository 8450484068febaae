//! The guest must be deterministic: no instruction that reads host time or
//! hardware randomness may appear in the bundled guest.

use iced_x86::{Decoder, DecoderOptions, Mnemonic};

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
