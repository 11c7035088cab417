//! Logging setup, from the `logging.*` configuration.
//!
//! The worker logs with `tracing`. What is logged:
//!
//! | level | what |
//! |---|---|
//! | info  | start-up (node name, bound address), shutdown |
//! | debug | one line per request: method, resource, status, latency; client errors |
//! | error | failures of the worker itself (INTERNAL, UNAVAILABLE) |
//!
//! `pretty` lines are coloured only on a terminal: a log file, or standard
//! output redirected to one, gets plain text.

use std::{fs::OpenOptions, io::IsTerminal, sync::Mutex};

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::{ConfigError, LogFormat, LogLevel, LogOutput, LoggingConfig};

/// Installs the global subscriber. Fails if the log file cannot be opened;
/// a second call (as in tests) keeps the first subscriber.
pub fn init(config: &LoggingConfig) -> Result<(), ConfigError> {
    let filter = EnvFilter::new(directive(config.level));
    let builder = fmt().with_env_filter(filter).with_target(false);
    let result = match (&config.output, config.format) {
        (LogOutput::Stdout, LogFormat::Pretty) => builder
            .with_ansi(colours(&std::io::stdout()))
            .with_writer(std::io::stdout)
            .try_init(),
        (LogOutput::Stdout, LogFormat::Json) => {
            builder.json().with_writer(std::io::stdout).try_init()
        }
        (LogOutput::Stderr, LogFormat::Pretty) => builder
            .with_ansi(colours(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .try_init(),
        (LogOutput::Stderr, LogFormat::Json) => {
            builder.json().with_writer(std::io::stderr).try_init()
        }
        (LogOutput::File(path), format) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|err| ConfigError::Invalid {
                    key: "logging.output".into(),
                    problem: format!("cannot open {}: {err}", path.display()),
                })?;
            let builder = builder.with_ansi(false).with_writer(Mutex::new(file));
            match format {
                LogFormat::Pretty => builder.try_init(),
                LogFormat::Json => builder.json().try_init(),
            }
        }
    };
    // An error here only means a subscriber is already installed.
    drop(result);
    Ok(())
}

/// Whether `pretty` lines written to `stream` get colours: only on a
/// terminal, where someone reads them. Redirected to a file or a pipe
/// (`distgo-worker > worker.log`, systemd, docker) escape codes are noise
/// that breaks `grep`; `NO_COLOR` (<https://no-color.org>) turns them off
/// everywhere.
fn colours(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The filter directive for `level`; the worker's own crate and its
/// dependencies (tonic, h2) both follow it, except that dependencies never
/// log below `info` (their debug output is per-frame noise).
fn directive(level: LogLevel) -> String {
    let ours = match level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    let theirs = match level {
        LogLevel::Trace | LogLevel::Debug | LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    format!("{theirs},distgo_db={ours},distgo_worker={ours}")
}
