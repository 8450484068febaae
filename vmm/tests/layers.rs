//! The library's modules form layers (see `src/lib.rs`): each imports only
//! from the modules listed before it here, so no two modules import each
//! other, directly or through others, and nothing below the KVM plumbing
//! reaches KVM. KVM-free: reads the sources.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every top-level module of `src/`, from the bottom up, with its layer.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "without KVM",
        &[
            "cpu_dump",
            "interrupt",
            "error",
            "console_tail",
            "elf",
            "guest",
            "guest_code",
            "guest_report",
            "verify_input",
            "promise_check",
            "run_kind",
            "replay",
            "inspect",
            "testing",
        ],
    ),
    ("KVM plumbing", &["boot", "vm", "watchdog"]),
    (
        "guest devices",
        &["nvdimm", "devices", "hypercall", "exits"],
    ),
    (
        "runs",
        &["session", "verify", "crashtest", "campaign", "bench"],
    ),
];

/// The source files under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `crate::NAME` paths a source text names (in code, not comments).
fn crate_refs(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .flat_map(|l| l.match_indices("crate::").map(move |(i, _)| &l[i + 7..]))
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn every_module_imports_only_from_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let order: BTreeMap<&str, (usize, &str)> = LAYERS
        .iter()
        .flat_map(|(layer, modules)| modules.iter().map(move |m| (*m, *layer)))
        .enumerate()
        .map(|(i, (m, layer))| (m, (i, layer)))
        .collect();
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|s| s.trim_end_matches(".rs"))
            .expect("a name");
        if matches!(top, "lib" | "main" | "cli") {
            continue;
        }
        let Some(&(rank, layer)) = order.get(top) else {
            wrong.push(format!("{}: module `{top}` is in no layer", rel.display()));
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("readable");
        for used in crate_refs(&text) {
            match order.get(used.as_str()) {
                Some(&(r, l)) if r > rank => wrong.push(format!(
                    "{}: `{top}` ({layer}) imports `{used}` ({l}), listed above it",
                    rel.display()
                )),
                _ => {}
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_check_sees_an_upward_import() {
    assert_eq!(
        crate_refs("use crate::session::run; // crate::vm\nlet x = crate::vm::MAX_RAM;"),
        ["session", "vm"]
    );
}
