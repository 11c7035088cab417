//! Routing in a replica set: any member answers any request.
//!
//! ```text
//!  request ──▶ kind (methods.rs)
//!               ├─ write, this member leads ─────────────▶ handler
//!               ├─ write, another member leads ──forward──▶ the leader's handler (one hop)
//!               ├─ write, no leader known ───────────────▶ UNAVAILABLE "no leader ..."
//!               ├─ read ── linearize (ReadIndex) ────────▶ handler
//!               ├─ read with `distgo-read: local` ───────▶ handler, at once
//!               └─ local (health, Raft, reflection) ─────▶ handler
//! ```
//!
//! **Forwarding** sends the client's HTTP/2 request as it is (path,
//! headers, body; the `grpc-timeout` deadline included) on the shared
//! channel to the leader, and streams the leader's response back, so the
//! conformance suite passes unchanged against any member and a follower
//! never interprets a write it cannot make. A forwarded request carries
//! `distgo-forwarded`; a member that receives one and does not lead
//! either (the leader just changed) answers UNAVAILABLE with the leader it
//! knows in the `distgo-leader` trailer rather than forwarding again, so
//! a request makes at most one hop. A forward that the leader has not
//! answered shortly before the client's deadline (a member cut off from its
//! leader by a partition) ends with UNAVAILABLE, so the client learns to
//! try another member rather than only that time ran out.
//!
//! **Reads** are linearizable: the member first makes sure it has applied
//! everything committed when the read arrived ([`Replica::linearize`]).
//! `distgo-read: local` skips that and reads the member's state as it is:
//! fast, possibly stale (a follower may lag, or be cut off from the
//! leader).
//!
//! A standalone worker passes every request straight through.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use http::{HeaderValue, Request, Response};
use tokio::time::Instant;
use tonic::{Status, body::Body};
use tower::{Layer, Service, ServiceExt};

use super::deadline::Bound;
use crate::{
    error::Error,
    replication::Replica,
    server::methods::{self, Kind},
};

/// The request header that asks for a possibly stale local read.
pub const READ_HEADER: &str = "distgo-read";
/// The header marking a request forwarded by another member.
pub const FORWARDED_HEADER: &str = "distgo-forwarded";

/// Wraps services in [`Routing`].
#[derive(Clone, Debug)]
pub struct RoutingLayer {
    replica: Arc<Replica>,
    /// `grpc.timeout`: with the client's `grpc-timeout`, the deadline a
    /// forward must answer before.
    timeout: Duration,
    /// Only requests whose path starts with this are routed.
    scope: &'static str,
}

impl RoutingLayer {
    /// Routing for the member that holds `replica`, whose requests are
    /// bounded by `timeout`.
    pub fn new(replica: Arc<Replica>, timeout: Duration) -> Self {
        RoutingLayer {
            replica,
            timeout,
            scope: "/",
        }
    }

    /// Routes only the requests whose path starts with `scope`: a master
    /// routes the `/worker.` services of its catalog member this way and
    /// answers its own `/master.` services itself.
    pub fn only_under(mut self, scope: &'static str) -> Self {
        self.scope = scope;
        self
    }
}

impl<S> Layer<S> for RoutingLayer {
    type Service = Routing<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Routing {
            inner,
            replica: self.replica.clone(),
            timeout: self.timeout,
            scope: self.scope,
        }
    }
}

/// The service produced by [`RoutingLayer`].
#[derive(Clone, Debug)]
pub struct Routing<S> {
    inner: S,
    replica: Arc<Replica>,
    timeout: Duration,
    scope: &'static str,
}

type BoxFuture<T, E> = Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send>>;

impl<S> Service<Request<Body>> for Routing<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let replica = self.replica.clone();
        if replica.raft().is_none() || !request.uri().path().starts_with(self.scope) {
            return Box::pin(self.inner.call(request));
        }
        // The inner service was made ready for this call; keep it for the
        // request and leave a fresh clone in its place (tower's pattern).
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        // The request's deadline, read as the edge reads it (the edge, just
        // outside, started its clock a moment earlier).
        let deadline =
            Instant::now().checked_add(Bound::of(self.timeout, request.headers()).duration());
        Box::pin(route(replica, inner, request, deadline))
    }
}

async fn route<S>(
    replica: Arc<Replica>,
    inner: S,
    request: Request<Body>,
    deadline: Option<Instant>,
) -> Result<Response<Body>, S::Error>
where
    S: Service<Request<Body>, Response = Response<Body>> + Send,
    S::Future: Send,
{
    let mut inner = inner;
    match methods::kind(request.uri().path()) {
        Kind::Write if !replica.leads() => Ok(forward(&replica, request, deadline).await),
        Kind::Read if !wants_local_read(&request) => match replica.linearize().await {
            Ok(()) => inner.call(request).await,
            Err(err) => Ok(Status::from(err).into_http()),
        },
        _ => inner.call(request).await,
    }
}

fn wants_local_read(request: &Request<Body>) -> bool {
    request
        .headers()
        .get(READ_HEADER)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"local"))
}

/// Sends `request` to the leader and returns its response; UNAVAILABLE
/// (with the leader's address when known) if that cannot be done.
async fn forward(
    replica: &Replica,
    mut request: Request<Body>,
    deadline: Option<Instant>,
) -> Response<Body> {
    let leader = replica.leader();
    let announced = leader.as_ref().and_then(|l| l.announced.clone());
    let not_leader = |announced| Status::from(Error::NotLeader(announced)).into_http();
    if request.headers().contains_key(FORWARDED_HEADER) {
        return not_leader(announced);
    }
    let Some(channel) = leader
        .as_ref()
        .and_then(|l| l.route.as_deref())
        .and_then(|route| replica.raft().and_then(|node| node.channel(route)))
    else {
        return not_leader(announced);
    };
    request
        .headers_mut()
        .insert(FORWARDED_HEADER, HeaderValue::from_static("1"));
    let answer_by = deadline.map(|deadline| {
        deadline
            .checked_sub(forward_margin(deadline))
            .unwrap_or(deadline)
    });
    let forwarded = channel.oneshot(request);
    let answered = match answer_by {
        Some(by) => tokio::time::timeout_at(by, forwarded).await,
        None => Ok(forwarded.await),
    };
    match answered {
        Ok(Ok(response)) => response,
        Ok(Err(err)) => {
            tracing::debug!("forwarding to the leader failed: {err}");
            not_leader(announced)
        }
        Err(_elapsed) => {
            tracing::debug!("the leader did not answer a forwarded request in time");
            let error = Error::Unavailable(format!(
                "the leader{} did not answer before the deadline (this member may be cut off \
                 from it); a write's outcome is unknown: retry with the same distgo-request-id",
                announced.map_or(String::new(), |a| format!(" at {a}"))
            ));
            Status::from(error).into_http()
        }
    }
}

/// How long before the client's deadline a forward gives up, so that the
/// client hears UNAVAILABLE (retry elsewhere) instead of DEADLINE_EXCEEDED
/// from a member cut off from its leader: a tenth of the time left, at
/// least 20 ms and at most 200 ms.
fn forward_margin(deadline: Instant) -> Duration {
    let left = deadline.saturating_duration_since(Instant::now());
    (left / 10).clamp(Duration::from_millis(20), Duration::from_millis(200))
}
