//! Replication: where this member stands in its replica set.
//!
//! openraft keeps a watch channel of its own metrics (term, leader, log
//! indexes, how far each follower has matched the leader's log). A scrape
//! reads its latest value, so replication costs nothing between scrapes;
//! `src/replication/raft/` turns it into a plain [`ReplicationSample`], so
//! no openraft type leaks out of that module. Elections and leader changes
//! are events, not state: a task in the same module watches openraft's
//! *server* metrics (which change only with the vote, the role or the
//! leader, not with every entry) and counts them in
//! [`ReplicationCounters`].
//!
//! Lag is in entries: a follower's lag is the leader's last log index
//! minus the index the follower has matched. Only the leader knows it, so
//! only the leader reports `distgo_raft_peer_lag_entries` (its own lag is
//! 0 by definition and is reported too, so a set of one has the series).

use std::fmt;

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{MetricType, counter::Counter, gauge::ConstGauge},
    registry::Registry,
};

use super::storage::gauge;
use crate::replication::raft::RaftNode;

/// What a member knows of its set, at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplicationSample {
    /// This member's id.
    pub node_id: u64,
    /// The current term.
    pub term: u64,
    /// The leader's id, if one is known.
    pub leader: Option<u64>,
    /// The index of the last entry in this member's log.
    pub last_log_index: u64,
    /// The highest index this member knows to be committed.
    pub commit_index: u64,
    /// The highest index applied to this member's store.
    pub applied_index: u64,
    /// The index the newest snapshot covers.
    pub snapshot_index: u64,
    /// On the leader: every member's lag in entries, itself included.
    pub lag: Vec<(u64, u64)>,
}

/// Elections and leader changes, counted by the member's watcher task.
#[derive(Clone, Debug, Default)]
pub struct ReplicationCounters {
    elections: Counter,
    leader_changes: Counter,
}

impl ReplicationCounters {
    /// This member started an election (voted for itself in a new term).
    pub fn election(&self) {
        self.elections.inc();
    }

    /// This member saw the leader change (including to "none").
    pub fn leader_changed(&self) {
        self.leader_changes.inc();
    }

    fn register(&self, registry: &mut Registry) {
        registry.register(
            "raft_elections",
            "Elections this member started",
            self.elections.clone(),
        );
        registry.register(
            "raft_leader_changes",
            "Changes of leader this member has seen",
            self.leader_changes.clone(),
        );
    }
}

/// Registers a member's counters and the collector of its samples.
pub(super) fn register(registry: &mut Registry, node: &RaftNode) {
    node.counters().register(registry);
    registry.register_collector(Box::new(SampleCollector { node: node.clone() }));
}

/// Reads a [`ReplicationSample`] at scrape time.
struct SampleCollector {
    node: RaftNode,
}

impl fmt::Debug for SampleCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SampleCollector").finish_non_exhaustive()
    }
}

impl Collector for SampleCollector {
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        encode(&self.node.sample(), encoder)
    }
}

fn encode(sample: &ReplicationSample, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
    let e = &mut encoder;
    gauge(e, "raft_term", "The current Raft term", None, sample.term)?;
    let leads = u64::from(sample.leader == Some(sample.node_id));
    gauge(
        e,
        "raft_leader",
        "1 while this member leads its set",
        None,
        leads,
    )?;
    let help = "The id of the leader this member knows, 0 when none";
    gauge(e, "raft_leader_id", help, None, sample.leader.unwrap_or(0))?;
    let help = "Index of the last entry in this member's log";
    gauge(e, "raft_last_log_index", help, None, sample.last_log_index)?;
    let help = "Highest index this member knows to be committed";
    gauge(e, "raft_commit_index", help, None, sample.commit_index)?;
    let help = "Highest index applied to this member's store";
    gauge(e, "raft_apply_index", help, None, sample.applied_index)?;
    let help = "Index covered by this member's newest snapshot";
    gauge(e, "raft_snapshot_index", help, None, sample.snapshot_index)?;
    if sample.lag.is_empty() {
        return Ok(());
    }
    let help = "On the leader: entries each member lacks of the leader's log";
    let mut family =
        encoder.encode_descriptor("raft_peer_lag_entries", help, None, MetricType::Gauge)?;
    for (peer, lag) in &sample.lag {
        let peer = peer.to_string();
        let labels = [("peer", peer.as_str())];
        let metric = ConstGauge::new(i64::try_from(*lag).unwrap_or(i64::MAX));
        metric.encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode_registry;

    use super::*;

    #[derive(Debug)]
    struct Fixed(ReplicationSample);

    impl Collector for Fixed {
        fn encode(&self, encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
            encode(&self.0, encoder)
        }
    }

    #[test]
    fn a_leader_reports_the_lag_of_every_member() {
        let mut registry = Registry::with_prefix("distgo");
        registry.register_collector(Box::new(Fixed(ReplicationSample {
            node_id: 1,
            term: 3,
            leader: Some(1),
            last_log_index: 10,
            commit_index: 9,
            applied_index: 8,
            snapshot_index: 0,
            lag: vec![(1, 0), (2, 4)],
        })));
        let mut text = String::new();
        encode_registry(&mut text, &registry).unwrap();
        for line in [
            "distgo_raft_term 3",
            "distgo_raft_leader 1",
            "distgo_raft_apply_index 8",
            "distgo_raft_peer_lag_entries{peer=\"1\"} 0",
            "distgo_raft_peer_lag_entries{peer=\"2\"} 4",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }
}
