//! `pmemvm bench`.

/// Arguments of `pmemvm bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {}

/// Runs the benchmarks.
pub fn run(_: &BenchArgs) -> anyhow::Result<i32> {
    Ok(0)
}
