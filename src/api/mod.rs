//! The gRPC edge: requests in, statuses out.
//!
//! Each service lives in its own file and follows the same three steps:
//!
//! 1. **Validate** every field of the request (names, ids, limits, masks,
//!    page tokens), reporting every bad field at once ([`gather`]). No
//!    optional message is assumed present; no request can panic the worker.
//! 2. **Call the store** with a validated [`Op`](crate::store::Op) or lookup.
//! 3. **Respond** through [`respond`], which logs one line per request and
//!    turns errors into statuses in the one `From` impl of [`status`].

pub mod cluster;
pub mod collection;
pub mod convert;
pub mod database;
pub mod document;
pub mod gather;
pub mod mask;
pub mod operation;
pub mod paging;
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

/// [`respond`] for a create: the log line names the resource created, with
/// the id the server generated if the client sent none, and, when the create
/// fails, the full name the client asked for (see [`requested_name`]).
pub async fn respond_create<T: Named>(
    method: &'static str,
    requested: &str,
    work: impl Future<Output = Result<T>>,
) -> Result<Response<T>, Status> {
    let started = Instant::now();
    let result = work.await;
    let resource = match &result {
        Ok(created) => created.name().to_owned(),
        Err(_) => requested.to_owned(),
    };
    finish(method, &resource, started, result)
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
    let latency_us = started.elapsed().as_micros();
    // The resource is whatever the client sent: a log line quotes it bounded.
    let resource = clip(resource);
    let resource = resource.as_ref();
    match result {
        Ok(reply) => {
            tracing::debug!(method, resource, status = "OK", latency_us, "request");
            Ok(Response::new(reply))
        }
        Err(error) => {
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

/// Whether the worker, not the client, is at fault.
fn is_server_error(error: &Error) -> bool {
    matches!(error, Error::Internal(_) | Error::Unavailable(_))
}
