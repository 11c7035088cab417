//! The load generator (`distgo-conformance bench`). Not written yet.

use std::process::ExitCode;

/// Options of `distgo-conformance bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The worker to measure, e.g. `http://127.0.0.1:55055`.
    #[arg(long, env = "DISTGO_ADDR")]
    pub addr: Option<String>,
}

/// Runs a benchmark.
pub async fn run(_args: BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the load generator is not written yet")
}
