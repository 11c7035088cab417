//! N workers wired through a [`Network`]: what a replica-set scenario
//! starts with.
//!
//! [`Cluster::start`] creates the link proxies first, so that each node's
//! configuration can name, for every peer, the proxy of its link to it;
//! then it starts the workers, and points each node's incoming links at
//! the address the node reported. The caller builds each node's
//! [`WorkerConfig`] (with its `cluster:` section) from the node's id and
//! its peers' link addresses:
//!
//! ```text
//!   Cluster::start(3, |id, peers| {
//!       WorkerConfig::new(format!("node-{id}")).section(&cluster_yaml(id, peers))
//!   })
//! ```
//!
//! **Each node's own entry.** A member's `cluster.peers` must name the
//! member itself too: that entry is the address it announces to the set
//! (stored in the replicated membership, and sent to clients in the
//! `distgo-leader` trailer), so it must be where *clients* reach it, not
//! a link proxy. The worker cannot report its port before its
//! configuration exists, so the harness asks the OS for a free port first
//! ([`ports::free_port`]), gives `peers[id]` = `127.0.0.1:<that port>` and
//! starts the node on it; should the port be taken in between, it starts
//! again on another one (only the node's own configuration names it).
//! [`replica_set`](super::replica_set) builds the whole `cluster:` section.
//!
//! A restart keeps the node's port ([`Port::Same`]), so its peers' proxies
//! and the clients' channels keep working; should the port change anyway
//! (the caller asked for [`Port::Any`]), the proxies are re-pointed and
//! the node's clients rebuilt.
//!
//! **Who leads.** [`Cluster::wait_for_leader`] polls every running
//! member's `ReplicationService.Status` until a majority agree on one
//! leader in one term, and that leader says so itself ([`agreed_leader`]).

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use distgo_db::proto::replication::{StatusRequest, StatusResponse};
use tonic::Status;

use super::{
    HarnessError,
    client::Clients,
    config::WorkerConfig,
    network::{Network, NodeId},
    ports,
    process::{Port, Worker},
};

/// The deadline of the harness's own requests (status, state reads).
pub const DEADLINE: Duration = Duration::from_secs(2);
/// How often a wait for a leader polls.
const LEADER_POLL: Duration = Duration::from_millis(50);
/// How many free ports a first start tries before giving up.
const PORT_TRIES: usize = 3;

/// A set of workers, ids 1..=N, and the network between them. Dropping it
/// kills every worker and closes every link.
#[derive(Debug)]
pub struct Cluster {
    /// The link proxies between the members.
    pub network: Network,
    workers: BTreeMap<NodeId, Worker>,
    clients: BTreeMap<NodeId, Clients>,
    /// How many members vote: a leader needs a majority of these.
    voters: usize,
}

impl Cluster {
    /// Starts `n` workers; `configure(id, peers)` gives node `id`'s
    /// configuration, `peers` being how it reaches each other node (a link
    /// proxy) and, under its own id, its own address (see the module docs).
    pub async fn start(
        n: usize,
        configure: impl Fn(NodeId, &BTreeMap<NodeId, SocketAddr>) -> WorkerConfig,
    ) -> Result<Cluster, HarnessError> {
        let ids: Vec<NodeId> = (1..=n as NodeId).collect();
        let network = Network::start(&ids).await?;
        let configure = &configure;
        let network_ref = &network;
        // Started side by side: a bootstrap member waits for its peers.
        let starting = ids.iter().map(|&id| async move {
            let mut last = None;
            for _ in 0..PORT_TRIES {
                let port = ports::free_port()?;
                let mut peers = network_ref.peers_of(id);
                peers.insert(id, ports::loopback(port));
                match Worker::start(configure(id, &peers).port(port)).await {
                    Err(HarnessError::Start { logs, .. }) if logs.contains("cannot listen") => {
                        last = Some(logs);
                    }
                    other => return other,
                }
            }
            Err(HarnessError::Start {
                name: format!("node {id}"),
                reason: format!("{PORT_TRIES} free ports were taken before it bound them"),
                logs: last.unwrap_or_default(),
            })
        });
        let started = futures_util::future::join_all(starting).await;
        let mut workers = BTreeMap::new();
        let mut failure = None;
        for (id, start) in ids.iter().copied().zip(started) {
            match start {
                Ok(worker) => {
                    workers.insert(id, worker);
                }
                Err(err) => failure = failure.or(Some(err)),
            }
        }
        if let Some(err) = failure {
            // The workers that did start are killed as `workers` drops.
            return Err(err);
        }
        let voters = workers.len();
        let mut cluster = Cluster {
            network,
            workers,
            clients: BTreeMap::new(),
            voters,
        };
        for id in ids {
            cluster.connect(id);
        }
        Ok(cluster)
    }

    /// Points the links into `id` at its address, and (re)makes its clients.
    fn connect(&mut self, id: NodeId) {
        let address = self.worker(id).address();
        self.network.set_address(id, address);
        self.clients.insert(id, Clients::new(address, DEADLINE));
    }

    /// Sets how many members vote (all of them, unless some started
    /// outside the set, or a membership change moved the count).
    pub fn set_voters(&mut self, voters: usize) {
        self.voters = voters;
    }

    /// The members' ids, in order.
    pub fn ids(&self) -> Vec<NodeId> {
        self.workers.keys().copied().collect()
    }

    /// Node `id`'s worker. Panics on an unknown id (a test's mistake).
    pub fn worker(&self, id: NodeId) -> &Worker {
        match self.workers.get(&id) {
            Some(worker) => worker,
            None => panic!("no node {id} in {:?}", self.ids()),
        }
    }

    /// Node `id`'s worker, to signal it.
    pub fn worker_mut(&mut self, id: NodeId) -> &mut Worker {
        let ids = self.ids();
        match self.workers.get_mut(&id) {
            Some(worker) => worker,
            None => panic!("no node {id} in {ids:?}"),
        }
    }

    /// Clients talking to node `id` directly (not through the links).
    pub fn clients(&self, id: NodeId) -> Clients {
        match self.clients.get(&id) {
            Some(clients) => clients.clone(),
            None => panic!("no node {id} in {:?}", self.ids()),
        }
    }

    /// Clients of every member, in id order.
    pub fn all_clients(&self) -> Vec<Clients> {
        self.clients.values().cloned().collect()
    }

    /// Crashes node `id` (SIGKILL).
    pub fn kill(&mut self, id: NodeId) {
        self.worker_mut(id).kill();
    }

    /// Restarts node `id` on its directory and port; re-points its links
    /// and clients if the port changed.
    pub async fn restart(&mut self, id: NodeId, port: Port) -> Result<(), HarnessError> {
        let before = self.worker(id).address();
        self.worker_mut(id).restart(port).await?;
        if self.worker(id).address() != before {
            self.connect(id);
        }
        Ok(())
    }

    /// The ids of the members whose process runs and is not paused.
    pub fn live(&mut self) -> Vec<NodeId> {
        self.workers
            .iter_mut()
            .filter_map(|(id, worker)| (worker.is_running() && !worker.is_paused()).then_some(*id))
            .collect()
    }

    /// Node `id`'s own view of the set.
    pub async fn status(&self, id: NodeId) -> Result<StatusResponse, Status> {
        let clients = self.clients(id);
        let mut replication = clients.replication.clone();
        clients
            .call(replication.status(clients.request(StatusRequest {})))
            .await
    }

    /// Polls the live members' status until a majority of the voters
    /// agree on a leader (see [`agreed_leader`]), for at most `within`.
    pub async fn wait_for_leader(&mut self, within: Duration) -> Result<NodeId, HarnessError> {
        self.wait_for_leader_other_than(None, within).await
    }

    /// [`Cluster::wait_for_leader`], passing over `old`: after a leader is
    /// cut off, its followers keep naming it until their election timeout,
    /// and it keeps saying it leads, so "a majority agree on a leader"
    /// holds for the old one for a while.
    pub async fn wait_for_leader_other_than(
        &mut self,
        old: Option<NodeId>,
        within: Duration,
    ) -> Result<NodeId, HarnessError> {
        let deadline = Instant::now() + within;
        let mut last = String::from("no member answered");
        loop {
            let mut statuses = BTreeMap::new();
            for id in self.live() {
                match self.status(id).await {
                    Ok(status) => {
                        statuses.insert(id, status);
                    }
                    Err(err) => last = format!("node {id}: {:?}: {}", err.code(), err.message()),
                }
            }
            match agreed_leader(&statuses, self.voters) {
                Some((leader, _term)) if Some(leader) != old => return Ok(leader),
                _ => {}
            }
            if !statuses.is_empty() {
                last = describe(&statuses);
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::Timeout {
                    what: format!(
                        "a leader agreed by a majority{} (last seen: {last})",
                        old.map_or(String::new(), |old| format!(", other than {old}"))
                    ),
                    after: within,
                });
            }
            tokio::time::sleep(LEADER_POLL).await;
        }
    }

    /// Polls node `id`'s status until `done` holds, for at most `within`;
    /// the last status seen either way.
    pub async fn wait_for_status(
        &self,
        id: NodeId,
        within: Duration,
        done: impl Fn(&StatusResponse) -> bool,
    ) -> Result<StatusResponse, HarnessError> {
        let deadline = Instant::now() + within;
        loop {
            let last = match self.status(id).await {
                Ok(status) if done(&status) => return Ok(status),
                Ok(status) => format!("{status:?}"),
                Err(err) => format!("{:?}: {}", err.code(), err.message()),
            };
            if Instant::now() >= deadline {
                return Err(HarnessError::Timeout {
                    what: format!("node {id}'s status (last: {last})"),
                    after: within,
                });
            }
            tokio::time::sleep(LEADER_POLL).await;
        }
    }

    /// Prints every member's log tail (call it when a scenario fails; a
    /// panic prints them anyway as the workers drop).
    pub fn print_logs(&self) {
        for worker in self.workers.values() {
            worker.print_log_tail();
        }
        eprintln!("network: {}", self.network.describe());
    }
}

/// The leader a majority of a set of `members` agree on: `Some((leader,
/// term))` when more than half of all members report `leader_id` =
/// `leader` in `term`, and `leader` itself reports state `leader` in that
/// term. Members that did not answer count against: a majority is of the
/// whole set, not of those that answered.
pub fn agreed_leader(
    statuses: &BTreeMap<NodeId, StatusResponse>,
    members: usize,
) -> Option<(NodeId, u64)> {
    // An old leader cut off by a partition may still think it leads, in
    // an older term: each claimant is weighed, not just the first.
    statuses
        .values()
        .filter(|status| status.state == "leader")
        .map(|status| (status.node_id, status.term))
        .find(|&(leader, term)| {
            let agreeing = statuses
                .values()
                .filter(|status| status.leader_id == leader && status.term == term)
                .count();
            agreeing > members / 2
        })
}

fn describe(statuses: &BTreeMap<NodeId, StatusResponse>) -> String {
    statuses
        .iter()
        .map(|(id, s)| format!("{id}: {} term {} leader {}", s.state, s.term, s.leader_id))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(node_id: NodeId, state: &str, term: u64, leader_id: NodeId) -> StatusResponse {
        StatusResponse {
            node_id,
            state: state.into(),
            term,
            leader_id,
            ..StatusResponse::default()
        }
    }

    fn of(statuses: Vec<StatusResponse>) -> BTreeMap<NodeId, StatusResponse> {
        statuses.into_iter().map(|s| (s.node_id, s)).collect()
    }

    #[test]
    fn a_leader_counts_once_a_majority_of_the_whole_set_follows_it() {
        let three = of(vec![
            status(1, "follower", 4, 2),
            status(2, "leader", 4, 2),
            status(3, "candidate", 5, 0),
        ]);
        assert_eq!(agreed_leader(&three, 3), Some((2, 4)));
        // The same two answers in a set of five are not a majority.
        let two: BTreeMap<_, _> = three.into_iter().filter(|(id, _)| *id != 3).collect();
        assert_eq!(agreed_leader(&two, 5), None);
    }

    #[test]
    fn followers_of_an_older_term_do_not_make_a_leader() {
        // Node 1 still believes in node 2's term 3; node 2 leads term 4.
        let statuses = of(vec![status(1, "follower", 3, 2), status(2, "leader", 4, 2)]);
        assert_eq!(agreed_leader(&statuses, 3), None);
    }

    #[test]
    fn a_deposed_leader_that_still_claims_to_lead_is_passed_over() {
        let statuses = of(vec![
            status(1, "leader", 3, 1),
            status(2, "leader", 4, 2),
            status(3, "follower", 4, 2),
        ]);
        assert_eq!(agreed_leader(&statuses, 3), Some((2, 4)));
    }

    #[test]
    fn followers_alone_do_not_make_a_leader() {
        // Two members name node 3, which did not answer (or no longer leads).
        let statuses = of(vec![
            status(1, "follower", 2, 3),
            status(2, "follower", 2, 3),
        ]);
        assert_eq!(agreed_leader(&statuses, 3), None);
    }
}
