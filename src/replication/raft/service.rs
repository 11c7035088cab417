//! `worker.replication.v1.ReplicationService`: the member's side of Raft.
//!
//! Each Raft RPC is translated (`wire`) and handed to the local openraft
//! engine, whose answer is translated back. A message that does not make
//! sense is INVALID_ARGUMENT; an engine that has stopped is UNAVAILABLE.
//!
//! A snapshot arrives as a stream: its metadata first, then the bytes,
//! which go straight into a temporary file in the log directory (fsynced
//! when complete); a stream that ends before the announced size is refused
//! and its file deleted. The engine then installs it from that file.
//!
//! The administration calls (Initialize, AddLearner, ChangeMembership,
//! Status) are what an operator uses to form and change a set; they follow
//! openraft's rules (a membership change goes through joint consensus and
//! only the leader can make it).

use std::{
    collections::{BTreeMap, BTreeSet},
    io::Write,
    pin::Pin,
};

use futures_util::{Stream, StreamExt};
use openraft::{
    BasicNode,
    raft::TransferLeaderRequest,
    storage::{Snapshot, SnapshotMeta},
    type_config::async_runtime::watch::WatchReceiver,
};
use tonic::{Request, Response, Status, Streaming};

use crate::{
    error::Error,
    proto::replication::{self as pb, replication_service_server::ReplicationService},
    replication::raft::{
        RaftNode,
        state_machine::SnapshotFile,
        state_name,
        types::RaftStoredMembership,
        wire::{self, WireError},
    },
};

/// Serves the replication protocol of one member.
#[derive(Clone, Debug)]
pub struct ReplicationApi {
    node: RaftNode,
}

impl ReplicationApi {
    /// The service of `node`.
    pub fn new(node: RaftNode) -> Self {
        ReplicationApi { node }
    }
}

fn invalid(err: WireError) -> Status {
    Status::invalid_argument(err.0)
}

fn stopped(err: impl std::fmt::Display) -> Status {
    Status::unavailable(format!("replication: {err}"))
}

type StreamOf<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl ReplicationService for ReplicationApi {
    async fn vote(
        &self,
        request: Request<pb::VoteRequest>,
    ) -> Result<Response<pb::VoteResponse>, Status> {
        let rpc = wire::vote_request_from_pb(request.get_ref()).map_err(invalid)?;
        let reply = self.node.raft.vote(rpc).await.map_err(stopped)?;
        Ok(Response::new(wire::vote_response_to_pb(&reply)))
    }

    async fn pre_vote(
        &self,
        request: Request<pb::VoteRequest>,
    ) -> Result<Response<pb::VoteResponse>, Status> {
        let rpc = wire::vote_request_from_pb(request.get_ref()).map_err(invalid)?;
        let reply = self.node.raft.pre_vote(rpc).await.map_err(stopped)?;
        Ok(Response::new(wire::vote_response_to_pb(&reply)))
    }

    async fn append_entries(
        &self,
        request: Request<pb::AppendEntriesRequest>,
    ) -> Result<Response<pb::AppendEntriesResponse>, Status> {
        let rpc = wire::append_request_from_pb(request.get_ref()).map_err(invalid)?;
        let reply = self.node.raft.append_entries(rpc).await.map_err(stopped)?;
        Ok(Response::new(wire::append_response_to_pb(&reply)))
    }

    type StreamAppendStream = StreamOf<pb::StreamAppendResponse>;

    async fn stream_append(
        &self,
        request: Request<Streaming<pb::AppendEntriesRequest>>,
    ) -> Result<Response<Self::StreamAppendStream>, Status> {
        // A request that does not translate ends the input; openraft then
        // ends its output, and the leader retries on a new stream.
        let input = request
            .into_inner()
            .take_while(|item| std::future::ready(item.is_ok()))
            .filter_map(|item| async move {
                item.ok()
                    .and_then(|req| wire::append_request_from_pb(&req).ok())
            });
        let output = self
            .node
            .raft
            .stream_append(input)
            .map(|item| Ok(wire::stream_result_to_pb(&item.map_err(stopped)?)));
        Ok(Response::new(Box::pin(output)))
    }

    async fn install_snapshot(
        &self,
        request: Request<Streaming<pb::SnapshotChunk>>,
    ) -> Result<Response<pb::SnapshotResponse>, Status> {
        let mut chunks = request.into_inner();
        let meta = match chunks.message().await? {
            Some(pb::SnapshotChunk {
                part: Some(pb::snapshot_chunk::Part::Meta(meta)),
            }) => meta,
            _ => {
                return Err(Status::invalid_argument(
                    "a snapshot must start with its metadata",
                ));
            }
        };
        let vote = wire::vote_from_pb(&meta.vote).map_err(invalid)?;
        let membership = wire::membership_from_pb(
            meta.last_membership
                .as_ref()
                .ok_or_else(|| Status::invalid_argument("last_membership is missing"))?,
        )
        .map_err(invalid)?;
        let snapshot_meta = SnapshotMeta {
            last_log_id: meta.last_log_id.as_ref().map(wire::log_id_from_pb),
            last_membership: RaftStoredMembership::new(
                meta.last_membership_log_id
                    .as_ref()
                    .map(wire::log_id_from_pb),
                membership,
            ),
        };
        let file = receive(&self.node, &mut chunks, meta.size).await?;
        let snapshot = Snapshot {
            meta: snapshot_meta,
            snapshot: file,
        };
        let reply = self
            .node
            .raft
            .install_full_snapshot(vote, snapshot)
            .await
            .map_err(stopped)?;
        Ok(Response::new(pb::SnapshotResponse {
            vote: Some(wire::vote_to_pb(&reply.vote)),
        }))
    }

    async fn transfer_leader(
        &self,
        request: Request<pb::TransferLeaderRequest>,
    ) -> Result<Response<()>, Status> {
        let req = request.into_inner();
        let from = wire::vote_from_pb(&req.from_leader).map_err(invalid)?;
        let last = req.last_log_id.as_ref().map(wire::log_id_from_pb);
        let rpc = TransferLeaderRequest::new(from, req.to_node_id, last);
        match self
            .node
            .raft
            .handle_transfer_leader(rpc)
            .await
            .map_err(stopped)?
        {
            Ok(()) => Ok(Response::new(())),
            Err(refused) => Err(Status::failed_precondition(refused.to_string())),
        }
    }

    async fn read_index(
        &self,
        _request: Request<pb::ReadIndexRequest>,
    ) -> Result<Response<pb::ReadIndexResponse>, Status> {
        let raft = &self.node.raft;
        match raft
            .ensure_linearizable(openraft::ReadPolicy::ReadIndex)
            .await
        {
            Ok(read) => Ok(Response::new(pb::ReadIndexResponse {
                index: read.index(),
            })),
            Err(err) if err.forward_to_leader().is_some() => {
                let leader = self.node.leader().and_then(|l| l.announced);
                Err(Status::from(Error::NotLeader(leader)))
            }
            Err(err) => Err(stopped(err)),
        }
    }

    async fn initialize(
        &self,
        request: Request<pb::InitializeRequest>,
    ) -> Result<Response<()>, Status> {
        let members: BTreeMap<u64, BasicNode> = request
            .into_inner()
            .members
            .into_iter()
            .map(|(id, node)| (id, BasicNode::new(node.address)))
            .collect();
        if members.is_empty() {
            return Err(Status::invalid_argument("members must not be empty"));
        }
        self.node
            .raft
            .initialize(members)
            .await
            .map_err(|err| Status::failed_precondition(err.to_string()))?;
        Ok(Response::new(()))
    }

    async fn add_learner(
        &self,
        request: Request<pb::AddLearnerRequest>,
    ) -> Result<Response<pb::MembershipResponse>, Status> {
        let req = request.into_inner();
        let address = req
            .node
            .map(|n| n.address)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| Status::invalid_argument("node.address must be set"))?;
        let reply = self
            .node
            .raft
            .add_learner(req.node_id, BasicNode::new(address), req.wait_caught_up)
            .await
            .map_err(|err| self.change_error(err))?;
        Ok(Response::new(membership_response(&reply)))
    }

    async fn change_membership(
        &self,
        request: Request<pb::ChangeMembershipRequest>,
    ) -> Result<Response<pb::MembershipResponse>, Status> {
        let req = request.into_inner();
        let voters: BTreeSet<u64> = req.voters.into_iter().collect();
        if voters.is_empty() {
            return Err(Status::invalid_argument("voters must not be empty"));
        }
        let reply = self
            .node
            .raft
            .change_membership(voters, req.retain_removed)
            .await
            .map_err(|err| self.change_error(err))?;
        Ok(Response::new(membership_response(&reply)))
    }

    async fn status(
        &self,
        _request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        Ok(Response::new(status(&self.node)))
    }
}

impl ReplicationApi {
    /// A refused membership change: not the leader (UNAVAILABLE with its
    /// address), or a change openraft does not allow now.
    fn change_error(
        &self,
        err: openraft::errors::RaftError<
            super::types::TypeConfig,
            openraft::errors::ClientWriteError<super::types::TypeConfig>,
        >,
    ) -> Status {
        if err.forward_to_leader().is_some() {
            let leader = self.node.leader().and_then(|l| l.announced);
            return Status::from(Error::NotLeader(leader));
        }
        Status::failed_precondition(err.to_string())
    }
}

fn membership_response(
    reply: &openraft::raft::ClientWriteResponse<super::types::TypeConfig>,
) -> pb::MembershipResponse {
    pb::MembershipResponse {
        log_id: Some(wire::log_id_to_pb(&reply.log_id)),
        membership: reply.membership.as_ref().map(wire::membership_to_pb),
    }
}

/// Receives a snapshot's bytes into a temporary file in the log directory.
async fn receive(
    node: &RaftNode,
    chunks: &mut Streaming<pb::SnapshotChunk>,
    size: u64,
) -> Result<SnapshotFile, Status> {
    let path = node.wal.incoming_snapshot_path();
    let result = write_chunks(&path, chunks, size).await;
    match result {
        Ok(()) => SnapshotFile::open(&path).map_err(|e| Status::unavailable(e.to_string())),
        Err(status) => {
            let _ = std::fs::remove_file(&path);
            Err(status)
        }
    }
}

async fn write_chunks(
    path: &std::path::Path,
    chunks: &mut Streaming<pb::SnapshotChunk>,
    size: u64,
) -> Result<(), Status> {
    let io = |e: std::io::Error| Status::unavailable(format!("cannot store the snapshot: {e}"));
    let mut file = std::fs::File::create(path).map_err(io)?;
    let mut received = 0u64;
    while let Some(chunk) = chunks.message().await? {
        let Some(pb::snapshot_chunk::Part::Data(bytes)) = chunk.part else {
            return Err(Status::invalid_argument("snapshot metadata sent twice"));
        };
        received += bytes.len() as u64;
        if received > size {
            return Err(Status::invalid_argument(
                "the snapshot is longer than announced",
            ));
        }
        file.write_all(&bytes).map_err(io)?;
    }
    if received != size {
        return Err(Status::invalid_argument(format!(
            "the snapshot ended after {received} of {size} bytes"
        )));
    }
    file.sync_all().map_err(io)
}

/// What a member knows of its set.
pub(super) fn status(node: &RaftNode) -> pb::StatusResponse {
    let metrics = node.raft.metrics().borrow_watched().clone();
    let membership = metrics.membership_config.membership();
    let last = metrics.last_log_index.unwrap_or(0);
    let voters: BTreeSet<u64> = membership.voter_ids().collect();
    let matched = metrics.replication.clone().unwrap_or_default();
    let members = membership
        .nodes()
        .map(|(id, n)| {
            let matched_index = if *id == metrics.id {
                Some(last)
            } else {
                matched.get(id).map(|m| m.as_ref().map_or(0, |l| l.index))
            };
            pb::Member {
                node_id: *id,
                address: n.addr.clone(),
                voter: voters.contains(id),
                matched_index: matched_index.unwrap_or(0),
                lag: matched_index.map_or(0, |m| last.saturating_sub(m)),
            }
        })
        .collect();
    let leader = metrics.current_leader;
    pb::StatusResponse {
        node_id: metrics.id,
        state: state_name(metrics.state).into(),
        term: metrics.current_term,
        leader_id: leader.unwrap_or(0),
        leader_address: leader
            .and_then(|id| membership.get_node(&id))
            .map(|n| n.addr.clone())
            .unwrap_or_default(),
        members,
        last_log_index: last,
        committed_index: metrics.local_committed.map_or(0, |c| c.index),
        applied_index: metrics.last_applied.map_or(0, |a| a.index),
        snapshot_index: metrics.snapshot.map_or(0, |s| s.index),
        purged_index: metrics.purged.map_or(0, |p| p.index),
    }
}
