//! N workers behind the mesh of links. Standalone workers stand in for
//! the members of a replica set: a request sent through link `i → j`
//! must land on node `j`, a restart must keep every link to the node, and
//! the wait for a leader must end (with the reason) when there is none.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use distgo_db::proto::database::{CreateDatabaseRequest, Database};

use crate::harness::{
    HarnessError,
    client::Clients,
    cluster::Cluster,
    config::WorkerConfig,
    network::{MECHANISM, NodeId},
    process::Port,
    state::{diff, read_state},
};

async fn create_database(clients: &Clients, id: &str) -> Result<Database, tonic::Status> {
    let mut databases = clients.databases.clone();
    let request = clients.request(CreateDatabaseRequest {
        database_id: id.into(),
        database: Some(Database {
            display_name: id.into(),
            ..Database::default()
        }),
    });
    clients.call(databases.create_database(request)).await
}

/// The databases a node holds.
async fn databases_of(cluster: &Cluster, id: NodeId) -> BTreeSet<String> {
    let state = read_state(&cluster.clients(id), true).await.unwrap();
    state.into_keys().collect()
}

async fn three() -> Cluster {
    Cluster::start(3, |id, _peers| WorkerConfig::new(format!("node-{id}")))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_through_link_i_to_j_lands_on_node_j() {
    let seen = std::sync::Mutex::new(BTreeMap::new());
    let cluster = Cluster::start(3, |id, peers| {
        seen.lock().unwrap().insert(id, peers.clone());
        WorkerConfig::new(format!("node-{id}"))
    })
    .await
    .unwrap();
    eprintln!("partitions by {MECHANISM}");
    let seen = seen.into_inner().unwrap();
    for id in cluster.ids() {
        let mut expected = cluster.network.peers_of(id);
        // Its own entry: where clients reach it, not a link.
        expected.insert(id, cluster.worker(id).address());
        assert_eq!(seen[&id], expected, "node {id} was told its links");
    }
    for from in cluster.ids() {
        for (to, address) in cluster.network.peers_of(from) {
            let through = Clients::new(address, Duration::from_secs(2));
            create_database(&through, &format!("from-{from}-to-{to}"))
                .await
                .unwrap();
        }
    }
    for id in cluster.ids() {
        let expected: BTreeSet<String> = cluster
            .ids()
            .into_iter()
            .filter(|&from| from != id)
            .map(|from| format!("databases/from-{from}-to-{id}"))
            .collect();
        assert_eq!(databases_of(&cluster, id).await, expected, "node {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_member_is_reached_through_the_same_links() {
    let mut cluster = three().await;
    let link = Clients::new(cluster.network.peers_of(1)[&2], Duration::from_secs(2));
    create_database(&link, "before").await.unwrap();

    cluster.kill(2);
    assert_eq!(cluster.live(), vec![1, 3]);
    let down = create_database(&link, "while-down").await.unwrap_err();
    assert!(
        !crate::harness::client::is_definite(down.code()),
        "{down:?}"
    );

    cluster.restart(2, Port::Same).await.unwrap();
    create_database(&link, "after").await.unwrap();
    // A new port is followed too: the links are re-pointed.
    let old = cluster.worker(2).address();
    cluster.restart(2, Port::Any).await.unwrap();
    let new = cluster.worker(2).address();
    assert_eq!(cluster.network.link(3, 2).target(), Some(new));
    create_database(
        &Clients::new(cluster.network.peers_of(3)[&2], Duration::from_secs(2)),
        "moved",
    )
    .await
    .unwrap();
    let held = databases_of(&cluster, 2).await;
    for db in ["before", "after", "moved"] {
        assert!(
            held.contains(&format!("databases/{db}")),
            "{db} on node 2 ({old} → {new})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_diff_names_what_differs_between_members() {
    let cluster = three().await;
    // The same writes on every standalone member: the same state, except
    // for the commit times each one chose.
    for id in cluster.ids() {
        create_database(&cluster.clients(id), "same").await.unwrap();
    }
    let one = read_state(&cluster.clients(1), true).await.unwrap();
    let two = read_state(&cluster.clients(2), true).await.unwrap();
    assert_eq!(
        one.keys().collect::<Vec<_>>(),
        two.keys().collect::<Vec<_>>()
    );
    let differences = diff(&one, &two, 5);
    assert!(
        differences.contains("~ databases/same"),
        "timestamps differ: {differences}"
    );
    assert_eq!(diff(&one, &one, 5), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_leader_among_standalone_workers_ends_and_says_why() {
    let mut cluster = three().await;
    let started = Instant::now();
    let error = cluster
        .wait_for_leader(Duration::from_millis(600))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "bounded");
    let HarnessError::Timeout { what, .. } = &error else {
        panic!("not a timeout: {error}");
    };
    eprintln!("as expected: {error}");
    assert!(what.contains("last seen"), "{what}");
}
