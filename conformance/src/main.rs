//! `distgo-conformance`: validate or measure any distgo-db worker by address.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The distgo-db conformance suite and load generator.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure a worker under load, beside a null worker that does no work.
    Bench(distgo_conformance::bench::BenchArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Bench(args) => distgo_conformance::bench::run(args).await,
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("distgo-conformance: {err:#}");
            ExitCode::from(2)
        }
    }
}
