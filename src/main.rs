//! `distgo-worker`: runs one distgo-db worker.
//!
//! Parses flags, loads the configuration, sets up logging, binds, and hands
//! the listener and a Ctrl-C/SIGTERM future to the library. Exit codes:
//! 0 after a clean shutdown, 1 when the server fails, 2 for a bad
//! configuration (before anything is bound; an unusable `wal.path`, TLS
//! certificate or tokens file included),
//! 3 when the write-ahead log is corrupt (rerun with `--repair` to keep the
//! valid prefix).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))] // unit tests assert by unwrapping
use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::Parser;
use distgo_db::{
    Worker,
    config::{Config, LogOutput, LoggingConfig},
    server::Security,
    wal::{OpenError, Recovery},
};

/// Runs a distgo-db worker.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// YAML configuration file; without it the embedded default runs.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Start even if the write-ahead log is corrupt: keep the valid records
    /// before the damage, delete the rest, and log what was dropped.
    #[arg(long)]
    repair: bool,
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
    // The certificate and tokens are read before the log is opened: a typo
    // in a path should not wait for a long recovery to be reported.
    let security = match Security::load(&config) {
        Ok(security) => security,
        Err(err) => {
            eprintln!("distgo-worker: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    let recovery = if args.repair {
        Recovery::Repair
    } else {
        Recovery::Strict
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("distgo-worker: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let worker = match runtime.block_on(Worker::open(config.clone(), recovery)) {
        Ok(worker) => worker.with_security(security),
        Err(err) => {
            let kind = match err {
                OpenError::Directory { .. } | OpenError::Config(_) => "configuration error: ",
                _ => "",
            };
            report(&config.logging, &format!("{kind}{err}"));
            return ExitCode::from(err.exit_code());
        }
    };
    let logging = config.logging.clone();
    match run(&runtime, config, worker) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            report(&logging, &format!("{err:#}"));
            ExitCode::FAILURE
        }
    }
}

/// Says why the worker stops, once: on stderr always (where a person or a
/// supervisor looks for it), and in the log too when the log is a file, so
/// the file records why it ends. Logging to the terminal as well would
/// print the same line twice.
fn report(logging: &LoggingConfig, message: &str) {
    if matches!(logging.output, LogOutput::File(_)) {
        tracing::error!("{message}");
    }
    eprintln!("distgo-worker: {message}");
}

fn run(runtime: &tokio::runtime::Runtime, config: Config, worker: Worker) -> anyhow::Result<()> {
    runtime.block_on(async {
        let address = SocketAddr::new(config.grpc.host, config.grpc.port);
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        let worker = match config.metrics {
            Some(metrics) => {
                let address = SocketAddr::new(metrics.host, metrics.port);
                let listener = tokio::net::TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot listen on {address} (metrics)"))?;
                worker.with_metrics_listener(listener)
            }
            None => worker,
        };
        let shutdown =
            distgo_db::server::shutdown_signal().context("cannot install signal handlers")?;
        worker.serve(listener, shutdown).await?;
        Ok(())
    })
}
