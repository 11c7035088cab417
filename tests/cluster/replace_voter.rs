//! A dead voter is replaced under load: a fourth node joins as a learner,
//! catches up, and a membership change swaps it in for the dead one.
//!
//! ```text
//!   voters {1, 2, 3}; node 4 running, outside the set
//!   kill a follower v                  (the set runs on a bare majority)
//!   AddLearner(4, wait_caught_up)      4 receives the log (or a snapshot)
//!   ChangeMembership({1,2,3} - v + 4)  joint consensus, then the new set
//!   voters {…, 4}: equal states, nothing acknowledged lost
//! ```
//!
//! The writers run throughout, each write retried with the same request
//! id. The kill itself breaks the requests in flight on the dead member's
//! connections (the client's transport reports them); from the start of
//! the change on, the only error writers may see is UNAVAILABLE (the dead
//! member refusing connections, a leader busy changing the configuration).

use std::time::Duration;

use distgo_db::proto::replication::{
    AddLearnerRequest, ChangeMembershipRequest, MembershipResponse, Node,
};
use tonic::Code;

use crate::harness::{
    Settings,
    client::Clients,
    cluster::Cluster,
    load::ensure_collection,
    replica_set::{SetConfig, wait_for_equal_states},
    writers::{Control, Writers},
};

const WAIT: Duration = Duration::from_secs(30);
/// How many leaders a membership call is tried on.
const ATTEMPTS: usize = 10;
/// The pause before trying a membership call again.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_voter_is_replaced_by_a_learner_under_load() {
    let settings = Settings::from_env();
    let (mut cluster, leader) = SetConfig::default().start(4).await.unwrap();
    ensure_collection(&cluster.clients(leader), "app", "swap", WAIT)
        .await
        .unwrap();
    let collection = "databases/app/collections/swap";
    let control = Control::new();
    let writers = Writers::new(16, collection, &format!("swap-{}", settings.seed));
    let voters: Vec<_> = (1..=3).map(|id| cluster.clients(id)).collect();
    let running = writers.spawn(voters, control.clone());
    assert!(control.wait_for_acks(50, WAIT).await, "writes flow");

    // The leader now (a loaded machine may have held an election since).
    let leader = cluster.wait_for_leader(WAIT).await.unwrap();
    let dead = [1, 2, 3].into_iter().find(|&id| id != leader).unwrap();
    cluster.kill(dead);
    eprintln!("killed voter {dead}; leader is {leader}");
    let change = std::time::Instant::now();
    let learner = Change::AddLearner(AddLearnerRequest {
        node_id: 4,
        node: Some(Node {
            address: cluster.worker(4).address().to_string(),
        }),
        wait_caught_up: true,
    });
    let added = on_the_leader(&mut cluster, &learner).await;
    eprintln!("node 4 is a learner, caught up: {:?}", added.log_id);
    let acked = control.acks();
    let new_voters: Vec<u64> = [1, 2, 3, 4].into_iter().filter(|&id| id != dead).collect();
    let changed = on_the_leader(
        &mut cluster,
        &Change::Voters(ChangeMembershipRequest {
            voters: new_voters.clone(),
            retain_removed: false,
        }),
    )
    .await;
    eprintln!("membership now {:?}", changed.membership);
    assert!(
        control.wait_for_acks(acked + 50, WAIT).await,
        "writes go on after the change"
    );
    control.stop();
    let written = running.await.unwrap();
    eprintln!("{}", written.summary());

    let status = cluster.status(4).await.unwrap();
    let me = status.members.iter().find(|m| m.node_id == 4);
    assert!(me.is_some_and(|m| m.voter), "node 4 votes: {status:?}");
    assert!(
        !status.members.iter().any(|m| m.node_id == dead),
        "node {dead} left the set: {status:?}"
    );
    let state = wait_for_equal_states(&cluster, &new_voters, WAIT)
        .await
        .unwrap_or_else(|diff| panic!("{diff}"));
    let problems = written.check(&state, collection);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let codes = written.error_codes_since(Some(change));
    eprintln!("errors writers saw during the change: {codes:?}");
    assert!(
        codes.keys().all(|code| code == "Unavailable"),
        "during the change, the writers saw errors other than UNAVAILABLE: {codes:?}"
    );
}

/// The two membership calls of the swap.
enum Change {
    AddLearner(AddLearnerRequest),
    Voters(ChangeMembershipRequest),
}

/// Sends `change` to the set's leader, and again to the next leader when
/// the member asked no longer leads (UNAVAILABLE): a loaded machine may
/// hold an election while the set runs on a bare majority, and the test is
/// about the swap, not about which member the admin reached first. Both
/// calls may be repeated: openraft adds a learner already there again, and
/// a change that a lost leader left half done (joint) is completed by the
/// same call. Bounded by ATTEMPTS leaders, each waited for at most WAIT.
async fn on_the_leader(cluster: &mut Cluster, change: &Change) -> MembershipResponse {
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        let leader = cluster.wait_for_leader(WAIT).await.unwrap();
        let admin = Clients::new(cluster.worker(leader).address(), WAIT);
        let mut replication = admin.replication.clone();
        let answer = match change {
            Change::AddLearner(request) => {
                admin
                    .call(replication.add_learner(admin.request(request.clone())))
                    .await
            }
            Change::Voters(request) => {
                admin
                    .call(replication.change_membership(admin.request(request.clone())))
                    .await
            }
        };
        match answer {
            Ok(reply) => return reply,
            Err(status) if status.code() == Code::Unavailable => {
                last = format!("node {leader}: {}", status.message());
                eprintln!("membership call, attempt {attempt}: {last}");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Err(status) => panic!(
                "membership call on node {leader}: {:?}: {}",
                status.code(),
                status.message()
            ),
        }
    }
    panic!("no leader took the membership call in {ATTEMPTS} attempts (last: {last})");
}
