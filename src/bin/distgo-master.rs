//! `distgo-master`: runs one master node (see `distgo_db::master`).
//!
//! Parses flags, loads the configuration, sets up logging, binds, and
//! hands the listener and a Ctrl-C/SIGTERM future to the library. Exit
//! codes as the worker's: 0 after a clean shutdown, 1 when the server
//! fails (the port is taken, say), 2 for a bad configuration (before
//! anything is bound; an unusable TLS certificate or tokens file included).

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::Parser;
use distgo_db::master::{Master, MasterConfig};

/// Runs a distgo-db master: one address for every replica set.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// YAML configuration file; without it the embedded default runs (one
    /// master on port 55056 that learns its sets from registering workers).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
}

/// The worker's allocator, for the same reason: every request allocates
/// and frees many small buffers.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Args::parse();
    let loaded = match &args.config {
        Some(path) => MasterConfig::load(path),
        None => MasterConfig::embedded_default(),
    };
    let config = match loaded.and_then(|c| distgo_db::logging::init(&c.logging).map(|()| c)) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("distgo-master: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    let security = match Master::load_security(&config) {
        Ok(security) => security,
        Err(err) => {
            eprintln!("distgo-master: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("distgo-master: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config, security)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("distgo-master: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: MasterConfig, security: distgo_db::server::Security) -> anyhow::Result<()> {
    let address = SocketAddr::new(config.grpc.host, config.grpc.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let shutdown =
        distgo_db::server::shutdown_signal().context("cannot install signal handlers")?;
    Master::new(config)
        .with_security(security)
        .serve(listener, shutdown)
        .await?;
    Ok(())
}
