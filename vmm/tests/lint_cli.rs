//! `pmemvm lint` and the check before `run`, `crashtest` and `verify`, on
//! the bundled guest (clean) and on a test guest with an `sfence` of its own
//! outside the recorded persistent-memory API.

mod common;
use common::{kvm, pmemvm, text};

use guest_tests::UNRECORDED_FENCE_ELF as FENCE;

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("pmemvm-lint-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

#[test]
fn the_bundled_guest_is_clean() {
    let out = pmemvm(&["lint"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with(
            "lint: clean: no flush, fence, non-temporal store or locked instruction outside the recorded persistent-memory API"
        ),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn an_unrecorded_sfence_is_listed_with_its_function() {
    let out = pmemvm(&["lint", "--guest", FENCE]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with("0x")
            && lines[0].contains("  sfence  in pmemvm_unrecorded_fence::unrecorded_sfence (")
            && lines[0].contains("unrecorded-fence/src/main.rs:"),
        "{stdout}"
    );
    assert!(
        lines[1].contains("1 flush/fence/non-temporal/locked instruction(s) outside"),
        "{stdout}"
    );

    let json = pmemvm(&["lint", "--guest", FENCE, "--json"]);
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(v["clean"], false);
    assert_eq!(v["unrecorded"][0]["mnemonic"], "sfence");
    assert_eq!(
        v["unrecorded"][0]["location"]["innermost"]["function"],
        "pmemvm_unrecorded_fence::unrecorded_sfence"
    );
}

#[test]
fn bad_input_exits_2_with_one_line_naming_the_file() {
    for (path, why) in [
        ("/nonexistent", "cannot read"),
        ("Cargo.toml", "not an ELF file"),
    ] {
        let out = pmemvm(&["lint", "--guest", path]);
        assert_eq!(out.status.code(), Some(2), "{path}");
        let stderr = text(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(path) && stderr.contains(why), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn crashtest_warns_before_its_results_and_strict_refuses() {
    if !kvm() {
        return;
    }
    let d = dir("ct");
    let out_dir = d.to_str().expect("UTF-8 path");
    let args = [
        "crashtest",
        "--guest",
        FENCE,
        "--scenario",
        "unrecorded-fence",
        "--out",
        out_dir,
    ];
    let out = pmemvm(&args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let warning = format!(
        "warning: {FENCE} has 1 flush/fence/non-temporal/locked instruction(s) outside the recorded persistent-memory API; the model cannot see them, so results may include false alarms (list them: pmemvm lint --guest {FENCE})"
    );
    assert_eq!(stderr.lines().next(), Some(warning.as_str()), "{stderr}");
    assert_eq!(stderr.matches("warning:").count(), 1, "{stderr}");
    assert!(
        text(&out.stdout).contains("no failure"),
        "{}",
        text(&out.stdout)
    );

    std::fs::remove_dir_all(&d).ok();
    let strict = pmemvm(&[&args[..], &["--strict"]].concat());
    let stderr = text(&strict.stderr);
    assert_eq!(strict.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("pmemvm: --strict: ") && stderr.contains("pmemvm lint --guest"),
        "{stderr}"
    );
    assert!(strict.stdout.is_empty(), "{}", text(&strict.stdout));
    assert!(
        !d.exists(),
        "--strict ran something: {} exists",
        d.display()
    );
}

#[test]
fn the_bundled_guest_runs_without_a_warning_even_with_strict() {
    if !kvm() {
        return;
    }
    let out = pmemvm(&["run", "--scenario", "hello", "--strict"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn trace_show_and_why_name_the_functions_of_rips_of_a_known_guest() {
    if !kvm() {
        return;
    }
    let d = dir("trace");
    let trace = d.join("smoke.jsonl");
    let t = trace.to_str().expect("UTF-8 path");
    let run = pmemvm(&["run", "--scenario", "pmem-smoke", "--trace", t]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let function = "pmemvm_agent::scenarios::pmem_smoke::";
    let file = "agent/src/scenarios/pmem_smoke.rs:";

    // The header names the bundled guest: symbols without --guest.
    let show = text(&pmemvm(&["trace", "show", t, "--kind", "store"]).stdout);
    let first = show.lines().nth(1).expect("a store");
    assert!(first.contains(function) && first.contains(file), "{show}");
    let why = pmemvm(&["trace", "why", t, "--line", "0x0", "--at", "end"]);
    let why = text(&why.stdout);
    assert!(
        why.contains(&format!(" {function}")) && why.contains("(rip 0x"),
        "{why}"
    );

    // Without a guest named, the output is what it always was.
    let header_end = std::fs::read_to_string(&trace).expect("trace");
    let anonymous = d.join("anonymous.jsonl");
    std::fs::write(
        &anonymous,
        header_end.replacen(r#","guest":"bundled""#, "", 1),
    )
    .expect("write");
    let a = anonymous.to_str().expect("UTF-8 path");
    let plain = text(&pmemvm(&["trace", "show", a, "--kind", "store"]).stdout);
    assert!(!plain.contains(function), "{plain}");
    assert_eq!(
        plain.lines().nth(1).map(str::len),
        first.find(function).map(|at| at - 2),
        "{plain}"
    );
    let why = text(&pmemvm(&["trace", "why", a, "--line", "0x0", "--at", "end"]).stdout);
    assert!(!why.contains(function) && why.contains("(rip 0x"), "{why}");

    // --guest names them with another ELF's symbols; a bad one is bad input.
    let other = text(&pmemvm(&["trace", "show", a, "--kind", "store", "--guest", FENCE]).stdout);
    assert!(!other.contains(function), "{other}");
    let bad = pmemvm(&[
        "trace",
        "why",
        t,
        "--line",
        "0x0",
        "--at",
        "end",
        "--guest",
        "Cargo.toml",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(
        text(&bad.stderr).lines().count(),
        1,
        "{}",
        text(&bad.stderr)
    );
    assert!(text(&bad.stderr).contains("Cargo.toml"));
    std::fs::remove_dir_all(&d).ok();
}
