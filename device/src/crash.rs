//! TODO(crash): being written.
