//! Concurrent clients record a history: who did what, when, and what came
//! back. On a healthy worker every answer is definite; on a frozen one,
//! every answer is "unknown" and still arrives within its deadline.

use std::{collections::BTreeSet, time::Duration};

use crate::harness::{
    client::Clients,
    config::WorkerConfig,
    history::{History, Op, Outcome},
    load::{Load, document_names, ensure_collection},
    process::Worker,
    state::read_state,
};

/// The shape every history has, whatever happened: each client's
/// operations one after another, each returning after it was invoked.
fn assert_well_formed(history: &History, clients: usize) {
    for client in 0..clients {
        let mine: Vec<_> = history
            .events
            .iter()
            .filter(|e| e.client == client)
            .collect();
        assert!(!mine.is_empty(), "client {client} did something");
        for pair in mine.windows(2) {
            assert!(
                pair[0].complete <= pair[1].invoke,
                "client {client} overlapped itself"
            );
        }
    }
    for event in &history.events {
        assert!(event.invoke <= event.complete, "{event:?}");
    }
}

/// Every value a write wrote, to check that reads return only those.
fn written_values(history: &History) -> BTreeSet<&str> {
    history.events.iter().filter_map(|e| e.op.value()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_record_a_history_of_definite_answers() {
    let worker = Worker::start(WorkerConfig::new("busy")).await.unwrap();
    let clients = Clients::new(worker.address(), Duration::from_secs(2));
    ensure_collection(&clients, "app", "hot", Duration::from_secs(2))
        .await
        .unwrap();
    let documents = document_names("app", "hot", 2);
    let load = Load::new(4, documents.clone(), Duration::from_millis(800), 7);

    let history = load.run(vec![clients.clone()]).await;
    eprintln!("{}", history.summary());
    assert_well_formed(&history, 4);
    let total = history.summary().total();
    assert_eq!(total.unknown, 0, "a healthy worker answers definitely");
    assert!(
        total.ok > 0 && total.failed > 0,
        "contention: {}",
        history.summary()
    );

    let written = written_values(&history);
    for event in &history.events {
        match (&event.op, &event.outcome) {
            (Op::Get { .. }, Outcome::Ok(Some(value))) => {
                assert!(
                    written.contains(value.as_str()),
                    "read an unwritten {value}"
                );
            }
            (Op::Create { value, .. } | Op::Update { value, .. }, Outcome::Ok(returned)) => {
                assert_eq!(
                    returned.as_deref(),
                    Some(value.as_str()),
                    "a write echoes its value"
                );
            }
            _ => {}
        }
    }
    // What the worker holds at the end was written by someone.
    let state = read_state(&clients, false).await.unwrap();
    for name in &documents {
        if let Some(resource) = state.get(name) {
            assert!(
                written.contains(resource.content.as_str()),
                "{name}: {resource:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_worker_yields_unknown_outcomes_each_within_its_deadline() {
    let mut worker = Worker::start(WorkerConfig::new("frozen")).await.unwrap();
    let deadline = Duration::from_millis(300);
    let clients = Clients::new(worker.address(), deadline);
    ensure_collection(&clients, "app", "cold", Duration::from_secs(2))
        .await
        .unwrap();
    worker.pause().await.unwrap();

    let load = Load::new(
        2,
        document_names("app", "cold", 2),
        Duration::from_secs(1),
        11,
    );
    let history = load.run(vec![clients]).await;
    worker.resume().await.unwrap();

    assert_well_formed(&history, 2);
    for event in &history.events {
        assert!(matches!(event.outcome, Outcome::Unknown(_)), "{event:?}");
        let took = event.complete - event.invoke;
        assert!(took < Duration::from_secs(2), "an operation took {took:?}");
    }
}
