//! How a member reaches the others: openraft's network over gRPC.
//!
//! Each member's configuration names how *it* reaches every other member
//! (`cluster.peers`); that local map wins over the addresses stored in the
//! replicated membership, which are the ones a member announced when it
//! joined. So a test can route one member's traffic to another through a
//! proxy it controls, and an operator can give members different routes.
//!
//! One HTTP/2 channel per peer address is opened lazily and shared by every
//! RPC to that peer (votes, appends, snapshots); tonic reconnects it after
//! a failure. Every RPC carries openraft's deadline as its gRPC deadline.
//!
//! Appends and heartbeats to one member travel on one StreamAppend call
//! that stays open between uses: the leader sends a request on it and reads
//! the member's answer, in order, one at a time. A heartbeat is then one
//! message each way on an open HTTP/2 stream, where a unary call would cost
//! a new stream, its headers and trailers and, on the member, a new task:
//! a leader confirming its reads (ReadIndex) sends hundreds of heartbeats a
//! second. A call that fails, times out or is abandoned half-way is dropped
//! and the next use opens a new one, so an answer is never read for the
//! wrong request.
//!
//! A snapshot travels as a stream: one message with its metadata and size,
//! then the file in chunks of at most 1 MiB, read as they are sent, so a
//! snapshot of any size costs a chunk of memory on either side.

use std::{
    collections::{BTreeMap, HashMap},
    future::Future,
    os::unix::fs::FileExt,
    sync::Arc,
    time::Duration,
};

use openraft::{
    BasicNode, RaftNetworkFactory,
    base::{BoxFuture, BoxStream},
    errors::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable},
    network::{RPCOption, v2::RaftNetworkV2},
    raft::{
        AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, StreamAppendResult,
        TransferLeaderRequest, TransferLeaderResponse, VoteRequest, VoteResponse,
    },
};
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tonic::{
    Streaming,
    metadata::{Ascii, MetadataValue},
    transport::{Channel, Endpoint},
};

use crate::{
    proto::replication::{self as pb, replication_service_client::ReplicationServiceClient},
    replication::raft::{
        state_machine::SnapshotFile,
        types::{RaftSnapshot, RaftVote, TypeConfig},
        wire,
    },
    server::tls::Tls,
};

/// The most bytes of snapshot in one message.
const SNAPSHOT_CHUNK: u64 = 1 << 20;

/// How a member proves itself to its peers: the worker's own TLS identity
/// (members speak TLS to each other when they serve it) and the token of
/// `cluster.token_file` (when peers demand tokens).
#[derive(Clone, Debug, Default)]
pub struct PeerCredentials {
    /// The member's TLS identity and the CA it trusts for its peers.
    pub tls: Option<Tls>,
    /// The bearer token it presents.
    pub token: Option<String>,
}

/// Opens connections to the other members.
#[derive(Clone, Debug)]
pub struct Network {
    /// How this member reaches each other one, from its configuration.
    peers: Arc<BTreeMap<u64, String>>,
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    credentials: Arc<PeerCredentials>,
    /// `authorization: Bearer <token>`, ready to attach.
    bearer: Option<MetadataValue<Ascii>>,
}

impl Network {
    /// A network that reaches member `id` at `peers[id]` when it is there,
    /// presenting `credentials`.
    pub fn new(peers: BTreeMap<u64, String>, credentials: PeerCredentials) -> Self {
        let bearer = credentials
            .token
            .as_ref()
            .and_then(|token| format!("Bearer {token}").parse().ok());
        Network {
            peers: Arc::new(peers),
            channels: Arc::new(Mutex::new(HashMap::new())),
            credentials: Arc::new(credentials),
            bearer,
        }
    }

    /// Attaches this member's token, if it has one, to a call to a peer.
    pub fn authorize<T>(&self, request: &mut tonic::Request<T>) {
        if let Some(bearer) = &self.bearer {
            request
                .metadata_mut()
                .insert("authorization", bearer.clone());
        }
    }

    /// The address of member `id`: the local route, else the announced one.
    pub fn address_of(&self, id: u64, announced: Option<&str>) -> Option<String> {
        self.peers
            .get(&id)
            .cloned()
            .or_else(|| announced.map(str::to_owned))
    }

    /// The shared channel to `address` (opened lazily, reconnecting).
    pub fn channel(&self, address: &str) -> Result<Channel, tonic::transport::Error> {
        let mut channels = self.channels.lock();
        if let Some(channel) = channels.get(address) {
            return Ok(channel.clone());
        }
        let tls = self.credentials.tls.as_ref();
        let mut endpoint = Endpoint::from_shared(uri(address, tls.is_some()))?
            .connect_timeout(Duration::from_secs(1))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(5));
        if let Some(tls) = tls {
            endpoint = endpoint.tls_config(tls.client_config(host_of(address)))?;
        }
        let channel = endpoint.connect_lazy();
        channels.insert(address.to_owned(), channel.clone());
        Ok(channel)
    }

    /// A replication client of member `id`.
    pub fn client(
        &self,
        id: u64,
        announced: Option<&str>,
    ) -> Option<ReplicationServiceClient<Channel>> {
        let address = self.address_of(id, announced)?;
        let channel = self.channel(&address).ok()?;
        Some(ReplicationServiceClient::new(channel).max_decoding_message_size(64 << 20))
    }
}

/// `host:port` as a URI the channel accepts: `https` when members speak TLS.
pub fn uri(address: &str, tls: bool) -> String {
    match (address.split_once("://"), tls) {
        (Some((_, rest)), true) => format!("https://{rest}"),
        (Some(_), false) => address.to_owned(),
        (None, true) => format!("https://{address}"),
        (None, false) => format!("http://{address}"),
    }
}

/// The host part of a `[scheme://]host:port` address, which the peer's
/// certificate must name.
fn host_of(address: &str) -> &str {
    let bare = address.split_once("://").map_or(address, |(_, rest)| rest);
    bare.rsplit_once(':').map_or(bare, |(host, _)| host)
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Connection {
        Connection {
            target,
            client: self.client(target, Some(&node.addr)),
            network: self.clone(),
            appends: None,
        }
    }
}

/// The connection to one member.
#[derive(Debug)]
pub struct Connection {
    target: u64,
    /// `None` when the member's address is not a usable URI.
    client: Option<ReplicationServiceClient<Channel>>,
    network: Network,
    /// The open StreamAppend call, when the last exchange on it went well.
    appends: Option<AppendStream>,
}

/// A StreamAppend call kept open between uses: requests go in through
/// `requests`, and the member answers each, in order, on `answers`.
#[derive(Debug)]
struct AppendStream {
    requests: mpsc::Sender<pb::AppendEntriesRequest>,
    answers: Streaming<pb::StreamAppendResponse>,
}

type Rpc<T> = Result<T, RPCError<TypeConfig>>;

impl Connection {
    fn client(&self) -> Rpc<ReplicationServiceClient<Channel>> {
        self.client.clone().ok_or_else(|| {
            let why =
                std::io::Error::other(format!("member {} has no usable address", self.target));
            RPCError::Unreachable(Unreachable::new(&why))
        })
    }
}

impl Connection {
    /// A gRPC request with openraft's deadline and this member's token.
    fn request<T>(&self, message: T, option: &RPCOption) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(option.soft_ttl());
        self.network.authorize(&mut request);
        request
    }
}

impl Connection {
    /// Sends one append (or heartbeat) on the open StreamAppend call,
    /// opening one first if there is none, and reads the member's answer.
    ///
    /// The call is taken out of the connection for the exchange and put
    /// back only when the member answered and accepted: after an error, a
    /// timeout, a refusal (the member ends its side then) or a caller that
    /// gave up half-way, the next exchange starts on a new call.
    async fn exchange(
        &mut self,
        request: &AppendEntriesRequest<TypeConfig>,
        option: &RPCOption,
    ) -> Rpc<StreamAppendResult<TypeConfig>> {
        let message = wire::append_request_to_pb(request);
        let ttl = option.soft_ttl();
        let exchanged = tokio::time::timeout(ttl, async {
            let mut appends = match self.appends.take() {
                Some(appends) => appends,
                None => self.open_appends().await?,
            };
            if appends.requests.send(message).await.is_err() {
                return Err(tonic::Status::unavailable("the append stream closed"));
            }
            let answer = appends.answers.message().await?.ok_or_else(|| {
                tonic::Status::unavailable(format!(
                    "member {} ended the append stream",
                    self.target
                ))
            })?;
            Ok((appends, answer))
        })
        .await
        .unwrap_or_else(|_| {
            Err(tonic::Status::deadline_exceeded(format!(
                "no answer to an append within {ttl:?}"
            )))
        });
        let (appends, answer) = exchanged.map_err(rpc_error)?;
        let result = wire::stream_result_from_pb(&answer).map_err(bad_reply)?;
        if result.is_ok() {
            self.appends = Some(appends);
        }
        Ok(result)
    }

    /// Opens a StreamAppend call. It has no gRPC deadline, since it lives
    /// across many exchanges; each exchange is bounded instead.
    async fn open_appends(&self) -> Result<AppendStream, tonic::Status> {
        let mut client = self
            .client()
            .map_err(|err| tonic::Status::unavailable(err.to_string()))?;
        let (requests, queued) = mpsc::channel(1);
        let body = futures_util::stream::unfold(queued, |mut queued| async move {
            queued.recv().await.map(|message| (message, queued))
        });
        let mut call = tonic::Request::new(body);
        self.network.authorize(&mut call);
        let answers = client.stream_append(call).await?.into_inner();
        Ok(AppendStream { requests, answers })
    }
}

/// A failed call as openraft expects it: unreachable members are backed off.
fn rpc_error(status: tonic::Status) -> RPCError<TypeConfig> {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
            RPCError::Unreachable(Unreachable::new(&status))
        }
        _ => RPCError::Network(NetworkError::new(&status)),
    }
}

fn bad_reply(err: wire::WireError) -> RPCError<TypeConfig> {
    RPCError::Network(NetworkError::new(&err))
}

impl RaftNetworkV2<TypeConfig> for Connection {
    type SnapshotData = SnapshotFile;

    fn stream_append<'s, S>(
        &'s mut self,
        input: S,
        option: RPCOption,
    ) -> BoxFuture<'s, Rpc<BoxStream<'s, Rpc<StreamAppendResult<TypeConfig>>>>>
    where
        S: futures_util::Stream<Item = AppendEntriesRequest<TypeConfig>> + Send + Unpin + 'static,
    {
        use futures_util::StreamExt;
        let answers = futures_util::stream::unfold(Some((self, input)), move |state| {
            let option = option.clone();
            async move {
                let (connection, mut input) = state?;
                let request = input.next().await?;
                let last = request
                    .entries
                    .last()
                    .map(|entry| entry.log_id)
                    .or(request.prev_log_id);
                match connection.exchange(&request, &option).await {
                    // As openraft's own sequential stream does: a member
                    // that matched less than the whole request stops it,
                    // and the leader decides what to send next.
                    Ok(Ok(matched)) => {
                        let whole = matched == last;
                        Some((Ok(Ok(matched)), whole.then_some((connection, input))))
                    }
                    Ok(Err(refused)) => Some((Ok(Err(refused)), None)),
                    Err(err) => Some((Err(err), None)),
                }
            }
        });
        let answers: BoxStream<'s, _> = Box::pin(answers);
        Box::pin(std::future::ready(Ok(answers)))
    }

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Rpc<AppendEntriesResponse<TypeConfig>> {
        let message = wire::append_request_to_pb(&rpc);
        let reply = self
            .client()?
            .append_entries(self.request(message, &option))
            .await
            .map_err(rpc_error)?;
        wire::append_response_from_pb(reply.get_ref()).map_err(bad_reply)
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Rpc<VoteResponse<TypeConfig>> {
        let message = wire::vote_request_to_pb(&rpc);
        let reply = self
            .client()?
            .vote(self.request(message, &option))
            .await
            .map_err(rpc_error)?;
        wire::vote_response_from_pb(reply.get_ref()).map_err(bad_reply)
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Rpc<VoteResponse<TypeConfig>> {
        let message = wire::vote_request_to_pb(&rpc);
        let reply = self
            .client()?
            .pre_vote(self.request(message, &option))
            .await
            .map_err(rpc_error)?;
        wire::vote_response_from_pb(reply.get_ref()).map_err(bad_reply)
    }

    async fn full_snapshot(
        &mut self,
        vote: RaftVote,
        snapshot: RaftSnapshot,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let mut client = self.client().map_err(streaming)?;
        let meta = pb::SnapshotMeta {
            vote: Some(wire::vote_to_pb(&vote)),
            last_log_id: snapshot.meta.last_log_id.as_ref().map(wire::log_id_to_pb),
            last_membership_log_id: snapshot
                .meta
                .last_membership
                .log_id()
                .as_ref()
                .map(wire::log_id_to_pb),
            last_membership: Some(wire::membership_to_pb(
                snapshot.meta.last_membership.membership(),
            )),
            size: snapshot.snapshot.size,
        };
        let chunks = snapshot_stream(meta, snapshot.snapshot);
        let mut call = tonic::Request::new(chunks);
        self.network.authorize(&mut call);
        // The whole transfer is bounded by a generous multiple of the RPC
        // deadline per chunk, not by one RPC's deadline.
        call.set_timeout(option.hard_ttl().max(Duration::from_secs(60)));
        let sent = async {
            client
                .install_snapshot(call)
                .await
                .map_err(|status| streaming(rpc_error(status)))
        };
        let reply = tokio::select! {
            closed = cancel => return Err(StreamingError::Closed(closed)),
            reply = sent => reply?,
        };
        let vote =
            wire::vote_from_pb(&reply.get_ref().vote).map_err(|err| streaming(bad_reply(err)))?;
        Ok(SnapshotResponse::new(vote))
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Rpc<TransferLeaderResponse<TypeConfig>> {
        let message = pb::TransferLeaderRequest {
            from_leader: Some(wire::vote_to_pb(req.from_leader())),
            to_node_id: *req.to_node_id(),
            last_log_id: req.last_log_id().map(wire::log_id_to_pb),
        };
        self.client()?
            .transfer_leader(self.request(message, &option))
            .await
            .map_err(rpc_error)?;
        Ok(Ok(()))
    }
}

fn streaming(err: RPCError<TypeConfig>) -> StreamingError<TypeConfig> {
    match err {
        RPCError::Timeout(t) => StreamingError::Timeout(t),
        RPCError::Unreachable(u) => StreamingError::Unreachable(u),
        RPCError::Network(n) => StreamingError::Network(n),
        RPCError::RemoteError(r) => StreamingError::Network(NetworkError::new(&r)),
    }
}

/// The messages of one snapshot transfer: the metadata, then the file's
/// bytes chunk by chunk, each read (positionally, off the async threads)
/// only when the stream is polled for it.
fn snapshot_stream(
    meta: pb::SnapshotMeta,
    file: SnapshotFile,
) -> impl futures_util::Stream<Item = pb::SnapshotChunk> + Send + 'static {
    use pb::snapshot_chunk::Part;
    let head = futures_util::stream::once(async move {
        pb::SnapshotChunk {
            part: Some(Part::Meta(meta)),
        }
    });
    let body = futures_util::stream::unfold(0u64, move |offset| {
        let file = file.clone();
        async move {
            if offset >= file.size {
                return None;
            }
            let len = SNAPSHOT_CHUNK.min(file.size - offset) as usize;
            let read = tokio::task::spawn_blocking(move || {
                let mut buf = vec![0; len];
                file.file.read_exact_at(&mut buf, offset).map(|()| buf)
            })
            .await;
            match read {
                Ok(Ok(buf)) => Some((
                    pb::SnapshotChunk {
                        part: Some(Part::Data(buf)),
                    },
                    offset + len as u64,
                )),
                // A snapshot file that cannot be read ends the stream
                // early; the receiver refuses the short snapshot.
                _ => None,
            }
        }
    });
    futures_util::StreamExt::chain(head, body)
}
