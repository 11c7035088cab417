//! Linearizability under faults: 16 clients on 4 documents while the
//! nemesis kills, pauses, partitions and slows members, for
//! `CLUSTER_SOAK_SECS`; the recorded history must be linearizable.
//!
//! The checker is the conformance crate's
//! (`distgo_conformance::linearizability`, through `harness::linearizable`):
//! it searches, document by document, for an order of the operations that
//! a single copy of the data could have produced. A write without a
//! definite answer is retried with the same `distgo-request-id` on the
//! next member, so most writes end definite; what stays unknown may have
//! happened at any time after its invocation, or never.
//!
//! A checker that never fails proves nothing, so the second test records
//! a history the set does *not* promise to be linearizable, reads with
//! `distgo-read: local` from a follower cut off from the leader while
//! the majority goes on writing, and requires the checker to reject it.

use std::time::{Duration, Instant};

use crate::harness::{
    Settings,
    client::Clients,
    history::{History, Op, Outcome},
    linearizable,
    load::{Load, Mix, document_names, ensure_collection, send},
    nemesis::Nemesis,
    replica_set::{SetConfig, wait_for_equal_states},
};

const WAIT: Duration = Duration::from_secs(20);

/// The clients' view of the set: every member, each request bounded by 1 s.
fn targets(all: Vec<Clients>) -> Vec<Clients> {
    all.into_iter()
        .map(|c| Clients::new(c.address, Duration::from_secs(1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_under_kills_pauses_and_partitions_is_linearizable() {
    let settings = Settings::from_env();
    let (mut cluster, leader) = SetConfig::default().start(3).await.unwrap();
    ensure_collection(&cluster.clients(leader), "app", "lin", WAIT)
        .await
        .unwrap();
    let documents = document_names("app", "lin", 4);
    let mut load = Load::new(16, documents, settings.soak, settings.seed);
    load.retry = Duration::from_secs(5);
    let start = Instant::now();
    let running = tokio::spawn(load.run_from(targets(cluster.all_clients()), start));
    let strikes = Nemesis::new(settings.seed)
        .run(
            &mut cluster,
            start,
            settings.soak.saturating_sub(Duration::from_millis(500)),
        )
        .await
        .unwrap();
    let mut history = running.await.unwrap();
    eprintln!("soak: {} strikes, {}", strikes.len(), history.summary());
    history.drop_unknown_reads();

    let report = linearizable::check(&history);
    assert!(
        !report.gave_up(),
        "the checker gave up: shorten CLUSTER_SOAK_SECS or raise its limits\n{report}"
    );
    if !report.is_linearizable() {
        cluster.print_logs();
        panic!("seed {}: {report}", settings.seed);
    }
    let total = history.summary().total();
    assert!(total.ok > 0, "work got done between faults");

    cluster.wait_for_leader(WAIT).await.unwrap();
    wait_for_equal_states(&cluster, &cluster.ids(), Duration::from_secs(30))
        .await
        .unwrap_or_else(|diff| panic!("{diff}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_reads_from_a_cut_off_follower_are_rejected_by_the_checker() {
    let settings = Settings::from_env();
    let (cluster, leader) = SetConfig::default().start(3).await.unwrap();
    ensure_collection(&cluster.clients(leader), "app", "stale", WAIT)
        .await
        .unwrap();
    let documents = document_names("app", "stale", 1);
    let mut history = History::new();
    // The document exists, and the follower has it, before the cut.
    let create = Op::Create {
        name: documents[0].clone(),
        value: r#"{"before":"the partition"}"#.into(),
    };
    let invoke = history.start.elapsed();
    let created = send(&cluster.clients(leader), &create, None, false).await;
    history.extend([crate::harness::history::Event {
        client: 99,
        op: create,
        invoke,
        complete: history.start.elapsed(),
        outcome: Outcome::Ok(created.unwrap()),
    }]);
    wait_for_equal_states(&cluster, &cluster.ids(), WAIT)
        .await
        .unwrap();

    let follower = cluster.ids().into_iter().find(|&id| id != leader).unwrap();
    cluster.network.partition(follower);
    let majority: Vec<Clients> = cluster
        .ids()
        .into_iter()
        .filter(|&id| id != follower)
        .map(|id| cluster.clients(id))
        .collect();
    let period = Duration::from_secs(2);
    let mut writers = Load::new(2, documents.clone(), period, settings.seed);
    writers.mix = Mix {
        get: 0,
        create: 0,
        update: 1,
        delete: 0,
    };
    writers.retry = Duration::from_secs(1);
    let mut readers = Load::new(2, documents, period, settings.seed + 1);
    readers.mix = Mix {
        get: 1,
        create: 0,
        update: 0,
        delete: 0,
    };
    readers.local_reads = true;
    readers.first_client = 2;
    let start = history.start;
    let (written, read) = tokio::join!(
        writers.run_from(majority, start),
        readers.run_from(vec![cluster.clients(follower)], start),
    );
    cluster.network.heal();
    history.extend(written.events);
    history.extend(read.events);
    eprintln!("stale reads: {}", history.summary());

    let report = linearizable::check(&history);
    assert!(
        report.is_violation(),
        "local reads from a cut-off follower must be caught as stale:\n{report}"
    );
}
