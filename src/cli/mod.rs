//! # `distgo`: the command-line client
//!
//! What mongosh and mongoimport are to MongoDB and etcdctl to etcd: a
//! small program to look inside a worker, change it by hand, load data
//! into it and take data out, from a terminal or a script. It is a client
//! like any other: it speaks the public gRPC API through the generated
//! clients of [`crate::proto`] and links nothing of the worker's internals.
//!
//! ```text
//! distgo [--addr URL] [--api auto|worker|master] [--tls-ca FILE] [--token T | --token-file FILE]
//!        [--output table|json|yaml] [--timeout D] COMMAND
//!
//!   db          list | get | create | update | delete | export | import
//!   collection  list | get | create | update | delete
//!   doc         list | get | create | update | delete | import | export
//!   tx          run FILE
//!   wal         list [--since T] [--until T] [--entity E] [--op O] [--follow] | truncate --before T
//!   health
//!   completions bash | zsh | fish
//! ```
//!
//! `--addr` falls back to `DISTGO_ADDR`, then `http://127.0.0.1:55055`;
//! `--token` to `DISTGO_TOKEN`. Resources are named by full names or short
//! paths (`shop/users/u1`, see [`path`]). Lists page through everything
//! unless `--limit N`.
//!
#![doc = include_str!("walkthrough.md")]
//!
//! ## Output and exit codes
//!
//! `--output table` (the default) is for people; a single document prints
//! as its value, verbatim. `--output json` is for scripts and is stable:
//! the fields are listed in [`view`]. Errors go to standard error as the
//! gRPC code, the message, and one line per field violation; the exit code
//! is 0 on success, 1 when the worker refused or could not be reached, 2
//! for usage errors ([`error`]).
//!
//! ## Moving data
//!
//! `doc import` / `doc export` speak JSON lines, one document per line
//! ([`lines`]); `db export` / `db import` a whole database in a tagged
//! JSON-lines format ([`dump`]). Imports go through transactions of
//! `--batch N` operations, `--parallel P` of them in flight, with a
//! fallback that pinpoints each refused line ([`import`]); exports overlap
//! fetching with writing ([`export`]).
//!
//! ## Performance
//!
//! Measured with `just bench-cli` (`examples/cli_bench.rs`): the release
//! `distgo` binary, timed from start to exit, against one release
//! `distgo-worker` on 127.0.0.1 (memory only), 100,000 documents of 1 KiB
//! (`--id-field _id`). The machine: 2 cores, with two builds (one at
//! low priority) beside the runs of 2026-12-02 (load average 5.5-6.1); the
//! first set, of the same day under load average 12-13, is kept beside it:
//!
//! | | documents/s, load 5.5-6.1 (4 runs) | load 12-13 (4 runs) | target |
//! |---|---|---|---|
//! | `doc import`, defaults (`--batch 500 --parallel 4`) | 132,400-221,500 | 22,900-46,700 | ≥ 20,000 |
//! | `doc import --parallel 2` / `--parallel 8` | 250,400 / 252,100 | 34,500 / 39,800 | |
//! | `doc export` | 291,500-355,300 | 56,700-75,000 | ≥ 50,000 |
//!
//! The import is bound by the worker (validating and storing 1 KiB per
//! document, one log record per commit) and shares the two cores with it;
//! the reader thread's JSON parsing and the sending overlap. The export is
//! bound by paging: one page of 1,000 at a time, written while the next is
//! fetched.
//!
//! ## Layout
//!
//! | file | what it holds |
//! |---|---|
//! | [`args`] | the command tree (clap derive): every flag, and the `--help` text |
//! | [`connect`] | one connection, the token and deadline on every request |
//! | [`api`] | which API the address speaks (`--api worker\|master\|auto`): paths renamed for a master |
//! | [`path`] | short paths and full names |
//! | [`output`], [`view`] | table, JSON and YAML; the stable JSON fields |
//! | [`error`] | the one error enum; how errors are printed; exit codes |
//! | [`db`], [`collection`], [`doc`] | one request per command |
//! | [`lines`], [`import`], [`export`], [`progress`] | JSON lines; the import pipeline; the export; progress and summary |
//! | [`dump`] | a whole database as JSON lines |
//! | [`tx`], [`wal`], [`health`] | transactions from a file; the log, followed; the health check |
//! | [`cluster`] | a replica set's members, leader and lag |
//! | [`input`], [`paging`], [`time`] | `@FILE` and `-`; paging through a listing; TIME arguments |
//!

pub mod api;
pub mod args;
pub mod cluster;
pub mod collection;
pub mod connect;
pub mod db;
pub mod doc;
pub mod dump;
pub mod error;
pub mod export;
pub mod health;
pub mod import;
pub mod input;
pub mod lines;
pub mod output;
pub mod paging;
pub mod path;
pub mod progress;
pub mod time;
pub mod tx;
pub mod view;
pub mod wal;

pub use self::{args::Cli, error::CliError};
use self::{
    args::{ClusterCommand, Command, TxCommand},
    connect::Clients,
    output::Printer,
};

/// What every command runs with: the clients and the printer.
#[derive(Debug)]
pub struct Context {
    /// The generated clients on one connection.
    pub clients: Clients,
    /// Standard output in the chosen format.
    pub printer: Printer,
}

/// Runs a parsed command line to its end.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    if let Command::Completions { shell } = cli.command {
        let mut command = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut command, "distgo", &mut std::io::stdout());
        return Ok(());
    }
    let clients = connect::connect(&cli.global).await?;
    let mut cx = Context {
        clients,
        printer: Printer::new(cli.global.output),
    };
    match cli.command {
        Command::Db(command) => db::run(&mut cx, command).await,
        Command::Collection(command) => collection::run(&mut cx, command).await,
        Command::Doc(command) => doc::run(&mut cx, command).await,
        Command::Tx(TxCommand::Run { file }) => tx::run(&mut cx, &file).await,
        Command::Wal(command) => wal::run(&mut cx, command).await,
        Command::Health => health::run(&mut cx).await,
        Command::Cluster(ClusterCommand::Status) => cluster::status(&mut cx).await,
        Command::Completions { .. } => Ok(()),
    }
}
