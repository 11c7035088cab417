//! Masters and set leaders killed under load: a client of the master
//! sees at most one retry, and nothing acknowledged is lost.
//!
//! In the first test two standalone `distgo-worker` processes (sets `a`
//! and `b`) register with two `distgo-master` processes, which know no set
//! from their configuration: everything they route to, they learned from
//! registrations. A client writes documents, always to the master it last
//! reached and to the other one when that fails. Ten times, the master in
//! use is SIGKILLed and restarted on its port: the client's first
//! acknowledged write after each kill measures the failover. At the end
//! both masters are killed and restarted: every acknowledged write and
//! every placement must still be there (these masters have no catalog
//! group: each keeps its catalog in memory and finds again, by asking the
//! sets, what it forgot; the workers register again).

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use distgo_db::proto::master::{
    cluster::{ListWorkersRequest, cluster_service_client::ClusterServiceClient},
    database::{
        CreateCollectionRequest, CreateDatabaseRequest, CreateDocumentRequest, Database, Document,
        ListDocumentsRequest, collection_service_client::CollectionServiceClient,
        database_service_client::DatabaseServiceClient,
        document_service_client::DocumentServiceClient,
    },
};
use tonic::transport::Endpoint;

use crate::nodes::{
    Node, channel, free_port, leader, master_yaml, member_yaml, wait_for_workers, worker_yaml,
};

/// Writes document `id` through whichever master answers, starting with
/// `masters[*current]`; returns when acknowledged (bounded: 20 s).
async fn write(masters: &[SocketAddr; 2], current: &mut usize, db: &str, id: usize) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if let Some(ch) = channel(masters[*current]).await {
            let request = CreateDocumentRequest {
                parent: format!("databases/{db}/collections/c"),
                document_id: format!("d{id:05}"),
                document: Some(Document {
                    value: format!("{{\"n\":{id}}}"),
                    ..Document::default()
                }),
            };
            match DocumentServiceClient::new(ch)
                .create_document(request)
                .await
            {
                Ok(_) => return,
                // A retry of a write that did land: acknowledged already.
                Err(status) if status.code() == tonic::Code::AlreadyExists => return,
                Err(_) => {}
            }
        }
        *current = 1 - *current;
    }
    panic!("write {id} never acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_master_under_load_costs_one_retry_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let master_bin = env!("CARGO_BIN_EXE_distgo-master");
    let worker_bin = env!("CARGO_BIN_EXE_distgo-worker");
    let mut nodes: Vec<Option<Node>> = vec![
        Some(Node::start(
            master_bin,
            dir.path(),
            "m1",
            &master_yaml(dir.path(), "m1", 0),
        )),
        Some(Node::start(
            master_bin,
            dir.path(),
            "m2",
            &master_yaml(dir.path(), "m2", 0),
        )),
    ];
    let masters = [
        nodes[0].as_ref().unwrap().address,
        nodes[1].as_ref().unwrap().address,
    ];
    let _workers = [
        Node::start(
            worker_bin,
            dir.path(),
            "a",
            &worker_yaml(dir.path(), "a", &masters),
        ),
        Node::start(
            worker_bin,
            dir.path(),
            "b",
            &worker_yaml(dir.path(), "b", &masters),
        ),
    ];
    wait_for_workers(masters[0], 2).await;
    wait_for_workers(masters[1], 2).await;

    // Four databases through the first master: both sets hold some.
    let ch = channel(masters[0]).await.unwrap();
    let dbs = ["ha-one", "ha-two", "ha-three", "ha-four"];
    for db in dbs {
        DatabaseServiceClient::new(ch.clone())
            .create_database(CreateDatabaseRequest {
                database_id: db.into(),
                database: Some(Database {
                    display_name: db.into(),
                    ..Database::default()
                }),
            })
            .await
            .unwrap();
        CollectionServiceClient::new(ch.clone())
            .create_collection(CreateCollectionRequest {
                parent: format!("databases/{db}"),
                collection_id: "c".into(),
                collection: Some(Default::default()),
            })
            .await
            .unwrap();
    }

    let mut current = 0;
    let mut acked = 0;
    let mut failovers = Vec::new();
    for trial in 0..10 {
        for _ in 0..20 {
            write(&masters, &mut current, dbs[acked % dbs.len()], acked).await;
            acked += 1;
        }
        // Kill the master in use; the next write must go to the other.
        let victim = current;
        let killed_at = Instant::now();
        if let Some(node) = nodes[victim].take() {
            node.kill();
        }
        write(&masters, &mut current, dbs[acked % dbs.len()], acked).await;
        acked += 1;
        failovers.push(killed_at.elapsed());
        assert_ne!(current, victim, "trial {trial}: served by a dead master");
        let port = masters[victim].port();
        let name = format!("m{}", victim + 1);
        nodes[victim] = Some(Node::start(
            master_bin,
            dir.path(),
            &name,
            &master_yaml(dir.path(), &name, port),
        ));
        // Workers register again with the master that came back.
        wait_for_workers(masters[victim], 2).await;
    }
    failovers.sort();
    println!(
        "master failover (kill -> next acknowledged write), 10 trials: min {:?} median {:?} max {:?}",
        failovers[0], failovers[5], failovers[9]
    );

    // Kill and restart both masters: placements and writes are in the sets.
    for (index, slot) in nodes.iter_mut().enumerate() {
        if let Some(node) = slot.take() {
            node.kill();
        }
        let name = format!("m{}", index + 1);
        *slot = Some(Node::start(
            master_bin,
            dir.path(),
            &name,
            &master_yaml(dir.path(), &name, masters[index].port()),
        ));
    }
    wait_for_workers(masters[1], 2).await;
    let ch = channel(masters[1]).await.unwrap();
    let mut found = 0;
    for db in dbs {
        let listed = DocumentServiceClient::new(ch.clone())
            .list_documents(ListDocumentsRequest {
                parent: format!("databases/{db}/collections/c"),
                page_size: 1000,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        found += listed.documents.len();
    }
    assert_eq!(found, acked, "acknowledged writes lost (or duplicated)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_change_in_a_set_is_retried_by_the_master() {
    let dir = tempfile::tempdir().unwrap();
    let master_bin = env!("CARGO_BIN_EXE_distgo-master");
    let worker_bin = env!("CARGO_BIN_EXE_distgo-worker");
    let ports = [free_port(), free_port(), free_port()];
    let mut members: Vec<Option<Node>> = (1..=3)
        .map(|id| {
            Some(Node::start(
                worker_bin,
                dir.path(),
                &format!("r{id}"),
                &member_yaml(dir.path(), id, &ports),
            ))
        })
        .collect();
    let sets = format!(
        "  sets:\n    a: [127.0.0.1:{}, 127.0.0.1:{}, 127.0.0.1:{}]\n",
        ports[0], ports[1], ports[2]
    );
    let yaml = master_yaml(dir.path(), "m", 0).replace("  timeout: 2s", "  timeout: 5s") + &sets;
    let master = Node::start(master_bin, dir.path(), "m", &yaml);
    let started = Instant::now();
    while leader(&ports).await.is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no leader elected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ch = channel(master.address).await.unwrap();
    DatabaseServiceClient::new(ch.clone())
        .create_database(CreateDatabaseRequest {
            database_id: "rs".into(),
            database: Some(Database {
                display_name: "rs".into(),
                ..Database::default()
            }),
        })
        .await
        .unwrap();
    CollectionServiceClient::new(ch.clone())
        .create_collection(CreateCollectionRequest {
            parent: "databases/rs".into(),
            collection_id: "c".into(),
            collection: Some(Default::default()),
        })
        .await
        .unwrap();
    // The client's deadline outlasts an election: the master retries
    // within it, so the client should see no error at all.
    let patient = Endpoint::from_shared(format!("http://{}", master.address))
        .unwrap()
        .timeout(Duration::from_secs(6))
        .connect()
        .await
        .unwrap();
    let mut documents = DocumentServiceClient::new(patient);
    let mut client_errors = 0;
    let mut longest = Duration::ZERO;
    let mut last_ack = Instant::now();
    let mut acked = 0;
    for n in 0..300 {
        if n == 100 {
            let index = leader(&ports).await.expect("a leader");
            if let Some(node) = members[index].take() {
                node.kill();
            }
        }
        let request = CreateDocumentRequest {
            parent: "databases/rs/collections/c".into(),
            document_id: format!("d{n:04}"),
            document: Some(Document {
                value: "{}".into(),
                ..Document::default()
            }),
        };
        match documents.create_document(request).await {
            Ok(_) => {
                acked += 1;
                longest = longest.max(last_ack.elapsed());
                last_ack = Instant::now();
            }
            Err(status) => {
                client_errors += 1;
                eprintln!("write {n}: {status:?}");
            }
        }
    }
    println!(
        "leader killed under writes through the master: {acked} of 300 acknowledged, \
         {client_errors} errors seen by the client, longest pause {longest:?}"
    );
    let listed = documents
        .list_documents(ListDocumentsRequest {
            parent: "databases/rs/collections/c".into(),
            page_size: 1000,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed.documents.len(),
        acked,
        "acknowledged writes lost or doubled"
    );
    assert_eq!(client_errors, 0, "the master let a leader change through");
}

/// Waits (bounded: 20 s) until the master at `address` lists no worker;
/// returns how long that took.
async fn wait_until_no_workers(address: SocketAddr) -> Duration {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if let Some(ch) = channel(address).await {
            let listed = ClusterServiceClient::new(ch)
                .list_workers(ListWorkersRequest {})
                .await
                .map(|r| r.into_inner().workers.len());
            if matches!(listed, Ok(0)) {
                return started.elapsed();
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("master {address} still lists a worker killed 20 s ago");
}

/// A worker killed with SIGKILL never unregisters: its registration
/// expires one `master.registration_ttl` (1 s here) after its last renewal
/// (every 200 ms), and it leaves ListWorkers then, not before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_leaves_list_workers_after_the_registration_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let master_bin = env!("CARGO_BIN_EXE_distgo-master");
    let worker_bin = env!("CARGO_BIN_EXE_distgo-worker");
    let yaml = master_yaml(dir.path(), "m", 0) + "  registration_ttl: 1s\n";
    let master = Node::start(master_bin, dir.path(), "m", &yaml);
    let worker = Node::start(
        worker_bin,
        dir.path(),
        "w",
        &worker_yaml(dir.path(), "w", &[master.address]),
    );
    wait_for_workers(master.address, 1).await;
    worker.kill(); // Child::kill: SIGKILL, no chance to unregister
    let gone = wait_until_no_workers(master.address).await;
    println!("killed worker left ListWorkers {gone:?} after SIGKILL (ttl 1s, interval 200ms)");
    // At least the ttl less one interval (its last renewal came at most
    // 200 ms before the kill), with slack for a loaded machine's scheduling.
    assert!(
        gone >= Duration::from_millis(600),
        "expired early: {gone:?}"
    );
    assert!(gone < Duration::from_secs(5), "expired late: {gone:?}");
}
