//! Run-time switches and the named yield points of section 7.11.
//!
//! Part 2 adds the historical bugs as more [`Variant`]s, each switched at
//! the named place it changes (`writeback::writeback_one` for the TOWRITE
//! clear, `writeback::pmd_start` for the PMD lookup, `fault::insert_mapping`
//! for the PTE/radix order, `truncate::invalidate` for dirty entries, ...).

use pmemvm_rt::task;

/// A behaviour of the file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Linux v4.5 as merged.
    Correct,
}

/// Every variant with a one-line description.
pub const ALL: &[(&str, Variant, &str)] = &[(
    "correct",
    Variant::Correct,
    "Linux v4.5 DAX fsync/msync as merged (DIRTY never cleared, TOWRITE cleared after the flush)",
)];

impl Variant {
    /// The variant called `name`.
    pub fn parse(name: &str) -> Option<Variant> {
        ALL.iter().find(|(n, _, _)| *n == name).map(|(_, v, _)| *v)
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        ALL.iter()
            .find(|(_, v, _)| *v == self)
            .map_or("?", |(n, _, _)| n)
    }
}

/// The named yield points (section 7.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Yp {
    /// In `dax_writeback_one`, after the TOWRITE check, before `clwb`.
    Wb = 1,
    /// In `pfn_mkwrite`, between the DIRTY tag and the PTE upgrade.
    Mkwrite = 2,
    /// After `tag_pages_for_writeback`, before the lookup loop.
    Tagged = 3,
}

/// A yield point: a task running a race script stops here (its tag is the
/// point's number); the main flow, which runs every part-1 workload, goes on.
pub fn yield_point(yp: Yp) {
    if task::in_task() {
        task::yield_now(yp as u64);
    }
}
