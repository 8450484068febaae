//! Run-time switches and the named yield points of section 7.11.
//!
//! Besides the two correct designs (v4.5 as merged, and v4.10 with entry
//! locks, mkclean and DIRTY cleared after the flush), every historical bug
//! of section 8 is a [`Variant`] switched at the one place it changes:
//! `writeback::writeback_one` (V1), `fault::pfn_mkwrite` (V2, V10),
//! `writeback::pmd_start` (V3), `fault::insert_mapping` (V4),
//! `writeback::msync` and `writeback::writeback_range` (V5), `writeback::sync`
//! (V6), `truncate::invalidate` (V7), the fences of `writeback` (V8),
//! `mkclean::mkclean` (V9) and the commit of `writeback::fsync_range`
//! (`metadata_not_committed`).

use pmemvm_sdk::task;

/// A behaviour of the file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Linux v4.5 as merged.
    Correct,
    /// Linux v4.10: entry locks, mkclean, DIRTY cleared after the flush.
    CorrectV410,
    /// V1: TOWRITE cleared before the flush (v3–v8 `dax_writeback_one`).
    TowriteClearBeforeFlush,
    /// V2: `pfn_mkwrite` only updates the time, tags nothing.
    NoPfnMkwriteTracking,
    /// V3: `start & PMD_MASK` in bytes used as a page index.
    PmdLookupBytesAsIndex,
    /// V4: PTE installed before the radix entry.
    PteBeforeRadixEntry,
    /// V5: no DIRTY tracking; only msync flushes, by user address.
    MsyncOnlyVmaFlush,
    /// V6: `sync()` writeback ignores DAX entries.
    SyncSkipsDax,
    /// V7: invalidate deletes dirty entries.
    InvalidateDropsDirtyEntry,
    /// V8: no fence after the `clwb`s, no device flush.
    MissingFenceAfterClwb,
    /// V9: v4.10 mkclean without PMDs and without other VMAs' PTEs.
    CleanWithoutWrprotect,
    /// V10: v4.10 with the v4.7 `pfn_mkwrite` (PTE upgraded unlocked).
    MkwritePteUpgradeUnlocked,
    /// fsync and msync flush but never commit metadata.
    MetadataNotCommitted,
}

/// Every variant with a one-line description.
pub const ALL: &[(&str, Variant, &str)] = &[
    (
        "correct",
        Variant::Correct,
        "Linux v4.5 DAX fsync/msync as merged (DIRTY never cleared, TOWRITE cleared after the flush)",
    ),
    (
        "correct-v410",
        Variant::CorrectV410,
        "Linux v4.10: entry locks, mkclean of every PTE and PMD before the flush, DIRTY cleared after it, pfn_mkwrite under the entry lock",
    ),
    (
        "towrite_clear_before_flush",
        Variant::TowriteClearBeforeFlush,
        "V1: dax_writeback_one clears TOWRITE before the flush (v3-v8), so a second fsync returns early",
    ),
    (
        "no_pfn_mkwrite_tracking",
        Variant::NoPfnMkwriteTracking,
        "V2: pfn_mkwrite updates mtime but tags nothing DIRTY (pre-series ext4)",
    ),
    (
        "pmd_lookup_bytes_as_index",
        Variant::PmdLookupBytesAsIndex,
        "V3: a range sync looks its PMD up at `start & PMD_MASK` in bytes, used as a page index",
    ),
    (
        "pte_before_radix_entry",
        Variant::PteBeforeRadixEntry,
        "V4: the write fault installs the PTE before the radix entry (v3-v5 dax_insert_mapping)",
    ),
    (
        "msync_only_vma_flush",
        Variant::MsyncOnlyVmaFlush,
        "V5: no DIRTY tracking; only msync flushes its VMA by user address (Aug 2015 design)",
    ),
    (
        "sync_skips_dax",
        Variant::SyncSkipsDax,
        "V6: sync() reaches ->writepages without the DAX writeback (v4.5-rc)",
    ),
    (
        "invalidate_drops_dirty_entry",
        Variant::InvalidateDropsDirtyEntry,
        "V7: invalidate deletes DIRTY/TOWRITE DAX entries (pre-c6dcf52c23d2)",
    ),
    (
        "missing_fence_after_clwb",
        Variant::MissingFenceAfterClwb,
        "V8: writeback omits the wmb_pmem after its clwbs and fsync the device flush",
    ),
    (
        "clean_without_wrprotect",
        Variant::CleanWithoutWrprotect,
        "V9: v4.10 mkclean skips PMDs and PTEs of VMAs not mapping the entry's head (pre-f729c8c9b24f, pre-06083a0921fd)",
    ),
    (
        "mkwrite_pte_upgrade_unlocked",
        Variant::MkwritePteUpgradeUnlocked,
        "V10: v4.10 with the v4.7 pfn_mkwrite: DIRTY set, then the PTE made writable without the entry lock",
    ),
    (
        "metadata_not_committed",
        Variant::MetadataNotCommitted,
        "fsync and msync flush the data but skip the metadata commit",
    ),
];

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

    /// True for the v4.10 design (entry locks, mkclean, DIRTY cleared).
    pub fn v410(self) -> bool {
        matches!(
            self,
            Variant::CorrectV410
                | Variant::CleanWithoutWrprotect
                | Variant::MkwritePteUpgradeUnlocked
        )
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
    /// In a write fault, between the PTE and the radix entry (V4 order only).
    FaultPte = 4,
}

/// The tag of a task that waits for an entry lock (not a yield point).
pub const LOCK_WAIT: u64 = 100;

/// A yield point: a task running a race script stops here (its tag is the
/// point's number); the main flow, which runs the sequential workloads,
/// goes on.
pub fn yield_point(yp: Yp) {
    if task::in_task() {
        task::yield_now(yp as u64);
    }
}

/// Waits while `locked()` holds: a task yields to the others; in the main
/// flow nobody could release the lock (a bug of the agent).
///
/// # Panics
/// When the main flow finds an entry locked.
pub fn wait_while(mut locked: impl FnMut() -> bool) {
    while locked() {
        assert!(
            task::in_task(),
            "dax: entry locked with no task to unlock it"
        );
        task::yield_now(LOCK_WAIT);
    }
}
