//! The campaign report as one self-contained HTML page: the counts, the
//! matrix (a row per variant and persistence domain, a square per seed,
//! coloured by the cell's status), each distinct bug with its cells and
//! smallest reproducer, and the cells that could not run.

use super::cell::Status;
use super::report::CampaignReport;
use crate::error::VmmError;
use minijinja::{Environment, context};
use serde::Serialize;

/// The page's template (auto-escaped: its name ends in `.html`).
const TEMPLATE: &str = include_str!("report.html");

/// One row of the matrix.
#[derive(Serialize)]
struct Row {
    name: String,
    squares: Vec<Square>,
}

/// One cell of the matrix.
#[derive(Serialize)]
struct Square {
    seed: u64,
    class: &'static str,
    title: String,
}

/// The page of `report`.
pub fn render(report: &CampaignReport) -> Result<String, VmmError> {
    let error = |e: minijinja::Error| VmmError::Internal(format!("campaign HTML template: {e:#}"));
    let mut env = Environment::new();
    env.add_template("campaign.html", TEMPLATE).map_err(error)?;
    let mut rows: Vec<Row> = Vec::new();
    for c in &report.cells {
        let name = format!("{} / {}", c.cell.variant, c.cell.persistence);
        if rows.last().is_none_or(|r| r.name != name) {
            rows.push(Row {
                name,
                squares: Vec::new(),
            });
        }
        let (class, what) = match c.status {
            Status::Passed => ("pass", "passed".to_string()),
            Status::Bugs => ("fail", format!("{} bug(s)", c.bugs.len())),
            Status::GuestFailure => ("warn", "the guest failed".to_string()),
            Status::Error => ("warn", "could not run".to_string()),
        };
        if let Some(row) = rows.last_mut() {
            row.squares.push(Square {
                seed: c.cell.seed,
                class,
                title: format!("{}: {what}, {} events", c.cell.label(), c.events),
            });
        }
    }
    env.get_template("campaign.html")
        .and_then(|t| t.render(context! { r => report, rows => rows }))
        .map_err(error)
}
