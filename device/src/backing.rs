//! TODO(backing): being written.
