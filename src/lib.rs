//! # distgo-db: the reference worker
//!
//! distgo-db is a document database with a gRPC API. Databases hold
//! collections, collections hold JSON documents; clients speak gRPC to a
//! worker. This crate is the *reference* worker: small enough to read in an
//! afternoon, exact to the spec, and fast. These pages are the book: each
//! chapter sits in the module docs of the code that implements it, so the
//! explanation and the thing explained are read together.
//!
//! ## Reading order
//!
//! Start with the README's first lesson (`examples/quickstart.rs`, the
//! whole client side in one page), then read the chapters in this order:
//!
//! | # | chapter | what it teaches |
//! |---|---|---|
//! | 1 | [The API at a glance](api) | resources, names and services; the rules a client can rely on; how a request is handled |
//! | 2 | [Errors](api::status) | which status code when, field violations, deadlines, statuses that always fit in trailers |
//! | 3 | [Paging](api::paging) | page sizes, cursor tokens that survive deletes, O(log n) pages |
//! | 4 | [Configuration](config) | every key, the sample files, exit codes, strict parsing |
//! | 5 | [The store](store) | the state, one lock with short critical sections, deterministic records |
//! | 6 | [Durability](wal) | the write-ahead log: group commit, snapshots, recovery, disk errors |
//! | 7 | [Transactions](txn) | all-or-nothing groups of writes, isolation, bounds |
//! | 8 | [Serving](server) | from a bound listener to a server: shutdown, health, reflection, deadlines |
//! | 9 | [Performance](performance) | how the worker is measured against a null worker, and the results |
//!
//! The conformance suite has its own crate and guide: `conformance/README.md`
//! (how to run it against any worker, how it checks itself) and
//! `conformance/SPEC.md` (the behaviour, clause by clause, with a glossary).
//! The wire contract is `proto/`.
//!
//! ## Where this is going
//!
//! ```text
//!                  today                                  next
//!
//!   client ──gRPC──► worker (distgo-worker)      client ─► master ─► worker ─► replicas
//!                    server   deadlines, health            (routes)  (Raft over the
//!                    api      validate, map errors                    worker's log)
//!                    store    one lock, one record per change
//!                    wal      the log, group commit
//! ```
//!
//! Every successful write becomes exactly **one log record** whose
//! timestamps, generated ids and cascaded children were decided before it
//! was applied, so applying it is deterministic. That is what crash recovery
//! replays today and what Raft replicas (copies of a worker that agree on
//! its log) will apply tomorrow.
//!
//! Non-goals for the reference worker: secondary indexes, queries over
//! document contents, partial document updates, multi-database transactions.
//!
//! ## The path of a request
//!
//! ```text
//! gRPC client
//!     │  CreateDocument(parent, document_id, document)
//!     ▼
//! server::limits         accept loop: connection bound, handshake and idle timeouts
//!     ▼
//! server::tls            TLS handshake (client certificate with mutual TLS)
//!     ▼
//! server::auth           bearer token and role
//!     ▼
//! server::EdgeLayer      deadline (grpc.timeout or the client's), statuses of unreadable requests
//!     ▼
//! api::document          validate every field → store::Op
//!     ▼
//! replication::Replica   stamp a command (time, seed), append it to the log
//!     ▼
//! wal::Wal               the entry becomes durable (group commit)
//!     ▼
//! store::Store           apply: checks, ids, record → Outcome
//!     ▼
//! api::respond           log the request, map errors to gRPC codes
//! ```
//!
//! ## Layout
//!
//! | module | what it holds |
//! |---|---|
//! | [`proto`] | the wire contract, generated from `proto/` |
//! | [`names`] | resource names and ids: parsing and validation |
//! | [`fields`] | limits of mutable fields; JSON-object values |
//! | [`ids`] | server-generated ids |
//! | [`clock`] | timestamps and the injectable clock |
//! | [`encoding`] | the binary encoding primitives of every format |
//! | [`store`] | the state machine: ordered maps, commands, records, history, snapshots |
//! | [`wal`] | the write-ahead log: durable entries, group commit, recovery |
//! | [`replication`] | the layer that owns the log: propose → commit → apply |
//! | [`txn`] | open transactions: buffering, expiry, bounds |
//! | [`api`] | one file per gRPC service, plus validation and paging helpers |
//! | [`server`] | the accept loop and its limits, TLS, tokens, deadlines; shutdown |
//! | [`config`] | the YAML configuration |
//! | [`logging`] | the tracing subscriber |
//! | [`metrics`] | the Prometheus endpoint: what each metric means, why recording is cheap |
//! | [`master`] | `distgo-master`: one address for many replica sets; routing, placement, merged listings |
//! | [`cli`] | `distgo`, the command-line client (a client of the public API only) |
//! | [`error`] | the one error enum |
//! | [`fuzzing`] | the body of every fuzz target, shared with the corpus replay test |
//! | [`performance`] | measurements (documentation only) |
//!
//! ## Running in-process
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = distgo_db::config::Config::embedded_default()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let address = listener.local_addr()?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn(distgo_db::serve(config, listener, async {
//!     let _ = stopped.await;
//! }));
//! // ... talk to http://{address} ...
//! let _ = stop.send(());
//! server.await??;
//! # Ok(()) }
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))] // unit tests assert by unwrapping
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod encoding;
pub mod error;
pub mod fields;
pub mod fuzzing;
pub mod ids;
pub mod logging;
pub mod master;
pub mod metrics;
pub mod names;
pub mod performance;
pub mod proto;
pub mod replication;
pub mod server;
pub mod store;
pub mod txn;
pub mod wal;

pub use server::{ServeError, Worker, serve};
