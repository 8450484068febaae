//! Draws the timeline as SVG with `plotters`: on top, the lines dirty and
//! flushed-but-not-fenced along the run; below, on the same x axis (event
//! seq), one lane of crash points coloured by verdict, one of fences, one of
//! instant marks and one per nesting depth of mark regions.

use super::timeline::{Span, Timeline};
use crate::crashtest::report::{PointResult, Report};
use crate::error::VmmError;
use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeMap;

/// Width of the picture in pixels (it scales with the page).
pub const WIDTH: u32 = 1160;
const CURVE_HEIGHT: u32 = 230;
const LANE_HEIGHT: u32 = 26;
const AXIS_HEIGHT: u32 = 42;
const LABEL_WIDTH: u32 = 112;
const RIGHT_MARGIN: u32 = 16;
/// Region lanes beyond this depth are drawn in the last one.
const MAX_REGION_LANES: usize = 4;
/// Crash points closer than this many pixels share one marker.
const POINT_BIN_PX: i32 = 5;
const FONT: &str = "sans-serif";

/// Colour of a crash point where every verified image passed.
pub const PASSED: RGBColor = RGBColor(0x1a, 0x9e, 0x52);
/// Colour of a crash point where some image failed.
pub const FAILED: RGBColor = RGBColor(0xd6, 0x27, 0x28);
/// Colour of a crash point whose images were all verified at earlier points.
pub const NO_NEW_IMAGE: RGBColor = RGBColor(0x9a, 0xa0, 0xa6);
/// Colour of the dirty-line curve.
pub const DIRTY: RGBColor = RGBColor(0xe6, 0x8a, 0x00);
/// Colour of the flushed-but-not-fenced curve.
pub const FLUSHED: RGBColor = RGBColor(0x3b, 0x6e, 0xd8);
/// Colour of fence ticks.
pub const FENCE: RGBColor = RGBColor(0x33, 0x3a, 0x44);
const GRID: RGBColor = RGBColor(0xe3, 0xe6, 0xea);
const TEXT: RGBColor = RGBColor(0x2b, 0x30, 0x36);

/// Colours of mark labels and region names, in turn.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0xba, 0xb0, 0xac),
];

/// The colour of the `i`th name of a legend.
pub fn palette(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// A colour as CSS (`#rrggbb`), for the page's legend.
pub fn css(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// What a crash point's images showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// No image was new there (all were verified at earlier points).
    NoNewImage,
    /// Every image verified there passed.
    Passed,
    /// Some image failed.
    Failed,
}

impl Verdict {
    /// The verdict of one point.
    pub fn of(p: &PointResult) -> Verdict {
        if p.failed > 0 {
            Verdict::Failed
        } else if p.verified > 0 {
            Verdict::Passed
        } else {
            Verdict::NoNewImage
        }
    }

    /// Its colour.
    pub fn color(self) -> RGBColor {
        match self {
            Verdict::NoNewImage => NO_NEW_IMAGE,
            Verdict::Passed => PASSED,
            Verdict::Failed => FAILED,
        }
    }
}

/// The distinct region names in order of first beginning (their colours
/// are `palette(index)`).
pub fn region_names(t: &Timeline) -> Vec<&str> {
    let mut spans: Vec<&Span> = t.regions.iter().collect();
    spans.sort_by_key(|s| s.begin);
    let mut names: Vec<&str> = Vec::new();
    for s in spans {
        if !names.contains(&s.name.as_str()) {
            names.push(&s.name);
        }
    }
    names
}

/// The grid and text style both charts share.
fn house_style<'m, 'a, 'b, X: Ranged, Y: Ranged, DB: DrawingBackend>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB> {
    mesh.light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .label_style((FONT, 12).into_font().color(&TEXT))
        .axis_desc_style((FONT, 13).into_font().color(&TEXT))
}

fn draw_error(e: impl std::fmt::Display) -> VmmError {
    VmmError::Config {
        what: "HTML report timeline".into(),
        reason: e.to_string(),
    }
}

/// The lanes under the curve, top to bottom.
fn lane_names(t: &Timeline) -> Vec<String> {
    let mut lanes = vec![
        "crash points".to_string(),
        "fences".to_string(),
        "marks".to_string(),
    ];
    for depth in 0..t.region_lanes().min(MAX_REGION_LANES) {
        lanes.push(if depth == 0 {
            "regions".to_string()
        } else {
            format!("nested {depth}")
        });
    }
    lanes
}

/// The timeline of `report`'s run as an SVG document.
pub fn timeline(report: &Report, t: &Timeline) -> Result<String, VmmError> {
    let lanes = lane_names(t);
    let lanes_height = LANE_HEIGHT * lanes.len() as u32;
    let height = CURVE_HEIGHT + lanes_height + AXIS_HEIGHT;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let (top, bottom) = root.split_vertically(CURVE_HEIGHT);
        let end = t.events.max(1) as f64;
        curve(&top, t, end)?;
        let mut chart = ChartBuilder::on(&bottom)
            .margin_right(RIGHT_MARGIN)
            .y_label_area_size(LABEL_WIDTH)
            .x_label_area_size(AXIS_HEIGHT)
            .build_cartesian_2d(0f64..end, 0f64..lanes.len() as f64)
            .map_err(draw_error)?;
        let mut mesh = chart.configure_mesh();
        mesh.disable_y_mesh()
            .disable_y_axis()
            .x_labels(10)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .x_desc("event seq");
        house_style(&mut mesh).draw().map_err(draw_error)?;
        let row = |i: usize| lanes.len() as f64 - i as f64;
        for (i, name) in lanes.iter().enumerate() {
            let (_, y) = chart.backend_coord(&(0.0, row(i) - 0.5));
            let (x, _) = chart.backend_coord(&(0.0, 0.0));
            root.draw(&Text::new(
                name.clone(),
                (x - 8, y),
                (FONT, 12)
                    .into_font()
                    .color(&TEXT)
                    .pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(draw_error)?;
        }
        let seq_per_px = end / f64::from(WIDTH - LABEL_WIDTH - RIGHT_MARGIN);
        crash_points(&root, &chart, report, row(0), seq_per_px)?;
        ticks(
            &mut chart,
            row(1),
            t.buckets
                .iter()
                .enumerate()
                .filter(|(_, b)| b.fences > 0)
                .map(|(i, _)| (t.bucket_start(i) as f64, FENCE)),
        )?;
        ticks(
            &mut chart,
            row(2),
            t.buckets.iter().enumerate().flat_map(|(i, b)| {
                b.marks
                    .iter()
                    .map(move |&(label, _)| (t.bucket_start(i) as f64, palette(label)))
            }),
        )?;
        regions(&root, &mut chart, t, row(3), seq_per_px)?;
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Lines dirty (filled) and flushed but not fenced (a line), per bucket.
fn curve(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    t: &Timeline,
    end: f64,
) -> Result<(), VmmError> {
    let top = t
        .buckets
        .iter()
        .map(|b| b.dirty_max.max(b.flushed_max))
        .max()
        .unwrap_or(0);
    let mut chart = ChartBuilder::on(area)
        .margin_top(12)
        .margin_right(RIGHT_MARGIN)
        .y_label_area_size(LABEL_WIDTH)
        .build_cartesian_2d(0f64..end, 0f64..(top.max(1) as f64 * 1.15))
        .map_err(draw_error)?;
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh()
        .x_labels(0)
        .y_labels(5)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .y_desc("lines");
    house_style(&mut mesh).draw().map_err(draw_error)?;
    // Steps: each bucket's value holds over its whole width.
    let steps = |value: fn(&super::timeline::Bucket) -> u64| {
        t.buckets.iter().enumerate().flat_map(move |(i, b)| {
            let v = value(b) as f64;
            let from = t.bucket_start(i) as f64;
            [(from, v), ((from + t.width as f64).min(end), v)]
        })
    };
    chart
        .draw_series(
            AreaSeries::new(steps(|b| b.dirty_max), 0.0, DIRTY.mix(0.35))
                .border_style(DIRTY.stroke_width(2)),
        )
        .map_err(draw_error)?;
    chart
        .draw_series(
            AreaSeries::new(steps(|b| b.flushed_max), 0.0, FLUSHED.mix(0.0))
                .border_style(FLUSHED.stroke_width(2)),
        )
        .map_err(draw_error)?;
    Ok(())
}

/// A short vertical tick per `(seq, colour)` in the lane whose top is `row`.
fn ticks(
    chart: &mut Chart<'_, '_>,
    row: f64,
    at: impl Iterator<Item = (f64, RGBColor)>,
) -> Result<(), VmmError> {
    chart
        .draw_series(at.map(|(x, color)| {
            PathElement::new(vec![(x, row - 0.2), (x, row - 0.8)], color.stroke_width(2))
        }))
        .map_err(draw_error)?;
    Ok(())
}

/// One marker per crash point (points a few pixels apart share one, with
/// the worst verdict), and the number of each failure above its first point.
fn crash_points(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &Chart<'_, '_>,
    report: &Report,
    row: f64,
    seq_per_px: f64,
) -> Result<(), VmmError> {
    let mut bins: BTreeMap<i64, (u64, Verdict)> = BTreeMap::new();
    for p in &report.point_results {
        let bin = (p.seq as f64 / seq_per_px) as i64 / i64::from(POINT_BIN_PX);
        let e = bins.entry(bin).or_insert((p.seq, Verdict::NoNewImage));
        e.1 = e.1.max(Verdict::of(p));
    }
    for (seq, verdict) in bins.into_values() {
        let (x, y) = chart.backend_coord(&(seq as f64, row - 0.5));
        let color = verdict.color();
        root.draw(&Circle::new((x, y), 5, color.filled()))
            .map_err(draw_error)?;
        root.draw(&Circle::new((x, y), 5, WHITE.stroke_width(1)))
            .map_err(draw_error)?;
    }
    let mut numbers: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for (i, f) in report.failures.iter().enumerate() {
        if let Some(seq) = super::point_seq(&f.first.point) {
            numbers.entry(seq).or_default().push(format!("#{}", i + 1));
        }
    }
    for (seq, labels) in numbers {
        let (x, y) = chart.backend_coord(&(seq as f64, row - 0.5));
        root.draw(&Text::new(
            labels.join(" "),
            (x + 8, y),
            (FONT, 12)
                .into_font()
                .style(FontStyle::Bold)
                .color(&FAILED)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(draw_error)?;
    }
    Ok(())
}

/// Region bars, one lane per nesting depth, named where they are wide enough.
fn regions(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &mut Chart<'_, '_>,
    t: &Timeline,
    first_row: f64,
    seq_per_px: f64,
) -> Result<(), VmmError> {
    let names = region_names(t);
    let color = |name: &str| palette(names.iter().position(|n| *n == name).unwrap_or(0));
    let row = |s: &Span| first_row - s.depth.min(MAX_REGION_LANES - 1) as f64;
    chart
        .draw_series(t.regions.iter().map(|s| {
            let (x0, x1) = (
                s.begin as f64,
                (s.end as f64).max(s.begin as f64 + 2.0 * seq_per_px),
            );
            let (y0, y1) = (row(s) - 0.15, row(s) - 0.85);
            Rectangle::new([(x0, y0), (x1, y1)], color(&s.name).mix(0.85).filled())
        }))
        .map_err(draw_error)?;
    for s in &t.regions {
        let label = if s.count > 1 {
            format!("{} ×{}", s.name, s.count)
        } else {
            s.name.clone()
        };
        let (x0, y) = chart.backend_coord(&(s.begin as f64, row(s) - 0.5));
        let (x1, _) = chart.backend_coord(&(s.end as f64, row(s) - 0.5));
        // Roughly 7 pixels a character at 11 px.
        if x1 - x0 > label.chars().count() as i32 * 7 + 8 {
            root.draw(&Text::new(
                label,
                (x0 + 4, y),
                (FONT, 11)
                    .into_font()
                    .color(&WHITE)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(draw_error)?;
        }
    }
    Ok(())
}
