//! A member that was down while the others wrote on catches up by
//! snapshot, and then holds exactly what they hold.
//!
//! ```text
//!   node f down ─────────────────────────────▶ restart
//!   leader: 1 … N entries; snapshot every S; the log before the last
//!           snapshot purged (all but a tail)
//!                      f's next entry is gone from every log
//!                      ──▶ InstallSnapshot (streamed in chunks) ──▶ f
//! ```
//!
//! With `cluster.snapshot_entries` small, the leader compacts its log many
//! times while `f` is away, so the entries `f` misses exist nowhere any
//! more and the leader must send its snapshot. The test checks that it
//! did (openraft's "install full snapshot" line in f's log, and f's
//! snapshot index in Status), then that f's state equals the others'.
//! `CLUSTER_SNAPSHOT_WRITES` sets N (CI: 1,000; `just cluster-test`: 10,000).

use std::time::{Duration, Instant};

use crate::harness::{
    Settings,
    load::ensure_collection,
    process::Port,
    replica_set::{SetConfig, wait_for_equal_states},
    writers::{Control, Writers},
};

const WAIT: Duration = Duration::from_secs(60);
/// openraft's line when a follower installs a snapshot sent by the leader.
const INSTALLED: &str = "install full snapshot";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_far_behind_catches_up_by_snapshot() {
    let settings = Settings::from_env();
    let set = SetConfig {
        snapshot_entries: 200,
        ..SetConfig::default()
    };
    let (mut cluster, leader) = set.start(3).await.unwrap();
    ensure_collection(&cluster.clients(leader), "app", "behind", WAIT)
        .await
        .unwrap();
    let follower = cluster.ids().into_iter().find(|&id| id != leader).unwrap();
    let before = cluster.status(follower).await.unwrap().last_log_index;
    cluster.kill(follower);

    let collection = "databases/app/collections/behind";
    let mut writers = Writers::new(16, collection, &format!("behind-{}", settings.seed));
    writers.max_writes = settings.snapshot_writes.div_ceil(16);
    let majority = cluster
        .ids()
        .into_iter()
        .filter(|&id| id != follower)
        .map(|id| cluster.clients(id))
        .collect();
    let started = Instant::now();
    let written = writers.spawn(majority, Control::new()).await.unwrap();
    let took = started.elapsed();
    eprintln!(
        "with node {follower} down: {} in {took:?} ({:.0} acknowledged writes/s)",
        written.summary(),
        written.acknowledged().count() as f64 / took.as_secs_f64()
    );
    let status = cluster.status(leader).await.unwrap();
    eprintln!(
        "leader {leader}: last log {}, snapshot at {}; node {follower} stopped at {before}",
        status.last_log_index, status.snapshot_index
    );
    // The leader keeps at most `snapshot_entries` entries before its
    // snapshot: everything after `before` up to there is gone.
    assert!(
        status.snapshot_index > before + set.snapshot_entries,
        "the log the follower misses was compacted away"
    );
    // openraft purges the compacted log lazily, and not while an append
    // to the dead member still uses it: until it has, the follower would
    // catch up from the log and no snapshot would be sent.
    let purged = cluster
        .wait_for_status(leader, WAIT, |s| s.purged_index > before)
        .await
        .unwrap();
    eprintln!("leader {leader}: log purged up to {}", purged.purged_index);

    cluster.restart(follower, Port::Same).await.unwrap();
    let caught_up = cluster
        .wait_for_status(follower, WAIT, |s| {
            s.snapshot_index >= status.snapshot_index
        })
        .await;
    let installed = cluster.worker(follower).log().contains(INSTALLED);
    if caught_up.is_err() || !installed {
        cluster.print_logs();
    }
    let caught_up = caught_up.unwrap();
    assert!(installed, "node {follower} logged {INSTALLED:?}");
    eprintln!(
        "node {follower} installed the leader's snapshot: snapshot index {}, applied {}",
        caught_up.snapshot_index, caught_up.applied_index
    );

    let state = wait_for_equal_states(&cluster, &cluster.ids(), WAIT)
        .await
        .unwrap_or_else(|diff| panic!("{diff}"));
    let problems = written.check(&state, collection);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
