//! TODO(nfit): being written.
