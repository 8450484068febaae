//! `pmemvm::guest_code::Symbols` on the test guest with its line tables,
//! with its symbol table only (`objcopy --strip-debug`), and with nothing
//! (`--strip-all`); and `lint` on the stripped guests.

use pmemvm::guest_code::{Symbols, lint};
use std::path::PathBuf;
use std::process::Command;

const FUNCTION: &str = "pmemvm_unrecorded_fence::unrecorded_sfence";

/// The test guest stripped with `objcopy FLAG`, as bytes.
fn stripped(flag: &str) -> Vec<u8> {
    let out: PathBuf =
        std::env::temp_dir().join(format!("pmemvm-symbols{flag}-{}.elf", std::process::id()));
    let status = Command::new("objcopy")
        .arg(flag)
        .arg(guest_tests::UNRECORDED_FENCE_ELF)
        .arg(&out)
        .status()
        .expect("objcopy (binutils, which links the guests) runs");
    assert!(status.success());
    let bytes = std::fs::read(&out).expect("stripped ELF");
    std::fs::remove_file(&out).ok();
    bytes
}

/// The address of the guest's own `sfence`, as `lint` finds it.
fn sfence(name: &str, bytes: &[u8]) -> lint::Finding {
    let l = lint::lint(name, bytes).expect("lints");
    let [f] = l.unrecorded.as_slice() else {
        panic!("{name}: one unrecorded instruction expected: {l:#?}");
    };
    f.clone()
}

#[test]
fn line_tables_give_function_file_and_line() {
    let bytes = std::fs::read(guest_tests::UNRECORDED_FENCE_ELF).expect("test guest built");
    let symbols = Symbols::from_elf("guest", &bytes).expect("symbols");
    assert!(symbols.has_line_tables());
    let f = sfence("guest", &bytes);
    let described = symbols.describe(f.address).expect("described");
    assert!(
        described.starts_with(&format!("{FUNCTION} (")) && described.contains("src/main.rs:"),
        "{described}"
    );
}

#[test]
fn without_line_tables_the_symbol_table_names_the_function() {
    let bytes = stripped("--strip-debug");
    let symbols = Symbols::from_elf("stripped", &bytes).expect("symbols");
    assert!(!symbols.has_line_tables());
    let f = sfence("stripped", &bytes);
    assert_eq!(symbols.describe(f.address).as_deref(), Some(FUNCTION));
    let location = f.location.expect("lint names it too");
    assert_eq!(location.innermost.function, FUNCTION);
    assert_eq!(location.innermost.file, None);
}

#[test]
fn without_symbols_nothing_is_named_and_lint_still_lists() {
    let bytes = stripped("--strip-all");
    let symbols = Symbols::from_elf("bare", &bytes).expect("an ELF without symbols is no error");
    let f = sfence("bare", &bytes);
    assert_eq!(f.mnemonic, "sfence");
    assert_eq!(f.location, None);
    assert_eq!(symbols.describe(f.address), None);
}

/// The runtime's `memcpy`, `memmove` and `memset` of the bundled guest,
/// which write the NVDIMM, use plain integer moves: no call (the compiler
/// did not turn a loop back into a call to one of them), no `rep` string
/// instruction (one exit per element on the NVDIMM), no SSE/AVX register.
#[test]
fn the_runtime_memory_functions_call_nothing_and_use_no_rep_or_vector_registers() {
    use iced_x86::{Mnemonic, OpKind};
    let elf = pmemvm::elf::GuestElf::parse("bundled", pmemvm::guest::BUNDLED).expect("parses");
    let symbols = Symbols::from_elf("bundled", pmemvm::guest::BUNDLED).expect("symbols");
    let mut seen = std::collections::BTreeMap::new();
    for insn in lint::instructions(&elf) {
        let Some(r) = symbols.resolve(insn.ip()) else {
            continue;
        };
        let function = r.outermost.function;
        if !["memcpy", "memmove", "memset"].contains(&function.as_str()) {
            continue;
        }
        *seen.entry(function.clone()).or_insert(0) += 1;
        let vector = (0..insn.op_count()).any(|i| {
            insn.op_kind(i) == OpKind::Register && {
                let reg = insn.op_register(i);
                reg.is_xmm() || reg.is_ymm() || reg.is_zmm()
            }
        });
        assert!(
            !matches!(insn.mnemonic(), Mnemonic::Call)
                && !insn.has_rep_prefix()
                && !insn.has_repne_prefix()
                && !vector,
            "{function} at {:#x}: {insn}",
            insn.ip()
        );
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
}
