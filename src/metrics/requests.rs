//! Requests: a count by service, method and status code, a latency
//! histogram per method, and the number in flight.
//!
//! [`RequestsLayer`] is the outermost layer of the worker's service, so it
//! sees every request that reached the worker, the ones auth refuses
//! included, and times what a client waits for: from the moment the
//! request is handed to the worker until its response head is ready.
//!
//! **Cheap by construction.** The label values are the `&'static str`
//! slices of the [method table](crate::server::methods), so no label is
//! ever formatted. Each method has a slot holding its histogram and one
//! counter per status code, created the first time that method (or that
//! code) is seen and kept in a `OnceLock`: afterwards a request costs a
//! scan of the method table, two clock reads, an atomic add on the
//! in-flight gauge (and one back), one on its counter and one histogram
//! observation (a short uncontended lock) — no map lookup, no allocation.
//!
//! **Codes.** A unary handler's error travels in the response head
//! (`grpc-status`, a "trailers-only" response), and a success in the
//! trailers; so a head without `grpc-status` counts as OK. A request whose
//! future is dropped before it answers (the client hung up, the server shut
//! down) counts as CANCELLED. The streaming replication calls between
//! members (`StreamAppend`, `InstallSnapshot`) count when their response
//! starts.
//!
//! **Bounded labels.** A path that is not in the table (a typo, a scanner)
//! is counted under `service="unknown", method="unknown"`: a client cannot
//! create series.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, OnceLock},
    task::{Context, Poll, ready},
    time::Instant,
};

use http::{Request, Response};
use prometheus_client::{
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::{Registry, Unit},
};
use tower::{Layer, Service};

use crate::server::methods::METHODS;

/// Paths served beside the table's: health and reflection.
const EXTRA: &[&str] = &[
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/// gRPC's codes by number, as `grpc-status` carries them, named as the
/// gRPC specification (and every gRPC dashboard) names them.
const CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

const CANCELLED: usize = 1;
const UNKNOWN_CODE: usize = 2;

/// Latency buckets, in seconds: 50 µs (a Get on a warm store) to 5 s (past
/// the default `grpc.timeout` of 4 s).
const LATENCY_BUCKETS: [f64; 16] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0,
];

type CodeLabels = [(&'static str, &'static str); 3];
type MethodLabels = [(&'static str, &'static str); 2];

/// The request metrics of one worker.
#[derive(Debug)]
pub struct RequestMetrics {
    requests: Family<CodeLabels, Counter>,
    latency: Family<MethodLabels, Histogram>,
    in_flight: Gauge,
    slots: Vec<Slot>,
}

/// One method: its labels and its handles, made on first use.
#[derive(Debug)]
struct Slot {
    service: &'static str,
    method: &'static str,
    latency: OnceLock<Histogram>,
    codes: [OnceLock<Counter>; 17],
}

impl RequestMetrics {
    /// The families, registered in `registry`.
    pub fn new(registry: &mut Registry) -> Self {
        let requests = Family::<CodeLabels, Counter>::default();
        let latency = Family::<MethodLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(LATENCY_BUCKETS)) as fn() -> Histogram,
        );
        let in_flight = Gauge::default();
        registry.register(
            "grpc_requests",
            "Requests answered, by service, method and gRPC status code",
            requests.clone(),
        );
        registry.register_with_unit(
            "grpc_request_duration",
            "Time from receiving a request to its response head, by method",
            Unit::Seconds,
            latency.clone(),
        );
        registry.register(
            "grpc_requests_in_flight",
            "Requests received and not yet answered",
            in_flight.clone(),
        );
        let paths = METHODS.iter().map(|m| m.path).chain(EXTRA.iter().copied());
        let mut slots: Vec<Slot> = paths.map(Slot::of).collect();
        slots.push(Slot::new("unknown", "unknown"));
        RequestMetrics {
            requests,
            latency,
            in_flight,
            slots,
        }
    }

    /// The slot of `path`: its index in the method table, then the extras,
    /// then `unknown`.
    fn slot(&self, path: &str) -> usize {
        let known = METHODS.iter().position(|m| m.path == path).or_else(|| {
            EXTRA
                .iter()
                .position(|p| *p == path)
                .map(|i| METHODS.len() + i)
        });
        known.unwrap_or(self.slots.len() - 1)
    }

    /// Records one answered request.
    fn record(&self, slot: usize, code: usize, started: Instant) {
        let Some(slot) = self.slots.get(slot) else {
            return;
        };
        let labels = [("service", slot.service), ("method", slot.method)];
        slot.latency
            .get_or_init(|| self.latency.get_or_create_owned(&labels))
            .observe(started.elapsed().as_secs_f64());
        slot.codes[code]
            .get_or_init(|| {
                let labels = [
                    ("service", slot.service),
                    ("method", slot.method),
                    ("code", CODES[code]),
                ];
                self.requests.get_or_create_owned(&labels)
            })
            .inc();
    }
}

impl Slot {
    fn of(path: &'static str) -> Self {
        let trimmed = path.strip_prefix('/').unwrap_or(path);
        match trimmed.rsplit_once('/') {
            Some((service, method)) => Slot::new(service, method),
            None => Slot::new("unknown", trimmed),
        }
    }

    fn new(service: &'static str, method: &'static str) -> Self {
        Slot {
            service,
            method,
            latency: OnceLock::new(),
            codes: std::array::from_fn(|_| OnceLock::new()),
        }
    }
}

/// Wraps the worker's service in [`Requests`]; with `None` (no
/// `metrics.port`) it records nothing.
#[derive(Clone, Debug)]
pub struct RequestsLayer {
    metrics: Option<Arc<RequestMetrics>>,
}

impl RequestsLayer {
    /// Records into `metrics`, if any.
    pub fn new(metrics: Option<Arc<RequestMetrics>>) -> Self {
        RequestsLayer { metrics }
    }
}

impl<S> Layer<S> for RequestsLayer {
    type Service = Requests<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Requests {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service produced by [`RequestsLayer`].
#[derive(Clone, Debug)]
pub struct Requests<S> {
    inner: S,
    metrics: Option<Arc<RequestMetrics>>,
}

impl<S, B, R> Service<Request<B>> for Requests<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Unpin,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = RequestsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let pending = self.metrics.as_ref().map(|metrics| {
            metrics.in_flight.inc();
            Pending {
                slot: metrics.slot(request.uri().path()),
                started: Instant::now(),
                metrics: metrics.clone(),
            }
        });
        RequestsFuture {
            inner: self.inner.call(request),
            pending,
        }
    }
}

/// A request being timed; recorded as CANCELLED if dropped unanswered.
struct Pending {
    metrics: Arc<RequestMetrics>,
    slot: usize,
    started: Instant,
}

impl Pending {
    fn finish(self, code: usize) {
        self.metrics.record(self.slot, code, self.started);
        // Dropping `self` now decrements the gauge, once.
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
    }
}

/// The future of [`Requests`].
pub struct RequestsFuture<F> {
    inner: F,
    pending: Option<Pending>,
}

impl<F> Drop for RequestsFuture<F> {
    fn drop(&mut self) {
        if let Some(pending) = self.pending.take() {
            pending.finish(CANCELLED);
        }
    }
}

impl<F, R, E> Future for RequestsFuture<F>
where
    F: Future<Output = Result<Response<R>, E>> + Unpin,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = ready!(Pin::new(&mut self.inner).poll(cx));
        if let Some(pending) = self.pending.take() {
            let code = match &result {
                Ok(response) => status_code(response),
                Err(_) => UNKNOWN_CODE,
            };
            pending.finish(code);
        }
        Poll::Ready(result)
    }
}

/// The gRPC code of a response head: its `grpc-status`, or OK when the
/// status will follow in the trailers.
fn status_code<R>(response: &Response<R>) -> usize {
    match response.headers().get("grpc-status") {
        None => 0,
        Some(value) => std::str::from_utf8(value.as_bytes())
            .ok()
            .and_then(|text| text.parse::<usize>().ok())
            .filter(|code| *code < CODES.len())
            .unwrap_or(UNKNOWN_CODE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_of_the_table_has_its_own_slot_and_strangers_share_one() {
        let mut registry = Registry::default();
        let metrics = RequestMetrics::new(&mut registry);
        let get = metrics.slot("/worker.database.v1.DocumentService/GetDocument");
        assert_eq!(
            metrics.slots[get].service,
            "worker.database.v1.DocumentService"
        );
        assert_eq!(metrics.slots[get].method, "GetDocument");
        let health = metrics.slot("/grpc.health.v1.Health/Check");
        assert_eq!(metrics.slots[health].method, "Check");
        let unknown = metrics.slot("/no.such.Service/Nothing");
        assert_eq!(unknown, metrics.slots.len() - 1);
        assert_eq!(metrics.slot("garbage"), unknown);
        assert_ne!(get, health);
    }

    #[test]
    fn a_status_in_the_head_is_the_code_and_none_is_ok() {
        let ok = Response::new(());
        assert_eq!(status_code(&ok), 0);
        let mut not_found = Response::new(());
        not_found
            .headers_mut()
            .insert("grpc-status", http::HeaderValue::from_static("5"));
        assert_eq!(CODES[status_code(&not_found)], "NOT_FOUND");
        let mut garbage = Response::new(());
        garbage
            .headers_mut()
            .insert("grpc-status", http::HeaderValue::from_static("x"));
        assert_eq!(CODES[status_code(&garbage)], "UNKNOWN");
    }
}
