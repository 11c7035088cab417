//! openraft's metrics, translated for [`crate::metrics`].
//!
//! openraft publishes its state on watch channels. [`RaftNode::sample`]
//! reads the latest value when Prometheus scrapes (nothing runs between
//! scrapes); [`count_elections`] follows the *server* channel, which only
//! changes with the vote, the role or the leader, to count events that a
//! sample taken every 15 seconds would miss.

use openraft::{Raft, type_config::async_runtime::watch::WatchReceiver, vote::RaftLeaderId};

use super::{RaftNode, StateMachine, types::TypeConfig};
use crate::metrics::{ReplicationCounters, ReplicationSample};

impl RaftNode {
    /// Where this member stands now: term, leader, indexes and, on the
    /// leader, every member's lag.
    pub fn sample(&self) -> ReplicationSample {
        let metrics = self.raft.metrics();
        let m = metrics.borrow_watched();
        let last = m.last_log_index.unwrap_or(0);
        let lag = match &m.replication {
            Some(matched) => m
                .membership_config
                .membership()
                .nodes()
                .map(|(id, _)| {
                    let have = match *id == m.id {
                        true => last,
                        false => matched
                            .get(id)
                            .and_then(|l| l.as_ref().map(|l| l.index))
                            .unwrap_or(0),
                    };
                    (*id, last.saturating_sub(have))
                })
                .collect(),
            None => Vec::new(),
        };
        ReplicationSample {
            node_id: m.id,
            term: m.current_term,
            leader: m.current_leader,
            last_log_index: last,
            commit_index: m.local_committed.map_or(0, |c| c.index),
            applied_index: m.last_applied.map_or(0, |a| a.index),
            snapshot_index: m.snapshot.map_or(0, |s| s.index),
            lag,
        }
    }

    /// Elections and leader changes this member has seen.
    pub fn counters(&self) -> &ReplicationCounters {
        &self.counters
    }
}

/// Counts, until the engine stops, the elections member `id` starts (a
/// vote for itself in a newer term) and the leader changes it sees.
pub(super) fn count_elections(
    raft: &Raft<TypeConfig, StateMachine>,
    id: u64,
    counters: ReplicationCounters,
) {
    let mut server = raft.server_metrics();
    let (mut term, mut leader) = {
        let now = server.borrow_watched();
        (now.vote.leader_id().term(), now.current_leader)
    };
    tokio::spawn(async move {
        while server.changed().await.is_ok() {
            let (vote_term, voted_for, now_leader) = {
                let now = server.borrow_watched();
                let vote = now.vote.leader_id();
                (vote.term(), *vote.node_id(), now.current_leader)
            };
            if vote_term > term && voted_for == id {
                counters.election();
            }
            term = term.max(vote_term);
            if now_leader != leader {
                counters.leader_changed();
                leader = now_leader;
            }
        }
    });
}
