//! # distgo-db: the reference worker
//!
//! distgo-db is a document database with a gRPC API. Databases hold
//! collections, collections hold JSON documents; clients speak gRPC to a
//! worker. This crate is the *reference* worker: small enough to read in an
//! afternoon, exact to the contract, and fast.
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
//! store::Store           write lock: plan → apply → append to log
//!     ▼                  (wait for the log outside the lock)
//! wal::Wal               the record becomes durable
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
//! | [`store`] | the state (ordered maps), operations, log records |
//! | [`wal`] | the write-ahead log the store appends to |
//! | [`api`] | one file per gRPC service, plus validation and paging helpers |
//! | [`server`] | the accept loop and its limits, TLS, tokens, deadlines; shutdown |
//! | [`config`] | the YAML configuration |
//! | [`logging`] | the tracing subscriber |
//! | [`error`] | the one error enum |
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

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod api;
pub mod clock;
pub mod config;
pub mod error;
pub mod fields;
pub mod ids;
pub mod logging;
pub mod names;
pub mod proto;
pub mod server;
pub mod store;
pub mod txn;
pub mod wal;

pub use server::{ServeError, Worker, serve};
