//! `pmemvm crashtest --html`: the page is self-contained, has the summary,
//! the timeline and one section per failure, and renders in a real browser
//! (Debian's headless Chromium) without console errors, with a timeline
//! that is not blank.
//!
//! How the browser is checked, twice per page:
//! * Screenshot run, with `--enable-logging=stderr --v=0`: Chromium logs
//!   every console message (`console.*`, uncaught exceptions) as a line
//!   containing `:CONSOLE`; any such line fails (the page has no script, so
//!   any console output is a problem).
//! * `--dump-dom` run on a probe copy of the page with one script injected
//!   first in `<head>`: it records `error` events in the capture phase
//!   (script errors and resources that failed to load, which are not
//!   console lines) and `console.error`/`console.warn` calls, and on `load`
//!   writes them and the timeline SVG's box into a `<pre id="pmemvm-probe">`.
//!   A missing probe (the page broke before `load`) fails too.
//! * A deliberately broken page must be caught by both, so a Chromium whose
//!   log format changed fails here instead of passing silently.
//!
//! Network is off for the browser (`--host-resolver-rules=MAP * ~NOTFOUND`),
//! so a page that loads anything from the network gets an error.
//!
//! The screenshot is decoded with `png`; the timeline's box (from the probe)
//! must hold many distinct colours, enough non-white pixels, and the colour
//! of the crash points' verdict.
//!
//! Chromium is `/usr/bin/chromium` (`scripts/test.sh` installs it); without
//! it these tests fail unless `PMEMVM_SKIP_BROWSER=1`.

mod common;
use common::kvm;

use pmemvm::crashtest::html::{self, Timeline, timeline::TimelineBuilder};
use pmemvm::crashtest::report::{
    Cause, Counts, FailedImage, Failure, PointResult, Report, TimeBreakdown,
};
use pmemvm_traces::{Atomicity, Device, Event, EventKind, Flush, Header, Mark, Persistence, Write};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
/// Colours of the crash points (`svg::PASSED`, `svg::FAILED`).
const GREEN: [u8; 3] = [0x1a, 0x9e, 0x52];
const RED: [u8; 3] = [0xd6, 0x27, 0x28];
/// The browser window of both runs (the probe's layout is the screenshot's).
const WINDOW: (u32, u32) = (1280, 1800);

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pmemvm-html-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn browser() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    if std::env::var("PMEMVM_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("SKIPPED: {CHROMIUM} missing and PMEMVM_SKIP_BROWSER=1");
        return false;
    }
    panic!(
        "{CHROMIUM} is missing: run scripts/test.sh (it installs Debian's chromium) \
         or apt-get install chromium; set PMEMVM_SKIP_BROWSER=1 to skip browser tests"
    );
}

// ---------------------------------------------------------------- pages

fn header() -> Header {
    Header::new(
        Device {
            base: 0x1_0000_0000,
            size: 64 << 20,
        },
        Persistence::Adr,
        Atomicity::Line,
        "synthetic",
        "no-fence",
        7,
        [0; 32],
    )
}

/// A timeline of 3000 events: operations with stores, flushes, fences and marks.
fn synthetic_timeline() -> Timeline {
    let mut b = TimelineBuilder::new(&header());
    let mut seq = 0;
    let mut ev = |kind: EventKind, b: &mut TimelineBuilder| {
        seq += 1;
        b.observe(&Event::new(seq, kind));
    };
    for op in 0..100u64 {
        ev(EventKind::Mark(Mark::new("write-begin")), &mut b);
        for i in 0..(op % 17 + 10) {
            let off = ((op * 7 + i) % 256) * 64;
            let w = Write::new(0x1_0000_0000 + off, off, vec![1], 0x1000).with_init([0; 64]);
            ev(EventKind::Store(w), &mut b);
        }
        ev(EventKind::Mark(Mark::new("tag-dirty")), &mut b);
        if op % 3 != 0 {
            for i in 0..6 {
                let off = ((op * 7 + i) % 256) * 64;
                ev(
                    EventKind::Clwb(Flush::new(0x1_0000_0000 + off, off)),
                    &mut b,
                );
            }
            ev(EventKind::Sfence, &mut b);
        }
        ev(EventKind::Mark(Mark::new("write-end")), &mut b);
    }
    b.finish()
}

fn failure(message: &str, seq: u64, images: u64) -> Failure {
    let first = FailedImage {
        point: format!("seq:{seq}"),
        description: format!("during write, just after seq {seq}"),
        image: "units:0x40=1".into(),
        lost_lines: vec!["0x40".into(), "0x80".into()],
        kept_lines: 3,
        reproduce: format!(
            "pmemvm verify --trace /tmp/t/trace.jsonl --at seq:{seq} --image 'units:0x40=1'"
        ),
    };
    Failure {
        check: "promised-data".into(),
        message: message.into(),
        images,
        points: 1,
        cause: Cause {
            lost: vec![],
            kept_after: None,
            summary: "the store at 0x1000 (seq 2) was lost".into(),
        },
        smallest: first.clone(),
        first,
        retest: "pmemvm crashtest --scenario synthetic --points 'fences@mark:a..mark:b'".into(),
        key: Default::default(),
    }
}

fn synthetic_report(t: &Timeline) -> Report {
    let point_results: Vec<PointResult> = (1..=60)
        .map(|i| PointResult {
            seq: i * t.events / 61,
            verified: u64::from(i % 9 != 0),
            failed: u64::from(i % 13 == 0),
        })
        .collect();
    let failed_seq = point_results[12].seq;
    Report {
        tool_version: "0.1.0".into(),
        scenario: "synthetic".into(),
        variant: "no-fence".into(),
        seed: 7,
        persistence: "mem-ctrl".into(),
        atomicity: "line".into(),
        points: "fences".into(),
        states: "minimal,maximal".into(),
        trace: "/tmp/t/trace.jsonl".into(),
        complete: true,
        events: t.events,
        record_findings: vec![],
        record_findings_not_kept: 0,
        counts: Counts {
            points: 60,
            images_generated: 200,
            images_unique: 120,
            images_verified: 120,
            points_truncated: 0,
            point_reasons: Default::default(),
        },
        seconds: 1.5,
        record_seconds: 0.5,
        walk_seconds: 0.1,
        images_per_second: 80.0,
        time_in_verifiers: TimeBreakdown::default(),
        failures: vec![
            failure(
                "file 1 offset 0x0: promised 0x11, found 0xaa",
                failed_seq,
                5,
            ),
            failure("<script>alert('x')</script> & more", failed_seq, 2),
        ],
        point_results,
    }
}

/// The text of HTML with the escapes `minijinja` writes undone.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

/// The values of every `src`/`href` attribute (plain or namespaced).
fn links(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    for attr in ["src=", "href="] {
        for (i, _) in lower.match_indices(attr) {
            let rest = lower[i + attr.len()..].trim_start_matches(['"', '\'']);
            out.push(rest.chars().take_while(|c| !"\"' >".contains(*c)).collect());
        }
    }
    out
}

/// The checks on a page's text: self-contained, summary, timeline, failures.
fn check_page(html: &str, report: &Report) {
    for link in links(html) {
        assert!(
            !link.starts_with("http:") && !link.starts_with("https:") && !link.starts_with("//"),
            "the page loads {link} from the network"
        );
    }
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "the page has a script");
    assert!(
        !lower.contains("@import") && !lower.contains("url("),
        "the CSS loads something"
    );
    assert!(!lower.contains("<link"), "the page links a resource");
    let summary = &html[html.find("id=\"summary\"").expect("summary section")..];
    for needle in [
        report.scenario.as_str(),
        report.variant.as_str(),
        report.persistence.as_str(),
    ] {
        assert!(summary.contains(needle), "summary lacks {needle}");
    }
    assert!(summary.contains(&format!("seed <code>{}</code>", report.seed)));
    assert!(summary.contains(&report.counts.images_verified.to_string()));
    assert!(html.contains(if report.passed() {
        ">PASSED<"
    } else {
        ">FAILED<"
    }));
    let timeline = &html[html.find("id=\"timeline\"").expect("timeline section")..];
    let svg = &timeline[timeline.find("<svg").expect("timeline SVG")..];
    assert!(svg.contains("</svg>") && svg.contains("crash points") && svg.contains("fences"));
    let sections = html.matches("class=\"card failure\"").count();
    assert_eq!(sections, report.failures.len(), "one section per failure");
    let text = unescape(html);
    for (i, f) in report.failures.iter().enumerate() {
        let section = &text[text
            .find(&format!("id=\"failure-{}\"", i + 1))
            .expect("failure section")..];
        let section = &section[..section.find("</table>").expect("end of section")];
        assert!(
            section.contains(&f.message),
            "failure {} lacks its message",
            i + 1
        );
        assert!(
            section.contains(&f.first.reproduce),
            "failure {} lacks its command",
            i + 1
        );
        assert!(
            section.contains(&format!("<code>{}</code>", f.check)),
            "failure {} lacks its check",
            i + 1
        );
        for line in &f.first.lost_lines {
            assert!(
                section.contains(&format!("<code>{line}</code>")),
                "lost line {line}"
            );
        }
    }
}

// ---------------------------------------------------------------- browser

/// Runs Chromium headless on `args`, network off; returns its stdout and stderr.
fn chromium(work: &Path, args: &[String]) -> (String, String) {
    let profile = work.join(format!("profile-{}", args.len()));
    let _ = std::fs::remove_dir_all(&profile);
    let out = work.join("chromium.out");
    let err = work.join("chromium.err");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .spawn()
        .expect("starts chromium");
    let begin = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("waits") {
            break s;
        }
        if begin.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium {args:?} ran for more than 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    let (stdout, stderr) = (read(&out), read(&err));
    assert!(status.success(), "chromium {args:?}: {status}\n{stderr}");
    (stdout, stderr)
}

/// Console lines Chromium logged for the page.
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .collect()
}

const PROBE: &str = r#"<script>(function(){
var errors=[];
addEventListener('error',function(e){errors.push(e.message||('failed to load '+(e.target&&(e.target.src||e.target.href))));},true);
['error','warn'].forEach(function(k){var f=console[k];console[k]=function(){errors.push(k+': '+Array.prototype.join.call(arguments,' '));return f.apply(console,arguments);};});
addEventListener('load',function(){var s=document.querySelector('#timeline svg');var r=s&&s.getBoundingClientRect();
var p=document.createElement('pre');p.id='pmemvm-probe';
p.textContent=JSON.stringify({errors:errors,timeline:r?[r.left,r.top,r.width,r.height]:null});document.body.appendChild(p);});
})();</script>"#;

/// What the probe saw: errors, and the timeline's box in CSS pixels.
struct Probe {
    errors: Vec<String>,
    timeline: Option<[f64; 4]>,
}

fn probe(work: &Path, page: &Path) -> Probe {
    let html = std::fs::read_to_string(page).expect("page");
    let at = html.find("<head>").map_or(0, |i| i + "<head>".len());
    let probed = work.join("probed.html");
    std::fs::write(&probed, format!("{}{PROBE}{}", &html[..at], &html[at..])).expect("probe copy");
    let (dom, stderr) = chromium(
        work,
        &[
            "--dump-dom".into(),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            format!("file://{}", probed.display()),
        ],
    );
    let start = dom
        .find("<pre id=\"pmemvm-probe\">")
        .unwrap_or_else(|| panic!("the probe did not run (page broken before load)\n{stderr}"));
    let json = &dom[start + "<pre id=\"pmemvm-probe\">".len()..];
    let json = unescape(&json[..json.find("</pre>").expect("end of probe")]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("probe JSON");
    let errors = v["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    let timeline = v["timeline"].as_array().map(|a| {
        let f = |i: usize| a.get(i).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
        [f(0), f(1), f(2), f(3)]
    });
    Probe { errors, timeline }
}

struct Shot {
    width: usize,
    height: usize,
    rgb: Vec<[u8; 3]>,
}

fn screenshot(work: &Path, page: &Path, (w, h): (u32, u32)) -> (Shot, String) {
    let png_path = work.join("shot.png");
    let (_, stderr) = chromium(
        work,
        &[
            "--enable-logging=stderr".into(),
            "--v=0".into(),
            format!("--screenshot={}", png_path.display()),
            format!("--window-size={w},{h}"),
            format!("file://{}", page.display()),
        ],
    );
    let file = std::io::BufReader::new(std::fs::File::open(&png_path).expect("screenshot"));
    let mut decoder = png::Decoder::new(file);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("PNG size")];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    let channels = info.color_type.samples();
    let rgb = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|p| match p.len() {
            1 | 2 => [p[0]; 3],
            _ => [p[0], p[1], p[2]],
        })
        .collect();
    (
        Shot {
            width: info.width as usize,
            height: info.height as usize,
            rgb,
        },
        stderr,
    )
}

/// Renders `page` in Chromium: no console line, no error, and a timeline
/// holding many colours, ink, and each of `colors`.
fn check_in_browser(work: &Path, page: &Path, colors: &[[u8; 3]]) {
    let probe = probe(work, page);
    assert!(
        probe.errors.is_empty(),
        "errors in the browser: {:?}",
        probe.errors
    );
    let [left, top, width, height] = probe.timeline.expect("the timeline SVG is on the page");
    assert!(
        width > 600.0 && height > 200.0,
        "timeline box {width}x{height}"
    );
    assert!(
        top + height < f64::from(WINDOW.1),
        "timeline below the window"
    );
    let (shot, stderr) = screenshot(work, page, WINDOW);
    let console = console_lines(&stderr);
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
    let (x0, y0) = (left as usize, top as usize);
    let (x1, y1) = (
        ((left + width) as usize).min(shot.width),
        ((top + height) as usize).min(shot.height),
    );
    assert!(
        x1 > x0 + 100 && y1 > y0 + 100,
        "timeline outside the screenshot"
    );
    let mut distinct = HashSet::new();
    let mut ink = 0usize;
    let mut seen = vec![false; colors.len()];
    for y in y0..y1 {
        for x in x0..x1 {
            let p = shot.rgb[y * shot.width + x];
            distinct.insert(p);
            ink += usize::from(p.iter().any(|&c| c < 235));
            for (s, c) in seen.iter_mut().zip(colors) {
                *s |= p.iter().zip(c).all(|(a, b)| a.abs_diff(*b) <= 6);
            }
        }
    }
    let area = (x1 - x0) * (y1 - y0);
    assert!(
        distinct.len() >= 24,
        "timeline nearly blank: {} colours",
        distinct.len()
    );
    assert!(
        ink * 50 > area,
        "timeline nearly blank: {ink} of {area} pixels inked"
    );
    for (c, s) in colors.iter().zip(seen) {
        assert!(s, "no pixel of colour {c:02x?} in the timeline");
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn the_page_is_self_contained_with_summary_timeline_and_failures() {
    let t = synthetic_timeline();
    let report = synthetic_report(&t);
    let html = html::render(&report, &t).expect("renders");
    check_page(&html, &report);
    assert!(!html.contains("<script>alert"), "guest text is not escaped");
}

#[test]
fn a_passing_report_has_no_failure_section() {
    let t = synthetic_timeline();
    let mut report = synthetic_report(&t);
    report.failures.clear();
    for p in &mut report.point_results {
        p.failed = 0;
    }
    let html = html::render(&report, &t).expect("renders");
    check_page(&html, &report);
    assert!(!html.contains("id=\"failures\""));
}

#[test]
fn the_browser_checks_catch_a_broken_page() {
    if !browser() {
        return;
    }
    let d = dir("broken");
    let page = d.join("broken.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><head><script>console.error('boom'); missing();</script></head>\
         <body><img src=\"https://example.invalid/x.png\"></body></html>",
    )
    .expect("write");
    let probe = probe(&d, &page);
    assert!(
        probe.errors.iter().any(|e| e.contains("boom")),
        "{:?}",
        probe.errors
    );
    assert!(
        probe.errors.iter().any(|e| e.contains("missing")),
        "{:?}",
        probe.errors
    );
    assert!(
        probe.errors.iter().any(|e| e.contains("example.invalid")),
        "{:?}",
        probe.errors
    );
    assert!(probe.timeline.is_none());
    let (_, stderr) = screenshot(&d, &page, (400, 300));
    assert_eq!(console_lines(&stderr).len(), 2, "{stderr}");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn a_synthetic_report_renders_in_chromium() {
    if !browser() {
        return;
    }
    let d = dir("synthetic");
    let t = synthetic_timeline();
    let page = d.join("report.html");
    std::fs::write(
        &page,
        html::render(&synthetic_report(&t), &t).expect("renders"),
    )
    .expect("write");
    check_in_browser(&d, &page, &[GREEN, RED]);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn crashtest_html_of_a_missing_fence_renders_in_chromium() {
    if !kvm() || !browser() {
        return;
    }
    let d = dir("cli");
    let page = d.join("report.html");
    let json = d.join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_pmemvm"))
        .args([
            "crashtest",
            "--scenario",
            "pmem-smoke",
            "--variant",
            "no-fence",
            "--out",
        ])
        .arg(&d)
        .arg("--html")
        .arg(&page)
        .arg("--report")
        .arg(&json)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).expect("the page is written");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("JSON report")).expect("JSON");
    let failures = report["failures"].as_array().expect("failures");
    assert!(!failures.is_empty());
    assert_eq!(
        html.matches("class=\"card failure\"").count(),
        failures.len()
    );
    let text = unescape(&html);
    for f in failures {
        let cmd = f["first"]["reproduce"].as_str().expect("command");
        assert!(
            text.contains(&format!("<pre class=\"cmd\">{cmd}</pre>")),
            "{cmd}"
        );
    }
    assert!(links(&html).iter().all(|l| !l.starts_with("http")));
    let left: Vec<_> = std::fs::read_dir(&d)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    check_in_browser(&d, &page, &[GREEN, RED]);
    std::fs::remove_dir_all(&d).ok();
}
