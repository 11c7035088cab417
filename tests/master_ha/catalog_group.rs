//! Three masters keep the catalog in their own Raft group.
//!
//! Each master is configured with `wal:` and `cluster:` naming the three
//! masters, so the placements (database → replica set) are a replicated
//! log of theirs, on the worker's own Raft code. Two standalone workers
//! (sets `a` and `b`) register with all three. The test then shows:
//!
//! 1. **Placement is shared.** 100 databases created round-robin through
//!    the three masters with `least_loaded` split exactly 50/50: each
//!    master counts every master's placements, not only its own.
//! 2. **The catalog's leader may die.** Ten times, the master that leads
//!    the catalog group is SIGKILLed while a client creates databases
//!    through the others; the time from the kill to the next acknowledged
//!    CreateDatabase is printed (min/median/max), and the master is
//!    restarted on its port and log.
//! 3. **Nothing is lost when every master dies.** All three are killed and
//!    restarted: every acknowledged database has its placement, naming the
//!    set that really holds it, and is reachable through a master.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::Path,
    time::{Duration, Instant},
};

use distgo_db::proto::{
    database::{
        GetDocumentRequest, ListDatabasesRequest,
        database_service_client::DatabaseServiceClient as WorkerDatabases,
        document_service_client::DocumentServiceClient as CatalogDocuments,
    },
    master::database::{
        CreateDatabaseRequest, Database, GetDatabaseRequest,
        database_service_client::DatabaseServiceClient,
    },
};

use crate::nodes::{
    Node, channel, free_port, leader, log_and_group, master_yaml, wait_for_workers, worker_yaml,
};

/// Member `id` of the catalog group of masters on `ports`.
fn catalog_master_yaml(dir: &Path, id: u64, ports: &[u16; 3]) -> String {
    let name = format!("m{id}");
    master_yaml(dir, &name, ports[id as usize - 1])
        + "  placement: least_loaded\n"
        + &log_and_group(dir, &format!("catalog-{id}"), id, ports)
}

fn start_master(dir: &Path, id: u64, ports: &[u16; 3]) -> Node {
    let name = format!("m{id}");
    let yaml = catalog_master_yaml(dir, id, ports);
    Node::start(env!("CARGO_BIN_EXE_distgo-master"), dir, &name, &yaml)
}

/// Waits (bounded: 20 s) until one master says it leads the catalog.
async fn catalog_leader(ports: &[u16; 3]) -> usize {
    let started = Instant::now();
    loop {
        if let Some(index) = leader(ports).await {
            return index;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no master leads the catalog group"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates database `db` through the masters, starting with
/// `masters[first]` and trying the next one on any error, until it is
/// acknowledged (bounded: 20 s). ALREADY_EXISTS after a failed try means
/// that try did land.
async fn create(masters: &[SocketAddr], first: usize, db: &str) {
    let started = Instant::now();
    let mut next = first;
    while started.elapsed() < Duration::from_secs(20) {
        if let Some(ch) = channel(masters[next % masters.len()]).await {
            let answer = DatabaseServiceClient::new(ch)
                .create_database(CreateDatabaseRequest {
                    database_id: db.into(),
                    database: Some(Database {
                        display_name: db.into(),
                        ..Database::default()
                    }),
                })
                .await;
            match answer {
                Ok(_) => return,
                Err(status) if status.code() == tonic::Code::AlreadyExists => return,
                Err(_) => {}
            }
        }
        next += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("CreateDatabase {db} never acknowledged");
}

/// database id → the set that holds it, asked of each worker directly.
async fn holders(workers: &[(&str, SocketAddr)]) -> BTreeMap<String, String> {
    let mut held = BTreeMap::new();
    for (set, address) in workers {
        let ch = channel(*address).await.unwrap();
        let listed = WorkerDatabases::new(ch)
            .list_databases(ListDatabasesRequest {
                page_size: 1000,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(listed.next_page_token.is_empty(), "more than one page");
        for database in listed.databases {
            let id = database.name.trim_start_matches("databases/").to_owned();
            assert!(held.insert(id, (*set).to_owned()).is_none(), "on two sets");
        }
    }
    held
}

/// The set the catalog names for `db`, read through master `address`.
async fn placement(address: SocketAddr, db: &str) -> String {
    let ch = channel(address).await.unwrap();
    let mut request = tonic::Request::new(GetDocumentRequest {
        name: format!("databases/catalog/collections/placements/documents/{db}"),
    });
    request
        .metadata_mut()
        .insert(distgo_db::master::CATALOG_HEADER, "1".parse().unwrap());
    let document = CatalogDocuments::new(ch)
        .get_document(request)
        .await
        .unwrap_or_else(|status| panic!("no placement for {db}: {status:?}"))
        .into_inner();
    let value: serde_json::Value = serde_json::from_str(&document.value).unwrap();
    value["set"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_masters_keep_every_placement_through_leader_kills_and_a_full_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port(), free_port()];
    let mut masters: Vec<Option<Node>> = (1..=3)
        .map(|id| Some(start_master(dir.path(), id, &ports)))
        .collect();
    let addresses: Vec<SocketAddr> = ports
        .iter()
        .map(|p| SocketAddr::from(([127, 0, 0, 1], *p)))
        .collect();
    let worker_bin = env!("CARGO_BIN_EXE_distgo-worker");
    let workers = [
        Node::start(
            worker_bin,
            dir.path(),
            "a",
            &worker_yaml(dir.path(), "a", &addresses),
        ),
        Node::start(
            worker_bin,
            dir.path(),
            "b",
            &worker_yaml(dir.path(), "b", &addresses),
        ),
    ];
    let sets = [("a", workers[0].address), ("b", workers[1].address)];
    for address in &addresses {
        wait_for_workers(*address, 2).await;
    }
    catalog_leader(&ports).await;

    // 1. least_loaded through three masters: an exact split.
    for n in 0..100 {
        create(&addresses, n, &format!("placed-{n:03}")).await;
    }
    let held = holders(&sets).await;
    let on_a = held.values().filter(|set| *set == "a").count();
    println!(
        "100 databases through 3 masters: {on_a} on set a, {} on set b",
        100 - on_a
    );
    assert_eq!(held.len(), 100, "databases lost: {held:?}");
    assert_eq!(
        on_a, 50,
        "least_loaded did not see the other masters' placements"
    );

    // 2. The catalog's leader killed, ten times.
    let mut pauses = Vec::new();
    for trial in 0..10 {
        let victim = catalog_leader(&ports).await;
        let killed_at = Instant::now();
        if let Some(node) = masters[victim].take() {
            node.kill();
        }
        create(&addresses, victim + 1, &format!("after-kill-{trial}")).await;
        pauses.push(killed_at.elapsed());
        masters[victim] = Some(start_master(dir.path(), victim as u64 + 1, &ports));
        wait_for_workers(addresses[victim], 2).await;
    }
    pauses.sort();
    println!(
        "catalog leader killed, 10 trials, kill -> next acknowledged CreateDatabase: \
         min {:?} median {:?} max {:?}",
        pauses[0], pauses[5], pauses[9]
    );

    // 3. Every master killed and restarted: every placement is on disk.
    for slot in &mut masters {
        if let Some(node) = slot.take() {
            node.kill();
        }
    }
    for (index, slot) in masters.iter_mut().enumerate() {
        *slot = Some(start_master(dir.path(), index as u64 + 1, &ports));
    }
    catalog_leader(&ports).await;
    let held = holders(&sets).await;
    assert_eq!(held.len(), 110, "acknowledged databases lost: {held:?}");
    for (n, (db, set)) in held.iter().enumerate() {
        let through = addresses[n % addresses.len()];
        assert_eq!(&placement(through, db).await, set, "placement of {db}");
    }
    wait_for_workers(addresses[0], 2).await;
    let ch = channel(addresses[0]).await.unwrap();
    for db in held.keys() {
        DatabaseServiceClient::new(ch.clone())
            .get_database(GetDatabaseRequest {
                name: format!("databases/{db}"),
            })
            .await
            .unwrap_or_else(|status| panic!("{db} not routed after the restart: {status:?}"));
    }
}
