//! The conformance suite's cluster cases (tag `cluster`, CLUSTER-1..4)
//! against a real three-member replica set, each member named
//! (`distgo-conformance run --tags cluster --addr A --addr B --addr C`).
//!
//! The suite's own self-check shows those cases fail against a deployment
//! whose follower serves stale reads; this is the other half: a replica
//! set, with followers forwarding writes and confirming reads with the
//! leader, passes every one of them, whichever member is named first.

use std::sync::Arc;

use distgo_conformance::{
    case::Tag,
    cases,
    ctx::Settings,
    report::{Rerun, failure_text},
    runner::{Outcome, Runner},
    target::{Connection, ServerUnderTest},
};

use crate::harness::replica_set::SetConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_cases_pass_against_every_member_of_a_replica_set() {
    let (cluster, leader) = SetConfig::default().start(3).await.unwrap();
    let urls: Vec<String> = cluster
        .ids()
        .into_iter()
        .map(|id| cluster.worker(id).url())
        .collect();
    // A follower first: its reads must be confirmed with the leader.
    let follower = cluster.ids().into_iter().find(|&id| id != leader).unwrap();
    let primary = cluster.worker(follower).url();
    let others: Vec<String> = urls.iter().filter(|u| **u != primary).cloned().collect();
    let target = ServerUnderTest::connect(Connection::new(primary.clone()))
        .await
        .expect("connect to the follower")
        .with_members(others.clone());
    let selected: Vec<_> = cases::all()
        .into_iter()
        .filter(|case| case.tags.contains(&Tag::Cluster))
        .collect();
    assert!(selected.len() >= 4, "{} cluster cases", selected.len());
    let settings = Settings {
        seed: 0x5eed,
        cases: None,
        golden: Arc::new(distgo_conformance::scenario::embedded_golden),
    };
    let runner = Arc::new(Runner::new(Arc::new(target), settings, Default::default()));
    let reports = runner.run_all(&selected, 2).await;

    let addresses: Vec<String> = std::iter::once(primary)
        .chain(others)
        .map(|a| format!("--addr {a}"))
        .collect();
    let rerun = Rerun(format!(
        "distgo-conformance run --tags cluster {}",
        addresses.join(" ")
    ));
    let not_passed: Vec<String> = reports
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Passed))
        .map(|r| {
            format!(
                "{}: {}\n{}",
                r.id,
                r.outcome.label(),
                failure_text(r, &rerun)
            )
        })
        .collect();
    if !not_passed.is_empty() {
        cluster.print_logs();
    }
    assert!(
        not_passed.is_empty(),
        "{} of {} cluster cases did not pass against the replica set:\n{}",
        not_passed.len(),
        reports.len(),
        not_passed.join("\n")
    );
}
