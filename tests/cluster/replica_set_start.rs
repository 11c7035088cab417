//! A real replica set starts on the harness: three processes, node 1
//! bootstraps, a leader is agreed, a write sent to any member lands on
//! all three, and each member's own state is the same to the nanosecond.

use std::time::Duration;

use distgo_db::proto::database::{CreateDatabaseRequest, Database};

use crate::harness::{
    client::is_definite,
    load::REQUEST_ID,
    network::MECHANISM,
    replica_set::{SetConfig, wait_for_equal_states},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_elect_a_leader_and_hold_the_same_state() {
    let (cluster, leader) = SetConfig::default().start(3).await.unwrap();
    eprintln!("leader: node {leader}; partitions by {MECHANISM}");
    let status = cluster.status(leader).await.unwrap();
    assert_eq!(status.members.len(), 3, "{status:?}");
    assert!(status.members.iter().all(|m| m.voter), "{status:?}");
    // Node 1 announced its own address (its own `peers` entry), which is
    // where clients reach it, not a link proxy.
    let one = status.members.iter().find(|m| m.node_id == 1).unwrap();
    assert_eq!(one.address, cluster.worker(1).address().to_string());

    // A write to each member: the followers forward theirs to the leader.
    // On a loaded machine an election may come right after the first one,
    // so a write without a definite answer is retried, with its request id
    // (at most ten times, 200 ms apart).
    for id in cluster.ids() {
        let clients = cluster.clients(id);
        let mut answer = None;
        for _ in 0..10 {
            let mut databases = clients.databases.clone();
            let mut request = clients.request(CreateDatabaseRequest {
                database_id: format!("via-{id}"),
                database: Some(Database {
                    display_name: format!("written through node {id}"),
                    ..Database::default()
                }),
            });
            request
                .metadata_mut()
                .insert(REQUEST_ID, format!("via-{id}").parse().unwrap());
            match clients.call(databases.create_database(request)).await {
                Err(err) if !is_definite(err.code()) => {
                    eprintln!("write through node {id}: {err:?}; again");
                    answer = Some(Err(err));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => {
                    answer = Some(other);
                    break;
                }
            }
        }
        if let Some(Err(err)) = answer {
            panic!("write through node {id}: {err:?}");
        }
    }
    let state = wait_for_equal_states(&cluster, &cluster.ids(), Duration::from_secs(10))
        .await
        .unwrap_or_else(|diff| {
            cluster.print_logs();
            panic!("{diff}")
        });
    for id in cluster.ids() {
        assert!(
            state.contains_key(&format!("databases/via-{id}")),
            "{state:?}"
        );
    }
}
