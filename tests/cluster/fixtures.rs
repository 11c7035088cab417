//! The three ready-made member configurations in `fixtures/cluster/` (what
//! `just cluster` starts) are valid for the worker and form one set: the
//! same peers, each member's own port in its own entry, one log directory
//! each, exactly one bootstrap member.
//!
//! They name fixed ports (55061-55063), so this test only parses them with
//! the worker's own loader; the replica-set tests start the same kind of
//! configuration on ports the OS chose.

use std::{collections::BTreeSet, path::PathBuf};

use distgo_db::config::Config;

fn fixture(n: u64) -> Config {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/cluster/node-{n}.yaml"));
    Config::load(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn the_three_fixtures_are_valid_and_describe_one_set() {
    let configs: Vec<Config> = (1..=3).map(fixture).collect();
    let first = configs[0]
        .cluster
        .as_ref()
        .expect("node 1 has a cluster section");
    let mut wal_paths = BTreeSet::new();
    let mut bootstraps = 0;
    for (n, config) in (1..=3u64).zip(&configs) {
        let cluster = config.cluster.as_ref().expect("a cluster section");
        assert_eq!(cluster.node_id, n, "node-{n}.yaml's node_id");
        assert_eq!(
            cluster.peers, first.peers,
            "node-{n}.yaml names the same peers"
        );
        assert_eq!(
            cluster.peers[&n],
            format!("{}:{}", config.grpc.host, config.grpc.port),
            "node-{n}.yaml's own entry is its own address"
        );
        assert!(
            config.grpc.host.is_loopback(),
            "node-{n}.yaml stays on this machine"
        );
        wal_paths.insert(
            config
                .wal
                .path
                .clone()
                .expect("a replica set needs wal.path"),
        );
        bootstraps += usize::from(cluster.bootstrap);
    }
    assert_eq!(first.peers.len(), 3);
    assert_eq!(wal_paths.len(), 3, "one log directory per member");
    assert_eq!(bootstraps, 1, "exactly one member forms the set");
}
