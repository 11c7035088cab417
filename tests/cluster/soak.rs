//! The harness under a soak: for `CLUSTER_SOAK_SECS`, clients write and
//! read on every member while the nemesis kills, pauses, partitions and
//! delays them. The replica-set soak of issue 10 is this loop on a real
//! replica set, with a linearizability check of the history; on standalone
//! workers it shows the harness itself holds: every operation ends within
//! its deadline whatever the fault, every fault is repaired, and each
//! worker ends up serving only values that clients wrote.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use crate::harness::{
    Settings,
    client::Clients,
    cluster::Cluster,
    config::WorkerConfig,
    load::{Load, document_names, ensure_collection},
    nemesis::{Fault, Nemesis},
    state::read_state,
};

async fn three() -> Cluster {
    let cluster = Cluster::start(3, |id, _| WorkerConfig::new(format!("node-{id}")))
        .await
        .unwrap();
    for clients in cluster.all_clients() {
        ensure_collection(&clients, "app", "soak", Duration::from_secs(5))
            .await
            .unwrap();
    }
    cluster
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_ends_in_time_under_the_nemesis() {
    let settings = Settings::from_env();
    let mut cluster = three().await;
    let deadline = Duration::from_millis(500);
    let targets: Vec<Clients> = cluster
        .all_clients()
        .into_iter()
        .map(|clients| Clients::new(clients.address, deadline))
        .collect();
    let documents = document_names("app", "soak", 4);
    let load = Load::new(6, documents.clone(), settings.soak, settings.seed);
    let start = Instant::now();
    let running = tokio::spawn(load.run(targets.clone()));
    let strikes = Nemesis::new(settings.seed)
        .run(
            &mut cluster,
            start,
            settings.soak.saturating_sub(Duration::from_millis(300)),
        )
        .await
        .unwrap();
    let history = running.await.unwrap();
    eprintln!("soak: {} strikes, {}", strikes.len(), history.summary());

    assert!(!strikes.is_empty(), "the nemesis struck");
    let total = history.summary().total();
    assert!(total.ok > 0, "work got done between faults");
    // A killed standalone worker refuses its clients until it is back; a
    // partition between standalone workers changes nothing they serve.
    if strikes.iter().any(|s| matches!(s.fault, Fault::Kill(_))) {
        assert!(total.unknown > 0, "a kill was felt: {}", history.summary());
    }
    for event in &history.events {
        let took = event.complete - event.invoke;
        assert!(took < deadline * 4, "{event:?} took {took:?}");
    }
    assert_eq!(cluster.live(), cluster.ids(), "every fault was repaired");
    assert_eq!(cluster.network.describe(), "all links pass");
    let written: BTreeSet<&str> = history.events.iter().filter_map(|e| e.op.value()).collect();
    for clients in &targets {
        let state = read_state(clients, true).await.unwrap();
        for name in &documents {
            if let Some(resource) = state.get(name) {
                assert!(
                    written.contains(resource.content.as_str()),
                    "{name}: {resource:?}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_strike_is_repaired_before_the_next() {
    let mut cluster = three().await;
    let address = cluster.worker(2).address();
    let pid = cluster.worker(2).pid();
    let hold = Duration::from_millis(50);
    for fault in [
        Fault::Kill(2),
        Fault::Pause(3),
        Fault::Partition(1),
        Fault::Delay(1, 3, Duration::from_millis(20)),
    ] {
        Nemesis::strike(&mut cluster, &fault, hold).await.unwrap();
        assert_eq!(cluster.live(), vec![1, 2, 3], "after {fault}");
        assert_eq!(
            cluster.network.describe(),
            "all links pass",
            "after {fault}"
        );
    }
    assert_ne!(cluster.worker(2).pid(), pid, "node 2 is a new process");
    assert_eq!(cluster.worker(2).address(), address, "on its old address");
}
