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
//! Knobs (environment; CI runs the short defaults, `just cluster-test` the
//! long ones): `CLUSTER_KILLS` (kill rounds, default 2),
//! `CLUSTER_SOAK_SECS` (default 4), `CLUSTER_SEED` (random, printed).
//! `CI` set makes a fault the machine cannot inject a failure instead of a
//! loudly reported skip.

mod harness;
mod tcp;

mod cluster_wiring;
mod disk_full;
mod leader_kills;
mod linearizable_soak;
mod load_history;
mod network_partitions;
mod partitioned_member;
mod processes;
mod proxy_faults;
mod replace_voter;
mod replica_set_start;
mod snapshot_catch_up;
mod soak;
