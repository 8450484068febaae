//! `pmemvm crashtest --html`: the report as one self-contained HTML page
//! (inline CSS and SVG, no script, nothing loaded from anywhere): the
//! summary, the timeline of the recorded run with each crash point coloured
//! by verdict, and each failure with its lost lines, the guest's message and
//! the command that reproduces it.
//!
//! * [`timeline`]: the timeline's data, streamed from the trace.
//! * [`svg`]: the timeline drawn with `plotters`.
//! * `report.html`: the page, a `minijinja` template (auto-escaped).

pub mod svg;
pub mod timeline;

use super::report::{Failure, Report};
use crate::error::VmmError;
use minijinja::{Environment, Value, context};
use pmemvm_traces::CrashPoint;
use serde::Serialize;
use std::path::Path;
use svg::Verdict;
pub use timeline::Timeline;

/// The page template.
const TEMPLATE: &str = include_str!("report.html");
/// The template's name (its extension turns HTML escaping on).
const TEMPLATE_NAME: &str = "report.html";
/// At most this many failing crash points are listed in the table.
const MAX_FAILED_POINTS_LISTED: usize = 200;

/// The seq of a point written `seq:N`.
pub fn point_seq(point: &str) -> Option<u64> {
    match point.parse() {
        Ok(CrashPoint::Seq(n)) => Some(n),
        _ => None,
    }
}

/// An entry of a legend.
#[derive(Debug, Serialize)]
struct Swatch {
    name: String,
    color: String,
    /// How many of it, when that means something.
    count: Option<u64>,
}

/// A failure with what the template shows beside it.
#[derive(Debug, Serialize)]
struct FailureView<'a> {
    number: usize,
    failure: &'a Failure,
    seq: Option<u64>,
}

/// Everything the template reads besides the report.
#[derive(Debug, Serialize)]
struct Page<'a> {
    passed: bool,
    seconds: String,
    images_per_second: String,
    verifier_seconds: Vec<(&'static str, String)>,
    points_by_verdict: Vec<Swatch>,
    failed_points: Vec<&'a super::report::PointResult>,
    failed_points_omitted: usize,
    failures: Vec<FailureView<'a>>,
    curves: Vec<Swatch>,
    regions: Vec<Swatch>,
    marks: Vec<Swatch>,
    regions_dropped: u64,
    bucket_width: u64,
}

fn template_error(e: minijinja::Error) -> VmmError {
    VmmError::Config {
        what: "HTML report template".into(),
        reason: format!("{e:#}"),
    }
}

/// The page of `report`, with the timeline of its recorded run.
pub fn render(report: &Report, timeline: &Timeline) -> Result<String, VmmError> {
    let svg = svg::timeline(report, timeline)?;
    let mut env = Environment::new();
    env.add_template(TEMPLATE_NAME, TEMPLATE)
        .map_err(template_error)?;
    let t = &report.time_in_verifiers;
    let count_of = |v: Verdict| {
        report
            .point_results
            .iter()
            .filter(|p| Verdict::of(p) == v)
            .count() as u64
    };
    let failed: Vec<_> = report
        .point_results
        .iter()
        .filter(|p| p.failed > 0)
        .collect();
    let mark_counts = timeline.labels.iter().enumerate().map(|(i, _)| {
        timeline
            .buckets
            .iter()
            .flat_map(|b| b.marks.iter())
            .filter(|(label, _)| *label == i)
            .map(|(_, n)| n)
            .sum::<u64>()
    });
    let page = Page {
        passed: report.passed(),
        seconds: format!("{:.2}", report.seconds),
        images_per_second: format!("{:.1}", report.images_per_second),
        verifier_seconds: vec![
            ("boot", format!("{:.2}", t.boot)),
            ("restore RAM", format!("{:.2}", t.restore_ram)),
            ("re-register", format!("{:.2}", t.reregister)),
            ("media", format!("{:.2}", t.media)),
            ("guest", format!("{:.2}", t.guest)),
        ],
        points_by_verdict: [
            ("all images passed", Verdict::Passed),
            ("some image failed", Verdict::Failed),
            (
                "no new image (verified at an earlier point)",
                Verdict::NoNewImage,
            ),
        ]
        .into_iter()
        .map(|(name, v)| Swatch {
            name: name.into(),
            color: svg::css(v.color()),
            count: Some(count_of(v)),
        })
        .collect(),
        failed_points_omitted: failed.len().saturating_sub(MAX_FAILED_POINTS_LISTED),
        failed_points: failed.into_iter().take(MAX_FAILED_POINTS_LISTED).collect(),
        failures: report
            .failures
            .iter()
            .enumerate()
            .map(|(i, failure)| FailureView {
                number: i + 1,
                failure,
                seq: point_seq(&failure.first.point),
            })
            .collect(),
        curves: vec![
            Swatch {
                name: "dirty lines".into(),
                color: svg::css(svg::DIRTY),
                count: None,
            },
            Swatch {
                name: "flushed, not fenced".into(),
                color: svg::css(svg::FLUSHED),
                count: None,
            },
            Swatch {
                name: "fence".into(),
                color: svg::css(svg::FENCE),
                count: Some(timeline.buckets.iter().map(|b| b.fences).sum()),
            },
        ],
        regions: svg::region_names(timeline)
            .into_iter()
            .enumerate()
            .map(|(i, name)| Swatch {
                name: name.into(),
                color: svg::css(svg::palette(i)),
                count: Some(
                    timeline
                        .regions
                        .iter()
                        .filter(|s| s.name == name)
                        .map(|s| s.count)
                        .sum(),
                ),
            })
            .collect(),
        marks: timeline
            .labels
            .iter()
            .zip(mark_counts)
            .enumerate()
            .map(|(i, (name, count))| Swatch {
                name: name.clone(),
                color: svg::css(svg::palette(i)),
                count: Some(count),
            })
            .collect(),
        regions_dropped: timeline.regions_dropped,
        bucket_width: timeline.width,
    };
    env.get_template(TEMPLATE_NAME)
        .and_then(|tpl| {
            tpl.render(context! {
                r => Value::from_serialize(report),
                page => Value::from_serialize(&page),
                timeline_svg => Value::from_safe_string(svg),
            })
        })
        .map_err(template_error)
}

/// The page of `report`, reading the timeline from its recorded trace.
pub fn render_report(report: &Report) -> Result<String, VmmError> {
    let timeline = Timeline::from_trace(Path::new(&report.trace))?;
    render(report, &timeline)
}
