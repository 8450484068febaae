//! ACPI parsing for guests: being written.
