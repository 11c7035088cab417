//! The mesh of links: node `i` reaches node `j` through the proxy of link
//! `i → j`, and a partition is a choice of links that stop. Plain TCP
//! servers that greet with their node id stand in for workers.

use std::{collections::BTreeMap, time::Duration};

use tokio::{io::AsyncWriteExt, net::TcpStream};

use crate::{
    harness::{
        network::{Network, NodeId},
        proxy::Mode,
    },
    tcp::{Server, anything_within, greeting, node_server, read_exactly},
};

async fn mesh(n: u64) -> (Vec<Server>, Network) {
    let ids: Vec<NodeId> = (1..=n).collect();
    let network = Network::start(&ids).await.unwrap();
    let mut servers = Vec::new();
    for &id in &ids {
        let server = node_server(id).await;
        network.set_address(id, server.address);
        servers.push(server);
    }
    (servers, network)
}

/// Whether `from` reaches `to` through its link: a greeting arrives in time.
async fn reaches(network: &Network, from: NodeId, to: NodeId) -> bool {
    let peers = network.peers_of(from);
    let mut stream = TcpStream::connect(peers[&to]).await.unwrap();
    anything_within(&mut stream, Duration::from_millis(300)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_link_leads_to_its_own_node() {
    let (_servers, network) = mesh(3).await;
    for from in 1..=3 {
        let peers: BTreeMap<NodeId, _> = network.peers_of(from);
        assert_eq!(peers.keys().copied().collect::<Vec<_>>(), others(from, 3));
        for (&to, &address) in &peers {
            assert_eq!(address, network.link(from, to).address());
            let mut stream = TcpStream::connect(address).await.unwrap();
            assert_eq!(greeting(&mut stream).await, format!("node {to}"));
        }
    }
    assert_eq!(
        network.stats().len(),
        6,
        "one proxy per direction of each pair"
    );
}

fn others(node: NodeId, n: u64) -> Vec<NodeId> {
    (1..=n).filter(|&id| id != node).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_cuts_a_node_off_both_ways_until_healed() {
    let (_servers, network) = mesh(3).await;
    network.partition(1);
    for other in [2, 3] {
        assert_eq!(network.link(1, other).mode(), Mode::Drop);
        assert_eq!(network.link(other, 1).mode(), Mode::Drop);
        assert!(!reaches(&network, 1, other).await, "1 → {other} is silent");
        assert!(!reaches(&network, other, 1).await, "{other} → 1 is silent");
    }
    assert!(reaches(&network, 2, 3).await, "the majority still talks");
    assert!(reaches(&network, 3, 2).await);
    assert_eq!(network.describe(), "1→2 Drop, 1→3 Drop, 2→1 Drop, 3→1 Drop");

    network.heal();
    assert_eq!(network.describe(), "all links pass");
    assert!(reaches(&network, 1, 2).await);
    assert!(reaches(&network, 3, 1).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolate_splits_the_set_into_two_sides_that_each_still_talk() {
    let (_servers, network) = mesh(5).await;
    network.delay(4, 5, Duration::from_millis(10));
    network.isolate(&[1, 2]);
    for ((from, to), mode) in network.modes() {
        let crossing = (from <= 2) != (to <= 2);
        let expected = if crossing { Mode::Drop } else { Mode::Pass };
        assert_eq!(mode, expected, "link {from} → {to}");
    }
    assert!(reaches(&network, 1, 2).await, "inside the minority");
    assert!(reaches(&network, 5, 3).await, "inside the majority");
    assert!(!reaches(&network, 2, 3).await, "across");

    network.isolate_with(&[5], Mode::Cut);
    assert_eq!(network.link(5, 1).mode(), Mode::Cut);
    assert_eq!(
        network.link(1, 2).mode(),
        Mode::Pass,
        "the earlier split is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_way_fault_leaves_the_other_direction_alone() {
    let (_servers, network) = mesh(2).await;
    network.set_link(1, 2, Mode::Drop);
    assert!(!reaches(&network, 1, 2).await);
    assert!(reaches(&network, 2, 1).await, "2 still reaches 1");

    network.heal();
    network.delay(2, 1, Duration::from_millis(200));
    let mut stream = TcpStream::connect(network.peers_of(2)[&1]).await.unwrap();
    assert_eq!(greeting(&mut stream).await, "node 1");
    let started = std::time::Instant::now();
    stream.write_all(b"x").await.unwrap();
    read_exactly(&mut stream, 1).await;
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "delayed there and back"
    );
}
