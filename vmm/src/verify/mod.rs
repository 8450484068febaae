//! Verify mode: the guest booted on a crash image, with the promises made
//! before the crash point, and its verdict.
//!
//! * [`fresh`]: one image of a trace in a VM of its own (`pmemvm verify`),
//!   and what every verification needs: the run configuration of a trace's
//!   guest and the initial media its setup phase leaves.
//! * [`reused`]: one VM verifying many images in turn, restored to a
//!   snapshot between them (the crash test's workers); `hot_window`
//!   chooses the RAM it restores whole.

pub mod fresh;
mod hot_window;
pub mod reused;

pub use fresh::{
    ImageVerdict, VerifyOptions, guest_mismatch, initial_media, read_only, recorded_guest,
    run_config, verify_media, verify_trace,
};
pub use reused::{Timings, Verifier};
