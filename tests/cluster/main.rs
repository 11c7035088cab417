//! The cluster tests: real `distgo-worker` processes on 127.0.0.1, and the
//! faults a replica set must survive (crash, freeze, partition, full disk).
//!
//! [`harness`] is the library the scenarios are written on; each other
//! module is a lesson about one part of it, run against standalone workers
//! (and plain TCP servers for the proxy), so the harness is known to work
//! before any replica set runs on it:
//!
//! | module | what it shows |
//! |---|---|
//! | [`processes`] | start, kill -9, pause, restart on the same port, reap |
//! | [`proxy_faults`] | one link: bytes pass, drop holds, delay delays, cut resets |
//! | [`network_partitions`] | the mesh of links: every link reaches its node; partitions |
//! | [`disk_full`] | one worker on a tiny tmpfs: writes UNAVAILABLE, reads still served |
//! | [`load_history`] | concurrent clients record a history a checker can read |
//! | [`cluster_wiring`] | N workers behind the mesh; restarts keep their links |
//! | [`soak`] | the nemesis (kills, pauses, partitions, delays) under load for `CLUSTER_SOAK_SECS` |
//!
//! Then the replica-set scenarios of issue 10, on real three-member sets
//! (`harness::replica_set`):
//!
//! | module | what it shows |
//! |---|---|
//! | [`replica_set_start`] | three members elect a leader; a write to any member lands on all |
//! | [`leader_kills`] | kill -9 the leader under 16 writers, `CLUSTER_KILLS` times: nothing acknowledged lost |
//! | [`partitioned_member`] | a cut-off member refuses writes in time; the majority serves; it catches up |
//! | [`linearizable_soak`] | the nemesis for `CLUSTER_SOAK_SECS`: the history is linearizable; stale local reads are caught |
//! | [`snapshot_catch_up`] | a member down for `CLUSTER_SNAPSHOT_WRITES` writes catches up by snapshot |
//! | [`replace_voter`] | a dead voter replaced by a learner under load |
//! | [`fixtures`] | `fixtures/cluster/` (what `just cluster` runs) is one valid set |
//! | [`conformance_cases`] | the suite's cluster cases (CLUSTER-1..4) pass against every member |
//!
//! And issue 11's whole cluster, nine processes:
//!
//! | module | what it shows |
//! |---|---|
//! | [`masters_and_sets`] | three masters before two sets: catalog leader and set leader killed, a master cut off, a database moved, under writers |
//!
//! Knobs (environment; CI runs the short defaults, `just cluster-test` the
//! long ones): `CLUSTER_KILLS` (kill rounds, default 3),
//! `CLUSTER_SOAK_SECS` (default 15), `CLUSTER_SNAPSHOT_WRITES` (default
//! 1,000), `CLUSTER_CHECK_STEPS` (the linearizability checker's steps per
//! document, default 5,000,000), `CLUSTER_SEED` (random, printed).
//! `CI` set makes a fault the machine cannot inject a failure instead of a
//! loudly reported skip.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod harness;
mod tcp;

mod cluster_wiring;
mod conformance_cases;
mod disk_full;
mod fixtures;
mod leader_kills;
mod linearizable_soak;
mod load_history;
mod masters_and_sets;
mod network_partitions;
mod partitioned_member;
mod processes;
mod proxy_faults;
mod replace_voter;
mod replica_set_start;
mod snapshot_catch_up;
mod soak;
