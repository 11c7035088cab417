//! A real replica set on the harness: every node's `cluster:` section,
//! the wait for a leader, and the comparison of what each member holds.
//!
//! ```text
//!   node 1 (bootstrap)         node 2                   node 3
//!   cluster:                   cluster:                 cluster:
//!     node_id: 1                 node_id: 2               node_id: 3
//!     peers:                     peers:                   peers:
//!       1: itself  ◀─clients      1: link 2→1              1: link 3→1
//!       2: link 1→2               2: itself                2: link 3→2
//!       3: link 1→3               3: link 2→3              3: itself
//!     bootstrap: true
//! ```
//!
//! Each node reaches every other one through the proxy of that link, so a
//! partition is a matter of proxies ([`super::network`]); its own entry is
//! its real address, the one it announces to the set and to clients (see
//! [`super::cluster`]). Node 1 forms the set from its map at its first
//! start; the others wait to be contacted. Nodes with an id above
//! [`SetConfig::voters`] start outside the set (learners to be added by
//! a test): the voters' maps leave them out, so the set they form does not
//! count them, and reach them at the address they announce when added.
//!
//! **Timing.** A test set runs on two busy cores with debug builds, so
//! the defaults are quick but not twitchy: a heartbeat every 50 ms and
//! elections after 300-600 ms of silence. A failover takes about two
//! timeouts, not one (the first candidate's pre-vote is refused while the
//! other follower's lease, as long as the longest timeout, lasts), so at
//! 400-800 ms a kill cost 1.4-2.05 s (median 1.63 s over 10 kills) and at
//! 300-600 ms 0.99-1.37 s (median 1.12 s over 20). Shorter timeouts make a
//! loaded machine hold spurious elections.
//!
//! **Equal members.** After the faults stop, [`wait_for_equal_states`]
//! reads every member's *own* state (`distgo-read: local`, else a
//! follower would answer with the leader's data) until they agree or a
//! bound passes, and returns a diff when they do not.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    net::SocketAddr,
    time::{Duration, Instant},
};

use super::{
    HarnessError, POLL,
    cluster::Cluster,
    config::WorkerConfig,
    network::NodeId,
    state::{State, diff, digest, read_state},
};

/// How long a new set may take to elect its first leader (debug builds,
/// two cores, three processes starting at once).
pub const FIRST_LEADER: Duration = Duration::from_secs(20);

/// What the members of a test set share.
#[derive(Clone, Debug)]
pub struct SetConfig {
    /// `cluster.heartbeat`.
    pub heartbeat: String,
    /// `cluster.election_timeout`.
    pub election_timeout: String,
    /// `cluster.snapshot_entries`.
    pub snapshot_entries: u64,
    /// `grpc.timeout`: the longest a request (and a forwarded write) runs.
    pub grpc_timeout: String,
    /// How many nodes (ids 1..=voters) form the set; higher ids start
    /// outside it.
    pub voters: usize,
    /// `logging.level`.
    pub log_level: String,
}

impl Default for SetConfig {
    fn default() -> SetConfig {
        SetConfig {
            heartbeat: "50ms".into(),
            election_timeout: "300ms..600ms".into(),
            snapshot_entries: 10_000,
            grpc_timeout: "2s".into(),
            voters: 3,
            log_level: "info".into(),
        }
    }
}

impl SetConfig {
    /// Node `id`'s `cluster:` section; `peers` as [`Cluster::start`]
    /// gives them (links to the others, its own address under `id`).
    pub fn section(&self, id: NodeId, peers: &BTreeMap<NodeId, SocketAddr>) -> String {
        let joined = |peer: NodeId| peer as usize <= self.voters;
        let mut yaml = format!("cluster:\n  node_id: {id}\n  peers:\n");
        for (peer, address) in peers {
            // A voter's map names the voters only: node 1 forms the set
            // from its map, and a node outside it must not be counted.
            if joined(*peer) || *peer == id || !joined(id) {
                let _ = writeln!(yaml, "    {peer}: {address}");
            }
        }
        let _ = write!(
            yaml,
            "  bootstrap: {bootstrap}\n  heartbeat: {heartbeat}\n  \
             election_timeout: {election}\n  snapshot_entries: {entries}\n",
            bootstrap = id == 1,
            heartbeat = self.heartbeat,
            election = self.election_timeout,
            entries = self.snapshot_entries,
        );
        yaml
    }

    /// Node `id`'s whole configuration (durable: a replica set needs
    /// `wal.path`, which the harness puts in the node's directory).
    pub fn worker(&self, id: NodeId, peers: &BTreeMap<NodeId, SocketAddr>) -> WorkerConfig {
        WorkerConfig::new(format!("node-{id}"))
            .log_level(&self.log_level)
            .grpc_timeout(&self.grpc_timeout)
            .section(&self.section(id, peers))
    }

    /// Starts `nodes` nodes (ids 1..=nodes) and waits until the voters
    /// agree on a leader. Returns the set and its first leader.
    pub async fn start(&self, nodes: usize) -> Result<(Cluster, NodeId), HarnessError> {
        let mut cluster = Cluster::start(nodes, |id, peers| self.worker(id, peers)).await?;
        cluster.set_voters(self.voters);
        let leader = cluster.wait_for_leader(FIRST_LEADER).await?;
        Ok((cluster, leader))
    }
}

/// Reads each of `members`' own state until all are equal (they apply the
/// same log, some later than others), for at most `within`. Returns the
/// common state, or a description of how the members differ.
pub async fn wait_for_equal_states(
    cluster: &Cluster,
    members: &[NodeId],
    within: Duration,
) -> Result<State, String> {
    let deadline = Instant::now() + within;
    let mut last = String::new();
    loop {
        let mut states = Vec::new();
        for &id in members {
            match read_state(&cluster.clients(id), true).await {
                Ok(state) => states.push((id, state)),
                Err(err) => {
                    last = format!("node {id}: {:?}: {}", err.code(), err.message());
                    break;
                }
            }
        }
        if states.len() == members.len() {
            let (first, reference) = &states[0];
            let differing: Vec<String> = states[1..]
                .iter()
                .filter(|(_, state)| state != reference)
                .map(|(id, state)| {
                    format!(
                        "node {first} vs node {id} ({} vs {} resources):\n{}",
                        reference.len(),
                        state.len(),
                        diff(reference, state, 5)
                    )
                })
                .collect();
            if differing.is_empty() {
                let digests: Vec<String> = states
                    .iter()
                    .map(|(id, state)| format!("{id}: {:016x}", digest(state)))
                    .collect();
                eprintln!(
                    "members {members:?} hold equal states: {} resources, digests {}",
                    reference.len(),
                    digests.join(", ")
                );
                return Ok(states.swap_remove(0).1);
            }
            last = differing.join("\n");
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "members {members:?} still differ after {within:?}:\n{last}"
            ));
        }
        tokio::time::sleep(POLL * 10).await;
    }
}
