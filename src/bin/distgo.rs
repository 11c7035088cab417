//! `distgo`: the command-line client of distgo-db.
//!
//! Parses the command line, starts the async runtime, runs the command from
//! the library (`distgo_db::cli`), and turns its outcome into an exit code:
//! 0 success, 1 the worker refused or could not be reached, 2 usage errors
//! (clap's own included).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))] // unit tests assert by unwrapping
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use distgo_db::cli::{Cli, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match runtime().map(|runtime| runtime.block_on(run(cli))) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        // `distgo doc export ... | head`: the reader has what it wanted.
        Ok(Err(err)) if err.is_broken_pipe() => ExitCode::SUCCESS,
        Ok(Err(err)) => {
            eprintln!("{}", err.render());
            ExitCode::from(err.exit_code())
        }
        Err(err) => {
            eprintln!("distgo: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
