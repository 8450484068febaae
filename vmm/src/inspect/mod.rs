//! Model-based trace analysis: the state of every line at a crash point
//! ([`lines`]) and why one line is or is not guaranteed persistent there
//! ([`why`]). Both replay the trace into the persistency model with
//! [`crate::replay`], reading it as a stream.

pub mod lines;
pub mod why;

#[cfg(test)]
mod tests;
