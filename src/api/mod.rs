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
    // The resource is whatever the client sent: a log line quotes it bounded.
    let resource = clip(resource);
    let resource = resource.as_ref();
    let result = work.await;
    let latency_us = started.elapsed().as_micros();
    match result {
        Ok(reply) => {
            tracing::debug!(method, resource, status = "OK", latency_us, "request");
            Ok(Response::new(reply))
        }
        Err(error) => {
            let server_fault = is_server_error(&error);
            let status = Status::from(error);
            let (code, message) = (status.code(), status.message());
            if server_fault {
                tracing::error!(method, resource, status = ?code, latency_us, message, "request failed");
            } else {
                tracing::debug!(method, resource, status = ?code, latency_us, message, "request");
            }
            Err(status)
        }
    }
}

/// Whether the worker, not the client, is at fault.
fn is_server_error(error: &Error) -> bool {
    matches!(error, Error::Internal(_) | Error::Unavailable(_))
}
