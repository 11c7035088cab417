//! One request, forwarded to one replica set: which member, how often,
//! for how long.
//!
//! ```text
//! client ──▶ master: /master.database.v1.DocumentService/GetDocument
//!               │  the same message bytes, path renamed
//!               ▼
//!            member (leader hint first) ── /worker.database.v1.DocumentService/GetDocument
//!               │ UNAVAILABLE + distgo-leader: B ──▶ try B next
//!               │ UNAVAILABLE, no hint / unreachable ──▶ next member (a short pause once all were tried)
//!               └ any other answer ──▶ the client, unchanged
//! ```
//!
//! **No conversion.** `master.database.v1` has the messages and numbers of
//! `worker.database.v1`, so their bytes are the same: the master encodes
//! the client's message and decodes the worker's answer with the *master*
//! types, and only the path changes (`tonic::client::Grpc::unary` with a
//! path of our choosing). Nothing is copied field by field, and a field
//! added to both packages needs no code here.
//!
//! **Retries** happen only on UNAVAILABLE, which a member answers when it
//! cannot take the request at all (not the leader and forwarding failed,
//! an election under way, shutting down, or the connection failed), and
//! only while the request's deadline lasts: the master's `grpc.timeout` or
//! the client's `grpc-timeout`, whichever ends first, of which each hop
//! gets what remains. Until an election ends, followers keep naming the
//! leader that died, so a hint naming a member this request could not
//! reach is ignored until the next pause (100 ms after each round of the
//! members). A retried write must not apply twice, so every write
//! carries a `distgo-request-id` (the client's own, or one the master makes):
//! the set remembers it and answers a repeat with the first outcome.
//!
//! **TLS**: a member whose TLS handshake fails (its certificate is not
//! from `master.workers_tls.ca_file`, or does not carry the expected name,
//! or it refuses the master's client certificate, or the lack of one)
//! is treated as unreachable, and once every member of the set has failed
//! so the answer is UNAVAILABLE at once, naming TLS and the key to check:
//! no wait for an election that cannot mend a certificate.
//!
//! **Headers passed on**: `authorization` (the workers check the client's
//! own token: master and workers share a tokens file; with
//! `master.workers_token_file` the master's token replaces it), `distgo-request-id`
//! and `distgo-read`. A worker's answer goes back with its code, message
//! and details; its `distgo-leader` trailer, which names a member the client
//! has no business calling, is not passed on.

use std::time::Duration;

use http::uri::PathAndQuery;
use tokio::time::Instant;
use tonic::{
    Code, Request, Response, Status,
    metadata::{MetadataMap, MetadataValue},
};

use super::sets::{ReplicaSet, Sets};
use crate::{
    api::{request_id::REQUEST_ID_HEADER, status::LEADER_TRAILER},
    error::Error,
    server::{
        deadline::Bound,
        outbound::{describe, tls_failure},
        routing::READ_HEADER,
    },
};

/// The most rounds of the members one request makes, whatever the
/// deadline. The deadline is the real bound; this one only keeps a huge
/// deadline from meaning an endless loop. With a pause after each round,
/// 64 rounds last more than six seconds: several elections, even on a
/// loaded machine where one takes over a second (a bound of 32 attempts,
/// about a second, once let a leader change through to the client).
const MAX_ROUNDS: usize = 64;

/// How long to wait once every member has refused: about one election.
const ALL_REFUSED_PAUSE: Duration = Duration::from_millis(100);

/// What a forwarded request carries from the client's.
#[derive(Clone, Debug)]
pub struct Hop {
    deadline: Instant,
    bound: Bound,
    metadata: MetadataMap,
}

impl Hop {
    /// The hop of a request that arrived with `metadata`, bounded by the
    /// master's `timeout` and the client's deadline. A write is given a
    /// request id if it has none.
    pub fn new(metadata: &MetadataMap, timeout: Duration, write: bool) -> Self {
        let bound = Bound::of(timeout, &headers_for_deadline(metadata));
        let mut passed = MetadataMap::new();
        for key in ["authorization", REQUEST_ID_HEADER, READ_HEADER] {
            if let Some(value) = metadata.get(key) {
                passed.insert(key, value.clone());
            }
        }
        if write && passed.get(REQUEST_ID_HEADER).is_none() {
            let id = format!("master-{}", uuid::Uuid::new_v4().simple());
            if let Ok(value) = MetadataValue::try_from(id.as_str()) {
                passed.insert(REQUEST_ID_HEADER, value);
            }
        }
        Hop {
            deadline: Instant::now() + bound.duration(),
            bound,
            metadata: passed,
        }
    }

    /// With header `key` (value `1`) on every call of this hop.
    pub fn with(mut self, key: &'static str) -> Self {
        self.metadata.insert(key, MetadataValue::from_static("1"));
        self
    }

    /// What remains of the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    fn expired(&self, method: &str) -> Status {
        Error::DeadlineExceeded(self.bound.message(method)).into()
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        *request.metadata_mut() = self.metadata.clone();
        request.set_timeout(self.remaining());
        request
    }
}

/// The one header [`Bound::of`] reads, from tonic's metadata.
fn headers_for_deadline(metadata: &MetadataMap) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    let key = crate::server::deadline::GRPC_TIMEOUT;
    if let Some(value) = metadata
        .get(key)
        .and_then(|v| http::HeaderValue::from_bytes(v.as_bytes()).ok())
    {
        headers.insert(key, value);
    }
    headers
}

/// Sends `message` to `path` (a `/worker.database.v1...` method) on `set`,
/// following leader hints and retrying UNAVAILABLE within the deadline.
pub async fn unary<Req, Resp>(
    sets: &Sets,
    set: &ReplicaSet,
    hop: &Hop,
    path: &'static str,
    message: Req,
) -> Result<Resp, Status>
where
    Req: prost::Message + Clone + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let mut targets = set.targets();
    if targets.is_empty() {
        return Err(
            Error::Unavailable(format!("replica set {:?} has no member", set.name())).into(),
        );
    }
    let mut next = 0;
    let mut last = None;
    // Members this request could not reach: a follower's hint may still
    // name the leader that just died, and following it again is useless
    // until an election has had time to run.
    let mut unreachable: Vec<String> = Vec::new();
    // Members whose TLS handshake failed: retrying cannot mend a
    // certificate, so once every member has failed so, the answer is now.
    let mut tls_failed: Vec<String> = Vec::new();
    let mut since_pause = 0;
    let mut rounds = 0;
    let mut attempt = 0;
    while rounds < MAX_ROUNDS {
        attempt += 1;
        if hop.remaining().is_zero() {
            return Err(hop.expired(path));
        }
        let target = targets[next % targets.len()].clone();
        let sent = tokio::time::timeout(
            hop.remaining(),
            send::<Req, Resp>(sets, &target, path, hop.request(message.clone())),
        )
        .await;
        let status = match sent {
            Err(_elapsed) => return Err(hop.expired(path)),
            Ok(Ok(response)) => {
                if attempt > 1 {
                    set.set_leader(Some(target));
                }
                return Ok(response.into_inner());
            }
            Ok(Err(status)) => status,
        };
        let status = match tls_failure(&status) {
            Some(why) => {
                if !tls_failed.contains(&target) {
                    tls_failed.push(target.clone());
                }
                Status::from(Error::Unavailable(format!(
                    "TLS handshake with worker {target} failed: {why} (see master.workers_tls)"
                )))
            }
            None if status.code() != Code::Unavailable => return Err(pass_on(status)),
            None => status,
        };
        let hint = leader_hint(&status);
        if hint.is_none() && !unreachable.contains(&target) {
            unreachable.push(target.clone());
        }
        match hint {
            Some(leader) if leader != target && !unreachable.contains(&leader) => {
                set.set_leader(Some(leader.clone()));
                if !targets.contains(&leader) {
                    targets.push(leader.clone());
                }
                next = targets.iter().position(|t| *t == leader).unwrap_or(0);
            }
            _ => next += 1,
        }
        since_pause += 1;
        if targets.iter().all(|t| tls_failed.contains(t)) {
            return Err(status);
        }
        if since_pause >= targets.len() {
            // Every member refused: an election is probably under way.
            tokio::time::sleep(ALL_REFUSED_PAUSE.min(hop.remaining())).await;
            since_pause = 0;
            rounds += 1;
            unreachable.clear();
        }
        last = Some(status);
    }
    Err(last.map_or_else(
        || Error::Unavailable(format!("replica set {:?} did not answer", set.name())).into(),
        pass_on,
    ))
}

async fn send<Req, Resp>(
    sets: &Sets,
    address: &str,
    path: &'static str,
    request: Request<Req>,
) -> Result<Response<Resp>, Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let mut request = request;
    sets.authorize(&mut request);
    let channel = sets.channel(address).map_err(Status::unavailable)?;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(|err| {
        let mut status = Status::unavailable(format!("cannot reach {address}: {}", describe(&err)));
        status.set_source(std::sync::Arc::new(err));
        status
    })?;
    let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
    grpc.unary(request, PathAndQuery::from_static(path), codec)
        .await
        .map_err(|status| broken_connection(status, address))
}

/// A call that failed in the connection rather than in the worker is
/// UNAVAILABLE, like a connection that could not be opened. tonic makes
/// such a status itself, as UNKNOWN "transport error" or CANCELLED
/// "operation was canceled" with the cause as its source; a status the
/// worker sent has no source. (Seen with mutual TLS: under TLS 1.3 a
/// worker refuses a missing client certificate only after the master has
/// sent its request, and the call breaks; and when a worker is killed
/// under a call.)
fn broken_connection(status: Status, address: &str) -> Status {
    // hyper reports a connection that closed under a call (the worker was
    // killed mid-request) as CANCELLED "operation was canceled", also with
    // a local source: the write's outcome is unknown, as with UNKNOWN.
    if !matches!(status.code(), Code::Unknown | Code::Cancelled) {
        return status;
    }
    let Some(cause) = std::error::Error::source(&status).map(describe) else {
        return status;
    };
    let mut unavailable =
        Status::unavailable(format!("the connection to {address} failed: {cause}"));
    // The original stays the source, so a TLS cause is still found.
    unavailable.set_source(std::sync::Arc::new(status));
    unavailable
}

/// The member a refusal names as the leader.
fn leader_hint(status: &Status) -> Option<String> {
    let value = status.metadata().get(LEADER_TRAILER)?.to_str().ok()?;
    (!value.is_empty()).then(|| value.to_owned())
}

/// A worker's answer as the client gets it: code, message and details,
/// without the set's internal trailers.
pub fn pass_on(status: Status) -> Status {
    Status::with_details(
        status.code(),
        status.message(),
        status.details().to_vec().into(),
    )
}

#[cfg(test)]
mod tests {
    use std::{
        collections::BTreeMap,
        sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        },
    };

    use tokio::net::TcpListener;
    use tonic::transport::server::TcpIncoming;

    use super::*;
    use crate::proto::cluster::{
        ForgetConnectionRequest,
        cluster_service_server::{ClusterService, ClusterServiceServer},
    };

    const FORGET: &str = "/worker.cluster.v1.ClusterService/ForgetConnection";

    #[test]
    fn a_call_broken_in_the_connection_is_unavailable_and_a_workers_answer_is_not() {
        for code in [Code::Unknown, Code::Cancelled] {
            let mut local = Status::new(code, "operation was canceled");
            let cause = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "peer gone");
            local.set_source(Arc::new(cause));
            let mapped = broken_connection(local, "127.0.0.1:1");
            assert_eq!(mapped.code(), Code::Unavailable, "{code:?}");
            assert!(mapped.message().contains("127.0.0.1:1"), "{mapped:?}");
            // The same code sent by the worker itself (no source) stands.
            let sent = broken_connection(Status::new(code, "from the worker"), "127.0.0.1:1");
            assert_eq!(sent.code(), code);
        }
    }

    /// A member that refuses, without naming a leader, until the set as a
    /// whole has refused `refusals` calls: an election that takes long.
    struct Electing {
        calls: Arc<AtomicUsize>,
        refusals: usize,
    }

    #[tonic::async_trait]
    impl ClusterService for Electing {
        async fn forget_connection(
            &self,
            _: Request<ForgetConnectionRequest>,
        ) -> Result<Response<()>, Status> {
            if self.calls.fetch_add(1, Ordering::SeqCst) < self.refusals {
                return Err(Status::unavailable("an election is under way"));
            }
            Ok(Response::new(()))
        }
    }

    async fn member(calls: &Arc<AtomicUsize>, refusals: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let service = ClusterServiceServer::new(Electing {
            calls: Arc::clone(calls),
            refusals,
        });
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(TcpIncoming::from(listener)),
        );
        address
    }

    #[tokio::test]
    async fn a_long_election_is_waited_out_while_the_deadline_lasts() {
        // 36 refusals across three members are twelve rounds, over a
        // second of pauses: more than a fixed count of attempts allowed.
        let calls = Arc::new(AtomicUsize::new(0));
        let mut members = Vec::new();
        for _ in 0..3 {
            members.push(member(&calls, 36).await);
        }
        let sets = Sets::configured(&BTreeMap::from([("a".to_owned(), members)]));
        let set = sets.get("a").unwrap();
        let hop = Hop::new(&MetadataMap::new(), Duration::from_secs(10), false);
        let answer: Result<(), Status> =
            unary(&sets, &set, &hop, FORGET, ForgetConnectionRequest {}).await;
        assert!(answer.is_ok(), "{answer:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 37);
    }

    #[tokio::test]
    async fn an_election_longer_than_the_deadline_ends_in_deadline_exceeded() {
        let calls = Arc::new(AtomicUsize::new(0));
        let members = vec![member(&calls, usize::MAX).await];
        let sets = Sets::configured(&BTreeMap::from([("a".to_owned(), members)]));
        let set = sets.get("a").unwrap();
        let hop = Hop::new(&MetadataMap::new(), Duration::from_millis(350), false);
        let answer: Result<(), Status> =
            unary(&sets, &set, &hop, FORGET, ForgetConnectionRequest {}).await;
        assert_eq!(answer.unwrap_err().code(), Code::DeadlineExceeded);
        assert!(calls.load(Ordering::SeqCst) >= 3);
    }
}
