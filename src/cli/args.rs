//! The command tree: every flag and subcommand of `distgo`, in one place.
//!
//! clap's derive turns these types into the parser, the `--help` text and
//! the shell completions, so the doc comments here *are* the user's manual.
//! A command added later (as `cluster status` was) is one more variant of
//! [`Command`] and one more file beside the others; a flag that changes
//! how every command connects (as `--api` was) is one more field of
//! [`Global`], read in [`super::connect`].

use std::{path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use super::api::Api;

/// The default worker address: the embedded configuration's port on loopback.
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:55055";

/// distgo: the command-line client of distgo-db.
///
/// Resources are named by full names (`databases/shop/collections/users`)
/// or short paths (`shop/users`). Exit codes: 0 success, 1 the worker
/// refused or could not be reached (or an import lost lines), 2 a usage error.
#[derive(Debug, Parser)]
#[command(name = "distgo", version, about, max_term_width = 100)]
pub struct Cli {
    /// How to reach the worker and print results.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command understands, before or after the subcommand.
#[derive(Debug, Args)]
pub struct Global {
    /// The worker or master: `http://HOST:PORT`, or `https://...` with --tls-ca.
    #[arg(long, global = true, env = "DISTGO_ADDR", default_value = DEFAULT_ADDR)]
    pub addr: String,
    /// A PEM file with the CA that signed the worker's certificate.
    #[arg(long, global = true, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Sent as `authorization: Bearer TOKEN` with every request.
    #[arg(long, global = true, env = "DISTGO_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Read the token from the first line of FILE (keeps it out of `ps`).
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// How results are printed; `json` is stable, for scripts.
    #[arg(short, long, global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// The deadline of each request: `500ms`, `10s`, `1m`.
    #[arg(long, global = true, value_parser = humantime::parse_duration, default_value = "10s")]
    pub timeout: Duration,
    /// The API the address speaks; `auto` asks its reflection (a master
    /// serves `master.database.v1`, everything else is taken for a worker).
    #[arg(long, global = true, value_enum, default_value_t = Api::Auto)]
    pub api: Api,
}

/// The output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people; a document's value verbatim.
    Table,
    /// Pretty JSON: one object, or an array for lists (the stable format).
    Json,
    /// The same fields as JSON, as YAML.
    Yaml,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Databases: list, get, create, update, delete, export, import, move.
    #[command(subcommand, visible_alias = "database")]
    Db(DbCommand),
    /// Collections of a database.
    #[command(subcommand, visible_alias = "coll")]
    Collection(CollectionCommand),
    /// Documents of a collection; import and export JSON lines.
    #[command(subcommand, visible_alias = "document")]
    Doc(DocCommand),
    /// Transactions.
    #[command(subcommand)]
    Tx(TxCommand),
    /// The write-ahead log: what changed, and when.
    #[command(subcommand)]
    Wal(WalCommand),
    /// Ask the worker whether it is serving (exit 1 if not).
    Health,
    /// A replica set: its members, leader, term and lag.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Print a shell completion script: `distgo completions bash > /etc/bash_completion.d/distgo`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `distgo cluster ...`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// What the member asked knows: leader, term, log indexes, and each
    /// member (with its lag when asking the leader).
    Status,
}

/// `distgo db ...`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// List databases.
    List(ListArgs),
    /// Show one database: `shop` or `databases/shop`.
    Get {
        /// The database.
        database: String,
    },
    /// Create a database; without DATABASE the worker picks its id.
    Create {
        /// The database to create.
        database: Option<String>,
        /// Its display name (default: its id).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Change a database's display name.
    Update {
        /// The database.
        database: String,
        /// The new display name.
        #[arg(long)]
        display_name: String,
    },
    /// Delete a database with its collections and documents.
    Delete {
        /// The database.
        database: String,
    },
    /// Write a whole database as JSON lines: the database, then each collection and its documents.
    Export {
        /// The database.
        database: String,
        /// The file to write; `-` or nothing: standard output.
        file: Option<PathBuf>,
    },
    /// Create a database from `db export`'s JSON lines.
    Import {
        /// The file to read; `-`: standard input.
        file: PathBuf,
        /// Create it under this id instead of the exported one.
        #[arg(long = "as", value_name = "DATABASE")]
        rename: Option<String>,
        /// How documents are sent.
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Move a database to another replica set, online (a master only; needs
    /// the admin role with auth).
    Move {
        /// The database.
        database: String,
        /// The replica set to move it to.
        #[arg(long, value_name = "SET")]
        to: String,
    },
}

/// `distgo collection ...`.
#[derive(Debug, Subcommand)]
pub enum CollectionCommand {
    /// List the collections of a database.
    List {
        /// The database: `shop`.
        database: String,
        /// Paging.
        #[command(flatten)]
        list: ListArgs,
    },
    /// Show one collection: `shop/users`.
    Get {
        /// The collection.
        collection: String,
    },
    /// Create `shop/users`; give only the database to let the worker pick the id.
    Create {
        /// The collection to create (or its database).
        collection: String,
        /// Its description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Change a collection's description.
    Update {
        /// The collection.
        collection: String,
        /// The new description.
        #[arg(long)]
        description: String,
    },
    /// Delete a collection with its documents.
    Delete {
        /// The collection.
        collection: String,
    },
}

/// `distgo doc ...`.
#[derive(Debug, Subcommand)]
pub enum DocCommand {
    /// List the documents of a collection.
    List {
        /// The collection: `shop/users`.
        collection: String,
        /// Paging.
        #[command(flatten)]
        list: ListArgs,
    },
    /// Print one document's value: `shop/users/u1`.
    Get {
        /// The document.
        document: String,
    },
    /// Create `shop/users/u1`; give only the collection to let the worker pick the id.
    Create {
        /// The document to create (or its collection).
        document: String,
        /// The JSON object: the text itself, `@FILE`, or `-` for standard input.
        value: String,
    },
    /// Replace a document's value.
    Update {
        /// The document.
        document: String,
        /// The JSON object: the text itself, `@FILE`, or `-` for standard input.
        value: String,
    },
    /// Delete a document.
    Delete {
        /// The document.
        document: String,
    },
    /// Load JSON lines, one document per line, through transactions.
    Import {
        /// The collection to load into.
        collection: String,
        /// The file to read; `-`: standard input.
        file: PathBuf,
        /// Take each document's id from this top-level field (else ids are generated).
        #[arg(long, value_name = "FIELD")]
        id_field: Option<String>,
        /// Keep the id field in the stored value (default: remove it).
        #[arg(long, requires = "id_field")]
        keep_id_field: bool,
        /// How documents are sent.
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Write every document of a collection as JSON lines.
    Export {
        /// The collection.
        collection: String,
        /// The file to write; `-` or nothing: standard output.
        file: Option<PathBuf>,
        /// Put each document's id first in its line, as this field.
        #[arg(long, value_name = "FIELD")]
        id_field: Option<String>,
    },
}

/// `distgo tx ...`.
#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// Apply a YAML or JSON list of operations as one transaction.
    Run {
        /// The operations; `-`: standard input.
        file: PathBuf,
    },
}

/// `distgo wal ...`.
#[derive(Debug, Subcommand)]
pub enum WalCommand {
    /// List log entries, oldest first.
    List(WalListArgs),
    /// Drop entries older than TIME (the data they produced stays).
    Truncate {
        /// RFC 3339 (`2026-12-01T10:00:00Z`), `now`, or an age (`1h`: an hour ago).
        #[arg(long, value_name = "TIME")]
        before: String,
    },
}

/// The filters of `wal list`.
#[derive(Debug, Args)]
pub struct WalListArgs {
    /// Entries at or after TIME: RFC 3339, `now`, or an age (`10m`).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Entries before TIME; with --follow, stop once TIME has passed.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only entries of this kind of resource.
    #[arg(long, value_enum)]
    pub entity: Option<Entity>,
    /// Only entries of this kind of change.
    #[arg(long, value_enum)]
    pub op: Option<Op>,
    /// Keep polling for new entries, like `tail -f`, until Ctrl-C,
    /// --limit or --until.
    #[arg(short, long)]
    pub follow: bool,
    /// How often --follow polls.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1s", requires = "follow")]
    pub interval: Duration,
    /// Paging.
    #[command(flatten)]
    pub list: ListArgs,
}

/// A kind of resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Entity {
    /// Databases.
    Database,
    /// Collections.
    Collection,
    /// Documents.
    Document,
}

/// A kind of change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Op {
    /// Creations.
    Create,
    /// Updates.
    Update,
    /// Deletions.
    Delete,
}

/// How much of a list to print.
#[derive(Clone, Copy, Debug, Default, Args)]
pub struct ListArgs {
    /// Print at most N items (default: page through everything).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
}

/// How an import sends documents.
#[derive(Clone, Copy, Debug, Args)]
pub struct LoadArgs {
    /// Operations per transaction (at most the worker's `transactions.max_operations`).
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch: u32,
    /// Transactions in flight at once.
    #[arg(long, value_name = "P", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub parallel: u32,
    /// Stop at the first bad line (the lines before it are stored) or refused document.
    #[arg(long)]
    pub strict: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_may_follow_the_subcommand() {
        let cli =
            Cli::try_parse_from(["distgo", "db", "list", "-o", "json", "--addr", "http://x:1"])
                .unwrap();
        assert_eq!(cli.global.output, Format::Json);
        assert_eq!(cli.global.addr, "http://x:1");
    }

    #[test]
    fn keep_id_field_needs_an_id_field() {
        let parsed =
            Cli::try_parse_from(["distgo", "doc", "import", "a/b", "-", "--keep-id-field"]);
        assert!(parsed.is_err());
    }
}
