//! `distgo-worker`: runs one distgo-db worker.
//!
//! Parses flags, loads the configuration, sets up logging, binds, and hands
//! the listener and a Ctrl-C/SIGTERM future to the library. Exit codes:
//! 0 after a clean shutdown, 1 when the server fails, 2 for a bad
//! configuration (before anything is bound).

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::Parser;
use distgo_db::config::Config;

/// Runs a distgo-db worker.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// YAML configuration file; without it the embedded default runs.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
}

/// mimalloc rather than the system allocator: every request allocates and
/// frees dozens of small buffers (HTTP/2 frames, protobuf messages, names),
/// and glibc's malloc/free cost ~16% of the worker's instructions per call.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Args::parse();
    let loaded = match &args.config {
        Some(path) => Config::load(path),
        None => Config::embedded_default(),
    };
    let config = match loaded.and_then(|c| distgo_db::logging::init(&c.logging).map(|()| c)) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("distgo-worker: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("distgo-worker: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let address = SocketAddr::new(config.grpc.host, config.grpc.port);
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        distgo_db::serve(config, listener, shutdown_signal()).await?;
        Ok(())
    })
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(err) => {
                tracing::warn!("cannot listen for SIGTERM ({err}); only Ctrl-C stops the worker");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
