//! openraft's types for distgo-db, and the translation to the project's own.
//!
//! openraft is generic over a *type configuration*: what a log entry
//! carries (`D`), what applying one answers (`R`), how nodes are named and
//! reached. This file declares it and converts between openraft's types and
//! the ones the rest of the worker uses, so that no openraft type leaves
//! [`crate::replication::raft`]:
//!
//! | openraft | distgo-db |
//! |---|---|
//! | `LogId { leader_id: (term, node), index }` | [`LogPosition`] `{ term, node, index }` |
//! | `Entry { log_id, payload: Blank \| Normal(D) \| Membership }` | [`LogEntry`] `{ position, payload }` |
//! | `D` = [`Proposal`] | an `Arc<`[`Command`]`>` |
//! | `R` | [`Outcome`] |
//! | `StoredMembership` | [`Membership`] (opaque bytes in the store) |
//!
//! A membership is stored by the log and by the store as bytes they do not
//! read, encoded here:
//!
//! ```text
//! membership = configs u32, (ids u32, id u64*)*, nodes u32, (id u64, address string)*
//! ```

use std::{collections::BTreeSet, fmt, sync::Arc};

use openraft::{BasicNode, EntryPayload, LogId, StoredMembership};

use crate::{
    encoding::{DecodeError, Decoder, put_str, put_u32, put_u64},
    store::{Command, LogPosition, Membership, Outcome},
    wal::{LogEntry, Payload},
};

openraft::declare_raft_types!(
    /// distgo-db's Raft types: entries carry commands, applying answers
    /// outcomes, nodes are `u64` ids reached at an address.
    pub TypeConfig:
        D = Proposal,
        R = Outcome,
        NodeId = u64,
        Node = BasicNode,
);

/// A Raft log id.
pub type RaftLogId = LogId<openraft::impls::leader_id_adv::LeaderId<u64, u64>>;
/// A Raft log entry.
pub type RaftEntry =
    openraft::Entry<openraft::impls::leader_id_adv::LeaderId<u64, u64>, RaftPayload>;
/// A Raft entry's payload.
pub type RaftPayload = EntryPayload<Proposal, u64, BasicNode>;
/// A Raft membership.
pub type RaftMembership = openraft::Membership<u64, BasicNode>;
/// A membership and the entry that set it.
pub type RaftStoredMembership =
    StoredMembership<openraft::impls::leader_id_adv::LeaderId<u64, u64>, u64, BasicNode>;
/// A snapshot as openraft hands it around: metadata and an open file.
pub type RaftSnapshot = openraft::type_config::alias::SnapshotOf<
    TypeConfig,
    crate::replication::raft::state_machine::SnapshotFile,
>;
/// What a snapshot covers.
pub type RaftSnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<TypeConfig>;
/// A Raft vote.
pub type RaftVote = openraft::impls::Vote<openraft::impls::leader_id_adv::LeaderId<u64, u64>>;

/// What a normal entry carries: a command, shared (entries are cloned as
/// they are replicated, commands are not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal(pub Arc<Command>);

impl fmt::Display for Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "command proposed at {}", self.0.proposed_at)
    }
}

/// The position of `log_id`.
pub fn position(log_id: &RaftLogId) -> LogPosition {
    LogPosition {
        term: log_id.leader_id.term,
        node: log_id.leader_id.node_id,
        index: log_id.index,
    }
}

/// The log id at `position`.
pub fn log_id(position: LogPosition) -> RaftLogId {
    LogId::new(
        openraft::impls::leader_id_adv::LeaderId {
            term: position.term,
            node_id: position.node,
        },
        position.index,
    )
}

/// A Raft entry as the write-ahead log stores it.
pub fn to_log_entry(entry: &RaftEntry) -> LogEntry {
    let payload = match &entry.payload {
        EntryPayload::Blank => Payload::Blank,
        EntryPayload::Normal(proposal) => Payload::Command(proposal.0.clone()),
        EntryPayload::Membership(membership) => Payload::Membership(encode_membership(membership)),
    };
    LogEntry {
        position: position(&entry.log_id),
        payload,
    }
}

/// A stored entry as openraft sees it.
pub fn to_raft_entry(entry: &LogEntry) -> Result<RaftEntry, DecodeError> {
    let payload = match &entry.payload {
        Payload::Blank => EntryPayload::Blank,
        Payload::Command(command) => EntryPayload::Normal(Proposal(command.clone())),
        Payload::Membership(bytes) => EntryPayload::Membership(decode_membership(bytes)?),
    };
    Ok(openraft::Entry {
        log_id: log_id(entry.position),
        payload,
    })
}

/// The bytes of `membership`.
pub fn encode_membership(membership: &RaftMembership) -> Vec<u8> {
    let mut buf = Vec::new();
    let configs = membership.get_joint_config();
    put_u32(&mut buf, configs.len() as u32);
    for config in configs {
        put_u32(&mut buf, config.len() as u32);
        for id in config {
            put_u64(&mut buf, *id);
        }
    }
    let nodes: Vec<_> = membership.nodes().collect();
    put_u32(&mut buf, nodes.len() as u32);
    for (id, node) in nodes {
        put_u64(&mut buf, *id);
        put_str(&mut buf, &node.addr);
    }
    buf
}

/// A membership from the bytes [`encode_membership`] wrote.
pub fn decode_membership(bytes: &[u8]) -> Result<RaftMembership, DecodeError> {
    let mut d = Decoder::new(bytes);
    let count = d.count(4)?;
    let mut configs = Vec::with_capacity(count);
    for _ in 0..count {
        let ids = d.count(8)?;
        let mut config = BTreeSet::new();
        for _ in 0..ids {
            config.insert(d.u64()?);
        }
        configs.push(config);
    }
    let count = d.count(12)?;
    let mut nodes = std::collections::BTreeMap::new();
    for _ in 0..count {
        let id = d.u64()?;
        nodes.insert(id, BasicNode::new(d.str()?));
    }
    let at = d.error("membership");
    d.finish()?;
    RaftMembership::new(configs, nodes).map_err(|err| DecodeError {
        offset: at.offset,
        what: format!("invalid membership: {err}"),
    })
}

/// The store's opaque membership as openraft's.
pub fn stored_membership(membership: &Membership) -> Result<RaftStoredMembership, DecodeError> {
    if membership.config.is_empty() {
        return Ok(RaftStoredMembership::default());
    }
    let decoded = decode_membership(&membership.config)?;
    Ok(StoredMembership::new(membership.at.map(log_id), decoded))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn memberships_round_trip_with_joint_configs_and_learners() {
        let nodes: BTreeMap<u64, BasicNode> = [1, 2, 3, 4]
            .into_iter()
            .map(|id| (id, BasicNode::new(format!("127.0.0.1:{}", 6000 + id))))
            .collect();
        let configs = vec![BTreeSet::from([1, 2, 3]), BTreeSet::from([2, 3])];
        let membership = RaftMembership::new(configs, nodes).unwrap();
        let bytes = encode_membership(&membership);
        assert_eq!(decode_membership(&bytes).unwrap(), membership);
        for cut in 0..bytes.len() {
            assert!(decode_membership(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn positions_and_log_ids_are_the_same_three_numbers() {
        let p = LogPosition {
            term: 3,
            node: 2,
            index: 99,
        };
        assert_eq!(position(&log_id(p)), p);
    }
}
