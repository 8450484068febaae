//! Structured marks: where each operation, fault, tag and flush happens,
//! with the device range it concerns.

use pmemvm_sdk::pmem::{self, MarkFields};

/// Puts a mark with the current operation id.
pub fn mark(label: &str, op: u64, file: Option<u64>, page: Option<u64>, range: Option<(u64, u64)>) {
    pmem::mark(
        label,
        MarkFields {
            file,
            page,
            op: Some(op),
            range,
        },
    );
}

/// A mark about one page of a file.
pub fn page(label: &str, op: u64, file: u64, page: u64, range: Option<(u64, u64)>) {
    mark(label, op, Some(file), Some(page), range);
}
