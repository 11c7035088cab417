//! The ready-made configurations are valid and fit together: the three
//! members of `fixtures/cluster/` (what `just cluster` starts) form one
//! set, and `fixtures/cluster/full/` (what `just cluster full` starts) holds
//! two such sets, `a` and `b`, that register with exactly the three masters
//! of `fixtures/master/catalog/`, whose `master.sets` name exactly their
//! members. In each set: the same peers, each member's own port in its own
//! entry, one log directory each, exactly one bootstrap member.
//!
//! They name fixed ports, so this test only parses them with the nodes' own
//! loaders; the replica-set tests start the same kind of configuration on
//! ports the OS chose.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
};

use distgo_db::{config::Config, master::MasterConfig};

fn path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn fixture(relative: &str) -> Config {
    let path = path(relative);
    Config::load(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Checks that `configs` (members 1, 2, 3 in order) form one set, and
/// returns its members' addresses.
fn one_set(configs: &[Config], label: &str) -> BTreeSet<String> {
    let first = configs[0]
        .cluster
        .as_ref()
        .expect("member 1 has a cluster section");
    let mut wal_paths = BTreeSet::new();
    let mut bootstraps = 0;
    for (n, config) in (1..=3u64).zip(configs) {
        let cluster = config.cluster.as_ref().expect("a cluster section");
        assert_eq!(cluster.node_id, n, "{label} member {n}'s node_id");
        assert_eq!(
            cluster.peers, first.peers,
            "{label} member {n} names the same peers"
        );
        assert_eq!(
            cluster.peers[&n],
            format!("{}:{}", config.grpc.host, config.grpc.port),
            "{label} member {n}'s own entry is its own address"
        );
        assert!(
            config.grpc.host.is_loopback(),
            "{label} member {n} stays on this machine"
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
    assert_eq!(wal_paths.len(), 3, "{label}: one log directory per member");
    assert_eq!(bootstraps, 1, "{label}: exactly one member forms the set");
    first.peers.values().cloned().collect()
}

#[test]
fn the_three_fixtures_are_valid_and_describe_one_set() {
    let configs: Vec<Config> = (1..=3)
        .map(|n| fixture(&format!("fixtures/cluster/node-{n}.yaml")))
        .collect();
    one_set(&configs, "fixtures/cluster");
}

#[test]
fn the_full_cluster_is_two_sets_behind_the_three_catalog_masters() {
    let masters: Vec<MasterConfig> = (1..=3)
        .map(|n| {
            let path = path(&format!("fixtures/master/catalog/master-{n}.yaml"));
            MasterConfig::load(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        })
        .collect();
    let master_addresses: Vec<String> = masters
        .iter()
        .map(|m| format!("{}:{}", m.grpc.host, m.grpc.port))
        .collect();
    let mut sets = BTreeMap::new();
    for set in ["a", "b"] {
        let configs: Vec<Config> = (1..=3)
            .map(|n| fixture(&format!("fixtures/cluster/full/{set}-{n}.yaml")))
            .collect();
        for config in &configs {
            let link = config.master.as_ref().expect("registers with the masters");
            assert_eq!(link.set.as_deref(), Some(set), "{}", config.name);
            assert_eq!(link.addresses, master_addresses, "{}", config.name);
        }
        sets.insert(set.to_owned(), one_set(&configs, set));
    }
    for master in &masters {
        let named: BTreeMap<String, BTreeSet<String>> = master
            .master
            .sets
            .iter()
            .map(|(name, members)| (name.clone(), members.iter().cloned().collect()))
            .collect();
        assert_eq!(named, sets, "{}'s master.sets", master.name);
    }
}
