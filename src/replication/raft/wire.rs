//! Between openraft's messages and `worker.replication.v1`'s.
//!
//! Every conversion is total in the openraft → proto direction; the other
//! direction checks what a peer sent (a missing vote, an entry without a
//! payload, a command that does not decode) and reports it as a
//! [`WireError`], which the service answers as INVALID_ARGUMENT, because
//! bytes from the network are never trusted, even from a member.

use std::collections::{BTreeMap, BTreeSet};

use openraft::{
    BasicNode, EntryPayload,
    raft::{
        AppendEntriesRequest, AppendEntriesResponse, StreamAppendError, StreamAppendResult,
        VoteRequest, VoteResponse,
    },
};

use crate::{
    encoding::DecodeError,
    proto::replication as pb,
    replication::raft::types::{
        Proposal, RaftEntry, RaftLogId, RaftMembership, RaftVote, TypeConfig, log_id, position,
    },
    store::{
        LogPosition,
        codec::{decode_command, encode_command},
    },
};

/// A message from a peer that does not make sense.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WireError(pub String);

impl From<DecodeError> for WireError {
    fn from(err: DecodeError) -> Self {
        WireError(format!("command does not decode: {err}"))
    }
}

fn missing(what: &str) -> WireError {
    WireError(format!("{what} is missing"))
}

pub fn log_id_to_pb(id: &RaftLogId) -> pb::LogId {
    let p = position(id);
    pb::LogId {
        term: p.term,
        node_id: p.node,
        index: p.index,
    }
}

pub fn log_id_from_pb(id: &pb::LogId) -> RaftLogId {
    log_id(LogPosition {
        term: id.term,
        node: id.node_id,
        index: id.index,
    })
}

fn opt_log_id_to_pb(id: &Option<RaftLogId>) -> Option<pb::LogId> {
    id.as_ref().map(log_id_to_pb)
}

fn opt_log_id_from_pb(id: &Option<pb::LogId>) -> Option<RaftLogId> {
    id.as_ref().map(log_id_from_pb)
}

pub fn vote_to_pb(vote: &RaftVote) -> pb::Vote {
    pb::Vote {
        term: vote.leader_id.term,
        node_id: vote.leader_id.node_id,
        committed: vote.committed,
    }
}

pub fn vote_from_pb(vote: &Option<pb::Vote>) -> Result<RaftVote, WireError> {
    let vote = vote.as_ref().ok_or_else(|| missing("vote"))?;
    Ok(if vote.committed {
        RaftVote::new_committed(vote.term, vote.node_id)
    } else {
        RaftVote::new(vote.term, vote.node_id)
    })
}

pub fn membership_to_pb(membership: &RaftMembership) -> pb::Membership {
    pb::Membership {
        configs: membership
            .get_joint_config()
            .iter()
            .map(|set| pb::NodeSet {
                ids: set.iter().copied().collect(),
            })
            .collect(),
        nodes: membership
            .nodes()
            .map(|(id, node)| {
                let address = node.addr.clone();
                (*id, pb::Node { address })
            })
            .collect(),
    }
}

pub fn membership_from_pb(membership: &pb::Membership) -> Result<RaftMembership, WireError> {
    let configs: Vec<BTreeSet<u64>> = membership
        .configs
        .iter()
        .map(|set| set.ids.iter().copied().collect())
        .collect();
    let nodes: BTreeMap<u64, BasicNode> = membership
        .nodes
        .iter()
        .map(|(id, node)| (*id, BasicNode::new(&node.address)))
        .collect();
    RaftMembership::new(configs, nodes).map_err(|err| WireError(format!("membership: {err}")))
}

pub fn entry_to_pb(entry: &RaftEntry) -> pb::Entry {
    use pb::entry::Payload;
    let payload = match &entry.payload {
        EntryPayload::Blank => Payload::Blank(()),
        EntryPayload::Normal(proposal) => {
            let mut bytes = Vec::new();
            encode_command(&proposal.0, &mut bytes);
            Payload::Command(bytes)
        }
        EntryPayload::Membership(m) => Payload::Membership(membership_to_pb(m)),
    };
    pb::Entry {
        log_id: Some(log_id_to_pb(&entry.log_id)),
        payload: Some(payload),
    }
}

pub fn entry_from_pb(entry: &pb::Entry) -> Result<RaftEntry, WireError> {
    use pb::entry::Payload;
    let id = entry
        .log_id
        .as_ref()
        .ok_or_else(|| missing("entry.log_id"))?;
    let payload = match entry
        .payload
        .as_ref()
        .ok_or_else(|| missing("entry.payload"))?
    {
        Payload::Blank(()) => EntryPayload::Blank,
        Payload::Command(bytes) => {
            EntryPayload::Normal(Proposal(std::sync::Arc::new(decode_command(bytes)?)))
        }
        Payload::Membership(m) => EntryPayload::Membership(membership_from_pb(m)?),
    };
    Ok(openraft::Entry {
        log_id: log_id_from_pb(id),
        payload,
    })
}

pub fn vote_request_to_pb(req: &VoteRequest<TypeConfig>) -> pb::VoteRequest {
    pb::VoteRequest {
        vote: Some(vote_to_pb(&req.vote)),
        last_log_id: opt_log_id_to_pb(&req.last_log_id),
        leadership_transfer: req.leadership_transfer,
    }
}

pub fn vote_request_from_pb(req: &pb::VoteRequest) -> Result<VoteRequest<TypeConfig>, WireError> {
    let mut request = VoteRequest::new(
        vote_from_pb(&req.vote)?,
        opt_log_id_from_pb(&req.last_log_id),
    );
    request.leadership_transfer = req.leadership_transfer;
    Ok(request)
}

pub fn vote_response_to_pb(resp: &VoteResponse<TypeConfig>) -> pb::VoteResponse {
    pb::VoteResponse {
        vote: Some(vote_to_pb(&resp.vote)),
        vote_granted: resp.vote_granted,
        last_log_id: opt_log_id_to_pb(&resp.last_log_id),
    }
}

pub fn vote_response_from_pb(
    resp: &pb::VoteResponse,
) -> Result<VoteResponse<TypeConfig>, WireError> {
    Ok(VoteResponse::new(
        vote_from_pb(&resp.vote)?,
        opt_log_id_from_pb(&resp.last_log_id),
        resp.vote_granted,
    ))
}

pub fn append_request_to_pb(req: &AppendEntriesRequest<TypeConfig>) -> pb::AppendEntriesRequest {
    pb::AppendEntriesRequest {
        vote: Some(vote_to_pb(&req.vote)),
        prev_log_id: opt_log_id_to_pb(&req.prev_log_id),
        entries: req.entries.iter().map(entry_to_pb).collect(),
        leader_commit: opt_log_id_to_pb(&req.leader_commit),
    }
}

pub fn append_request_from_pb(
    req: &pb::AppendEntriesRequest,
) -> Result<AppendEntriesRequest<TypeConfig>, WireError> {
    Ok(AppendEntriesRequest {
        vote: vote_from_pb(&req.vote)?,
        prev_log_id: opt_log_id_from_pb(&req.prev_log_id),
        entries: req
            .entries
            .iter()
            .map(entry_from_pb)
            .collect::<Result<_, _>>()?,
        leader_commit: opt_log_id_from_pb(&req.leader_commit),
    })
}

pub fn append_response_to_pb(
    resp: &AppendEntriesResponse<TypeConfig>,
) -> pb::AppendEntriesResponse {
    use pb::append_entries_response::Result as R;
    let result = match resp {
        AppendEntriesResponse::Success => R::Success(()),
        AppendEntriesResponse::PartialSuccess(matched) => R::PartialSuccess(pb::PartialSuccess {
            matched: opt_log_id_to_pb(matched),
        }),
        AppendEntriesResponse::Conflict => R::Conflict(()),
        AppendEntriesResponse::HigherVote(vote) => R::HigherVote(vote_to_pb(vote)),
    };
    pb::AppendEntriesResponse {
        result: Some(result),
    }
}

pub fn append_response_from_pb(
    resp: &pb::AppendEntriesResponse,
) -> Result<AppendEntriesResponse<TypeConfig>, WireError> {
    use pb::append_entries_response::Result as R;
    Ok(
        match resp.result.as_ref().ok_or_else(|| missing("result"))? {
            R::Success(()) => AppendEntriesResponse::Success,
            R::PartialSuccess(p) => {
                AppendEntriesResponse::PartialSuccess(opt_log_id_from_pb(&p.matched))
            }
            R::Conflict(()) => AppendEntriesResponse::Conflict,
            R::HigherVote(v) => AppendEntriesResponse::HigherVote(vote_from_pb(&Some(*v))?),
        },
    )
}

/// One answer of a StreamAppend stream: how far the member's log now
/// matches the leader's, or why it refused.
pub fn stream_result_to_pb(result: &StreamAppendResult<TypeConfig>) -> pb::StreamAppendResponse {
    use pb::stream_append_response::Result as R;
    let result = match result {
        Ok(matched) => R::Accepted(pb::PartialSuccess {
            matched: opt_log_id_to_pb(matched),
        }),
        Err(StreamAppendError::Conflict(id)) => R::Conflict(log_id_to_pb(id)),
        Err(StreamAppendError::HigherVote(vote)) => R::HigherVote(vote_to_pb(vote)),
    };
    pb::StreamAppendResponse {
        result: Some(result),
    }
}

/// The answer a member sent on a StreamAppend stream.
pub fn stream_result_from_pb(
    resp: &pb::StreamAppendResponse,
) -> Result<StreamAppendResult<TypeConfig>, WireError> {
    use pb::stream_append_response::Result as R;
    Ok(
        match resp.result.as_ref().ok_or_else(|| missing("result"))? {
            R::Accepted(p) => Ok(opt_log_id_from_pb(&p.matched)),
            R::Conflict(id) => Err(StreamAppendError::Conflict(log_id_from_pb(id))),
            R::HigherVote(v) => Err(StreamAppendError::HigherVote(vote_from_pb(&Some(*v))?)),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(term: u64, node: u64, index: u64) -> RaftLogId {
        log_id(LogPosition { term, node, index })
    }

    /// Every answer a member can give on a StreamAppend stream comes back
    /// as the leader's engine sent it, refusals included.
    #[test]
    fn stream_answers_survive_the_wire() {
        let answers: Vec<StreamAppendResult<TypeConfig>> = vec![
            Ok(Some(id(3, 1, 42))),
            Ok(None),
            Err(StreamAppendError::Conflict(id(2, 2, 7))),
            Err(StreamAppendError::HigherVote(RaftVote::new(5, 3))),
        ];
        for answer in answers {
            let back = stream_result_from_pb(&stream_result_to_pb(&answer));
            assert_eq!(back.ok(), Some(answer));
        }
    }

    #[test]
    fn an_answer_without_a_result_is_refused() {
        let empty = pb::StreamAppendResponse { result: None };
        assert!(stream_result_from_pb(&empty).is_err());
    }
}
