//! # The API at a glance
//!
//! The wire contract is `proto/`: package `worker.database.v1` for the data
//! and `worker.cluster.v1` for the cluster. The standard gRPC health and
//! reflection services are served too ([`crate::server`]), so any gRPC tool
//! can discover and call the API without a copy of the protos.
//!
//! | resource | name | mutable field |
//! |---|---|---|
//! | Database | `databases/{database}` | `display_name`: 1-255 characters, required |
//! | Collection | `databases/{database}/collections/{collection}` | `description`: 0-1024 characters |
//! | Document | `databases/{database}/collections/{collection}/documents/{document}` | `value`: the text of a JSON object, 1-4096 characters, stored byte for byte |
//!
//! | service | methods | file |
//! |---|---|---|
//! | `DatabaseService` | `ListDatabases`, `GetDatabase`, `CreateDatabase`, `UpdateDatabase`, `DeleteDatabase` | [`database`] |
//! | `CollectionService` | `ListCollections`, `GetCollection`, `CreateCollection`, `UpdateCollection`, `DeleteCollection` | [`collection`] |
//! | `DocumentService` | `ListDocuments`, `GetDocument`, `CreateDocument`, `UpdateDocument`, `DeleteDocument` | [`document`] |
//! | `TransactionService` | `Begin`, `Execute`, `Commit`, `Rollback` | [`transaction`], chapter [`crate::txn`] |
//! | `WALService` | `ListWALEntries`, `TruncateWAL` | [`wal`], chapter [`crate::wal`] |
//! | `worker.cluster.v1.ClusterService` | `ForgetConnection`: the master's request that the worker forget its registration; a no-op for a standalone worker | [`cluster`] |
//!
//! (The *master* is the coming node that routes clients to workers and
//! registers them; a standalone worker has none.)
//!
//! ## Rules a client can rely on
//!
//! - **Ids**: database ids are 1-64 characters of `[a-z0-9._-]`; collection
//!   and document ids 1-64 characters of `[a-zA-Z0-9._-]`. An empty id on
//!   create lets the server pick 20 random characters. For documents
//!   `document_id` wins over `document.id`; two different non-empty ids are
//!   an error.
//! - **Timestamps**: `created_at` is set once; `updated_at` equals it at
//!   create, changes on every update and never goes backwards (commit times
//!   strictly increase even if the system clock steps back).
//! - **Updates**: `update_mask` absent, empty or `*` replaces every mutable
//!   field; otherwise it may name only the mutable field (`display_name`,
//!   `description`, `value`). Any other path is an error and nothing changes
//!   ([`mask`]).
//! - **Deletes** cascade: deleting a database deletes its collections and
//!   their documents, atomically; a re-created database starts empty.
//! - **Lists** are in ascending name order and page with cursor tokens
//!   ([`paging`]).
//! - **Errors** name the resource or field at fault and never say INTERNAL
//!   for anything a client did ([`status`]).
//!
//! `conformance/SPEC.md` states each rule as a numbered clause with its
//! reason, and the conformance suite checks every one against any worker.
//!
//! ## How a request is handled
//!
//! Each service lives in its own file and follows the same three steps:
//!
//! 1. **Validate** every field of the request (names, ids, limits, masks,
//!    page tokens), reporting every bad field at once ([`gather`]). No
//!    optional message is assumed present; no request can panic the worker.
//! 2. **Call the store** with a validated [`Op`](crate::store::Op) or lookup.
//! 3. **Respond** through [`respond`] (or [`respond_named`] for creates and
//!    updates), which logs one line per request and turns errors into
//!    statuses in the one `From` impl of [`status`].

pub mod cluster;
pub mod collection;
pub mod convert;
pub mod database;
pub mod document;
pub mod gather;
pub mod mask;
pub mod operation;
pub mod paging;
pub mod request_id;
pub mod status;
pub mod transaction;
pub mod wal;

use std::{future::Future, time::Instant};

use tonic::{Response, Status};

use crate::error::{Error, Result, clip};

/// Runs one request's `work`, logs its outcome and converts its error.
///
/// `method` is the RPC name and `resource` the name or parent the request is
/// about, so each log line says who asked what and how it ended.
pub async fn respond<T>(
    method: &'static str,
    resource: &str,
    work: impl Future<Output = Result<T>>,
) -> Result<Response<T>, Status> {
    let started = Instant::now();
    let result = work.await;
    finish(method, resource, started, result)
}

/// [`respond`] for a create or an update: the log line names the resource
/// written, with the id the server generated if the client sent none, and,
/// when the write fails, the name the client asked for (for a create, see
/// [`requested_name`]), which `requested` builds only then.
pub async fn respond_named<T: Named>(
    method: &'static str,
    requested: impl FnOnce() -> String,
    work: impl Future<Output = Result<T>>,
) -> Result<Response<T>, Status> {
    let started = Instant::now();
    match work.await {
        // The written resource names itself: no copy of its name is made
        // just for a log line that is usually filtered out.
        Ok(written) => {
            log_ok(method, written.name(), started);
            Ok(Response::new(written))
        }
        Err(error) => finish(method, &requested(), started, Err(error)),
    }
}

/// The full name a create asks for: `collection` (`databases`,
/// `collections`, `documents`) under `parent` (empty for a database), e.g.
/// `databases/shop/collections/cart`; it ends in `/` when the id is empty
/// and the server is to pick one.
pub fn requested_name(parent: &str, collection: &str, id: &str) -> String {
    if parent.is_empty() {
        format!("{collection}/{id}")
    } else {
        format!("{parent}/{collection}/{id}")
    }
}

/// A resource message that carries its own full name.
pub trait Named {
    /// The resource's full name, e.g. `databases/shop`.
    fn name(&self) -> &str;
}

impl Named for crate::proto::database::Database {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for crate::proto::database::Collection {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for crate::proto::database::Document {
    fn name(&self) -> &str {
        &self.name
    }
}

/// Logs one finished request and converts its error. The status message
/// goes in the field `error`: a field named `message` would collide with
/// the event's own message (`request`) and give JSON lines a duplicate key.
fn finish<T>(
    method: &'static str,
    resource: &str,
    started: Instant,
    result: Result<T>,
) -> Result<Response<T>, Status> {
    match result {
        Ok(reply) => {
            log_ok(method, resource, started);
            Ok(Response::new(reply))
        }
        Err(error) => {
            let latency_us = started.elapsed().as_micros();
            // The resource is whatever the client sent: a log line quotes it bounded.
            let resource = clip(resource);
            let resource = resource.as_ref();
            let server_fault = is_server_error(&error);
            let status = Status::from(error);
            let (code, error) = (status.code(), status.message());
            if server_fault {
                tracing::error!(method, resource, status = ?code, latency_us, error, "request failed");
            } else {
                tracing::debug!(method, resource, status = ?code, latency_us, error, "request");
            }
            Err(status)
        }
    }
}

/// The debug line of a request that succeeded.
fn log_ok(method: &'static str, resource: &str, started: Instant) {
    let latency_us = started.elapsed().as_micros();
    let resource = clip(resource);
    let resource = resource.as_ref();
    tracing::debug!(method, resource, status = "OK", latency_us, "request");
}

/// Whether the worker, not the client, is at fault.
fn is_server_error(error: &Error) -> bool {
    matches!(error, Error::Internal(_) | Error::Unavailable(_))
}
