//! The bundled guest agent, built by `build.rs` and embedded in `pmemvm`,
//! so users never build or locate it by hand.

/// The bundled guest ELF.
pub const BUNDLED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pmemvm-agent.elf"));

/// Name of the bundled guest in messages.
pub const BUNDLED_NAME: &str = "bundled guest";
