//! What the bundled guest may execute, checked on its disassembly:
//! nothing that reads host time or hardware randomness (runs must be
//! deterministic), and no flush, fence, non-temporal store or locked
//! instruction outside the recorded persistent-memory API (an unrecorded
//! fence would let the model allow states the hardware cannot produce),
//! checked by the code of `pmemvm lint`.

use iced_x86::Mnemonic;
use pmemvm::guest::GuestSource;
use pmemvm::guest_code::lint;

#[test]
fn no_host_time_or_randomness_in_the_guest() {
    let forbidden = [
        Mnemonic::Rdtsc,
        Mnemonic::Rdtscp,
        Mnemonic::Rdrand,
        Mnemonic::Rdseed,
        Mnemonic::Rdpid,
    ];
    let elf = GuestSource::Bundled.load().expect("parses");
    let mut decoded = 0;
    for insn in lint::instructions(&elf) {
        decoded += 1;
        assert!(
            !forbidden.contains(&insn.mnemonic()),
            "{:?} at {:#x}: the guest must keep a logical clock, not read host time",
            insn.mnemonic(),
            insn.ip()
        );
    }
    assert!(decoded > 1000, "decoded only {decoded} instructions");
}

#[test]
fn flushes_fences_nt_stores_and_locks_only_in_the_recorded_api() {
    let l = lint::lint_source(&GuestSource::Bundled).expect("lints");
    assert!(l.api.is_some(), "the guest has a .pmem_api section");
    assert!(
        l.is_clean(),
        "outside the recorded persistent-memory API {:#x?}: {:#?}",
        l.api,
        l.unrecorded
    );
    // The API itself executes each kind it records.
    let mut inside: Vec<&str> = l.recorded.iter().map(|f| f.mnemonic.as_str()).collect();
    inside.sort_unstable();
    inside.dedup();
    for kind in [
        "clwb",
        "clflushopt",
        "clflush",
        "sfence",
        "mfence",
        "xchg",
        "movnti",
    ] {
        assert!(
            inside.contains(&kind),
            "no {kind} in the API; found {inside:?}"
        );
    }
}

#[test]
fn an_sfence_of_the_guest_s_own_is_found_and_named() {
    let bytes = std::fs::read(guest_tests::UNRECORDED_FENCE_ELF).expect("test guest built");
    let l = lint::lint(guest_tests::UNRECORDED_FENCE_ELF, &bytes).expect("lints");
    let [f] = l.unrecorded.as_slice() else {
        panic!("one unrecorded instruction expected: {:#?}", l.unrecorded);
    };
    assert_eq!(f.mnemonic, "sfence");
    let r = f.location.as_ref().expect("symbolized");
    assert_eq!(
        r.innermost.function,
        "pmemvm_unrecorded_fence::unrecorded_sfence"
    );
    // Relative to the current directory (the package's, under cargo test).
    assert_eq!(
        r.innermost.file.as_deref(),
        Some("unrecorded-fence/src/main.rs"),
        "{r:?}"
    );
    assert!(r.innermost.line.is_some());
}
