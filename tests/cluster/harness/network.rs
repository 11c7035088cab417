//! The network between the members of a replica set: one proxy per
//! directed link.
//!
//! Each member's configuration says how *it* reaches every other member
//! (`cluster.peers`: node id → address). The harness gives node `i`, for
//! each other node `j`, the address of the proxy of link `i → j`, and
//! points that proxy at node `j`. Every message from `i` to `j` then crosses
//! exactly one proxy that belongs to that direction of that pair, and a
//! partition is a choice of which proxies stop:
//!
//! ```text
//!   isolate([1])          1 → 2  drop     2 → 3  pass
//!                         2 → 1  drop     3 → 2  pass
//!   1 | 2 3               1 → 3  drop
//!                         3 → 1  drop
//! ```
//!
//! Directions are separate on purpose: Raft has to survive asymmetric
//! faults too (a node that hears the leader but cannot answer it), and
//! [`Network::set_link`] makes one. Clients are not on these links: they
//! talk to each node directly, so a test can still ask a partitioned member
//! what it thinks (and see it refuse writes).
//!
//! This is the harness's partition mechanism on every machine. Network
//! namespaces with nftables (the other mechanism issue 10 allows) need root
//! and the `nft` tool, which are not everywhere; the proxy needs neither,
//! and [`MECHANISM`] names it for a test's output.

use std::{collections::BTreeMap, net::SocketAddr, time::Duration};

use super::{
    HarnessError,
    proxy::{Mode, Proxy, Stats},
};

/// A member's id, as the replica set's configuration numbers it (from 1:
/// the replication service reports leader 0 for "none known").
pub type NodeId = u64;

/// How partitions are made, for a test to print.
pub const MECHANISM: &str = "a fault-injecting TCP proxy on 127.0.0.1 per directed link";

/// The full mesh of link proxies for a set of nodes.
#[derive(Debug)]
pub struct Network {
    ids: Vec<NodeId>,
    links: BTreeMap<(NodeId, NodeId), Proxy>,
}

impl Network {
    /// Starts a proxy for every ordered pair of distinct `ids`, each
    /// without a target until [`Network::set_address`] names its node.
    pub async fn start(ids: &[NodeId]) -> Result<Network, HarnessError> {
        let mut links = BTreeMap::new();
        for &from in ids {
            for &to in ids.iter().filter(|&&to| to != from) {
                links.insert((from, to), Proxy::start(None).await?);
            }
        }
        Ok(Network {
            ids: ids.to_vec(),
            links,
        })
    }

    /// The nodes, in order.
    pub fn ids(&self) -> &[NodeId] {
        &self.ids
    }

    /// The proxy of link `from → to`. Panics on an unknown pair (a mistake
    /// in the test, not a condition to handle).
    pub fn link(&self, from: NodeId, to: NodeId) -> &Proxy {
        match self.links.get(&(from, to)) {
            Some(proxy) => proxy,
            None => panic!("no link {from} → {to} among nodes {:?}", self.ids),
        }
    }

    /// How `node` reaches each other node: the addresses of its outgoing
    /// link proxies, for its `cluster.peers`.
    pub fn peers_of(&self, node: NodeId) -> BTreeMap<NodeId, SocketAddr> {
        self.links
            .iter()
            .filter(|((from, _), _)| *from == node)
            .map(|((_, to), proxy)| (*to, proxy.address()))
            .collect()
    }

    /// Points every link into `node` at `address` (after it started, or
    /// moved to a new port).
    pub fn set_address(&self, node: NodeId, address: SocketAddr) {
        for ((_, to), proxy) in &self.links {
            if *to == node {
                proxy.set_target(address);
            }
        }
    }

    /// Sets one direction of one link.
    pub fn set_link(&self, from: NodeId, to: NodeId, mode: Mode) {
        self.link(from, to).set_mode(mode);
    }

    /// Delays one direction of one link by `delay` (latency per byte).
    pub fn delay(&self, from: NodeId, to: NodeId, delay: Duration) {
        self.set_link(from, to, Mode::Delay(delay));
    }

    /// Cuts `node` off from every other node, both ways (silence, as a
    /// real partition: [`Mode::Drop`]).
    pub fn partition(&self, node: NodeId) {
        self.isolate(&[node]);
    }

    /// Splits the network in two: `group` and the rest. Links between the
    /// sides drop; links within a side pass (whatever they did before).
    pub fn isolate(&self, group: &[NodeId]) {
        self.isolate_with(group, Mode::Drop);
    }

    /// [`Network::isolate`], blocking the crossing links with `mode`
    /// ([`Mode::Cut`] for resets instead of silence).
    pub fn isolate_with(&self, group: &[NodeId], mode: Mode) {
        for ((from, to), proxy) in &self.links {
            let crossing = group.contains(from) != group.contains(to);
            proxy.set_mode(if crossing { mode } else { Mode::Pass });
        }
    }

    /// Every link passes again; held bytes flow on.
    pub fn heal(&self) {
        for proxy in self.links.values() {
            proxy.set_mode(Mode::Pass);
        }
    }

    /// Each link's mode.
    pub fn modes(&self) -> BTreeMap<(NodeId, NodeId), Mode> {
        self.links
            .iter()
            .map(|(link, proxy)| (*link, proxy.mode()))
            .collect()
    }

    /// Each link's byte and connection counts.
    pub fn stats(&self) -> BTreeMap<(NodeId, NodeId), Stats> {
        self.links
            .iter()
            .map(|(link, proxy)| (*link, proxy.stats()))
            .collect()
    }

    /// One line per link that does not pass, e.g. `1→2 Drop`; "all links
    /// pass" when healthy. For a test's progress output.
    pub fn describe(&self) -> String {
        let faults: Vec<String> = self
            .modes()
            .into_iter()
            .filter(|(_, mode)| *mode != Mode::Pass)
            .map(|((from, to), mode)| format!("{from}→{to} {mode:?}"))
            .collect();
        if faults.is_empty() {
            "all links pass".into()
        } else {
            faults.join(", ")
        }
    }
}
