//! `trace why` explains the line a historical DAX bug loses, from the trace
//! alone, in the guest's own words (its marks).

use guest_tests::{require_kvm, run_scenario, scenario};
use pmemvm::guest::GuestSource;
use pmemvm::inspect::why::why;
use pmemvm::run_kind::RunKind;
use pmemvm::verify::{VerifyOptions, verify_trace};
use pmemvm_device::crash::ImageSpec;
use pmemvm_traces::CrashPoint;
use std::path::Path;

/// Records the bug's own scenario, verifies the minimal image at its crash
/// step, and returns the `why` text of the first lost line.
fn lost_line_why(bug: &str, dir: &Path) -> String {
    let trace = dir.join(format!("{bug}.jsonl"));
    let mut config = scenario(bug);
    config.variant = bug.into();
    config.kind = RunKind::Record {
        trace: Some(trace.clone()),
        power_cut: None,
    };
    let (result, console) = run_scenario(&config);
    assert_eq!(result.expect("records").status, 0, "{console}");
    let point: CrashPoint = "mark:crash".parse().expect("point");
    let opts = VerifyOptions {
        guest: GuestSource::Bundled,
        mem: 64 << 20,
        timeout_secs: 20,
        backing: None,
    };
    let r = verify_trace(&trace, &point, &ImageSpec::Minimal, &opts).expect("verifies");
    assert!(!r.verdict.passed, "{bug} must lose data at its crash step");
    let msg = &r.verdict.message;
    let off = msg
        .split("device offset ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_hexdigit() && c != 'x').next())
        .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| panic!("no device offset in: {msg}"));
    why(&trace, off & !63, &point, None)
        .expect("why")
        .to_string()
}

#[test]
fn why_names_the_flush_with_no_fence_after_it() {
    require_kvm!();
    let dir = std::env::temp_dir().join(format!("pmemvm-why-v8-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let text = lost_line_why("missing_fence_after_clwb", &dir);
    assert!(text.contains("is NOT guaranteed persistent"), "{text}");
    assert!(text.contains("flushed it"), "{text}");
    assert!(text.contains("no sfence, mfence or rmw followed"), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn why_names_the_unflushed_store_in_a_page_never_tagged_dirty() {
    require_kvm!();
    let dir = std::env::temp_dir().join(format!("pmemvm-why-v2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let text = lost_line_why("no_pfn_mkwrite_tracking", &dir);
    assert!(text.contains("is NOT guaranteed persistent"), "{text}");
    assert!(
        text.contains("no clwb, clflushopt or clflush of the line followed"),
        "{text}"
    );
    let marks = text.split("Marks covering").nth(1).unwrap_or_default();
    assert!(
        marks.contains("fault-wp"),
        "the write-protect fault is there: {text}"
    );
    assert!(
        !marks.contains("tag-dirty"),
        "but no DIRTY tagging of that page: {text}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
