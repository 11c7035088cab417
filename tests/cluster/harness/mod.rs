//! The cluster harness: real `distgo-worker` processes on 127.0.0.1, the
//! faults a replica set must survive, and the clients that watch it.
//!
//! A replica set is tested the way it fails in production: as separate
//! processes that crash, freeze, lose the network or fill their disk. None
//! of that can be shown by a worker inside the test's own process, so the
//! harness starts the real binary and injects each fault from outside:
//!
//! ```text
//!               test (clients, history)
//!                 │        │        │          direct: clients → node
//!                 ▼        ▼        ▼
//!             ┌───────┐ ┌───────┐ ┌───────┐
//!             │node 1 │ │node 2 │ │node 3 │    SIGKILL / SIGSTOP / SIGCONT,
//!             └──┬────┘ └──┬────┘ └──┬────┘    restart on the same port
//!                │ 1→2     │ 2→3     │ 3→1
//!                ▼         ▼         ▼
//!              proxy     proxy     proxy  ...  one per directed link:
//!                │         │         │         pass / drop / delay / cut
//!                ▼         ▼         ▼
//!              node 2    node 3    node 1
//! ```
//!
//! | file | what it teaches |
//! |---|---|
//! | [`ports`] | loopback ports: ask the OS for one, and wait until one is free again |
//! | [`config`] | the YAML a test worker runs with, and why every path is in its own directory |
//! | [`process`] | one worker process: start, kill -9, pause, restart, reap |
//! | [`logs`] | its JSON log: the bound address, and tails a person can read |
//! | [`disk`] | a small disk for one worker: tmpfs in a private mount namespace |
//! | [`proxy`] | a fault-injecting TCP proxy for one direction of one link |
//! | [`network`] | the full mesh of link proxies: partitions, isolation, delay |
//! | [`client`] | gRPC clients of one node, and what an error says about a write |
//! | [`history`] | the record of concurrent operations a linearizability checker reads |
//! | [`linearizable`] | the adapter to the conformance crate's linearizability checker |
//! | [`load`] | concurrent writers with bounded time and count that fill a history |
//! | [`writers`] | writers of their own documents: nothing acknowledged may be lost |
//! | [`state`] | everything a node holds, read through the API, to compare members |
//! | [`cluster`] | N workers wired through the network; leader and status helpers |
//! | [`replica_set`] | the `cluster:` section of each member; equal states across members |
//! | [`nemesis`] | a seeded schedule of faults against a cluster, each one repaired |
//!
//! **Nothing is left behind.** Every process the harness starts is killed
//! with SIGKILL and reaped when its owner is dropped, also while a test
//! panics; where util-linux's `setpriv` exists, each process is also started
//! with a parent-death signal, so even a test binary killed by a timeout
//! takes its workers with it. When a test panics, each worker prints the
//! tail of its log and keeps its directory, and says where.
//!
//! **Every wait is bounded.** Starting, stopping, connecting, and each
//! operation of a load have a deadline; loops poll with a fixed interval
//! and a bounded number of tries.

// The harness is the library the cluster scenarios of issue 10 are written
// on; its self-tests use most, not all, of it yet.
#![allow(dead_code)]

pub mod client;
pub mod cluster;
pub mod config;
pub mod disk;
pub mod history;
pub mod linearizable;
pub mod load;
pub mod logs;
pub mod nemesis;
pub mod network;
pub mod ports;
pub mod process;
pub mod proxy;
pub mod replica_set;
pub mod state;
pub mod writers;

use std::time::Duration;

/// How long a worker may take to print its "listening" line. Generous: a
/// debug build on two busy cores, recovering a log, can take seconds.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a wait polls (a log file, a port, a status).
pub const POLL: Duration = Duration::from_millis(20);

/// Something the harness could not do. Each message says what, and where
/// it helps, shows the tail of the worker's log.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A worker process did not come up.
    #[error("worker {name} did not start: {reason}\n{logs}")]
    Start {
        /// The worker's name.
        name: String,
        /// What went wrong (exited with a status, timed out, ...).
        reason: String,
        /// The tail of its log and standard error.
        logs: String,
    },
    /// The machine does not allow the fault (not root, no `unshare`, ...).
    #[error("fault not available on this machine: {0}")]
    Unsupported(String),
    /// An operating system call failed.
    #[error("{what}: {source}")]
    Io {
        /// What the harness was doing.
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A bounded wait ran out.
    #[error("timed out after {after:?}: {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The bound.
        after: Duration,
    },
}

impl HarnessError {
    /// An [`HarnessError::Io`] saying what failed.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
        let what = what.into();
        move |source| HarnessError::Io { what, source }
    }
}

/// The knobs of a run, from the environment. CI runs the defaults (short);
/// `just cluster-test` runs the long settings.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// `CLUSTER_KILLS`: how many kill -9 rounds a kill test runs.
    pub kills: u32,
    /// `CLUSTER_SOAK_SECS`: how long a soak (random faults under load) runs.
    pub soak: Duration,
    /// `CLUSTER_SNAPSHOT_WRITES`: how many writes a member misses in the
    /// snapshot catch-up test.
    pub snapshot_writes: usize,
    /// `CLUSTER_SEED`: the seed of every random choice; random when unset,
    /// and printed, so a failure can be replayed.
    pub seed: u64,
}

impl Settings {
    /// Reads the environment; a value that is set but not a number panics,
    /// naming the variable (a typo must not run the short defaults silently).
    pub fn from_env() -> Settings {
        let settings = Settings {
            kills: env_number("CLUSTER_KILLS").unwrap_or(3),
            soak: Duration::from_secs(env_number("CLUSTER_SOAK_SECS").unwrap_or(15)),
            snapshot_writes: env_number("CLUSTER_SNAPSHOT_WRITES").unwrap_or(1_000),
            seed: env_number("CLUSTER_SEED").unwrap_or_else(rand::random),
        };
        eprintln!(
            "cluster settings: CLUSTER_KILLS={} CLUSTER_SOAK_SECS={} CLUSTER_SNAPSHOT_WRITES={} \
             CLUSTER_SEED={}",
            settings.kills,
            settings.soak.as_secs(),
            settings.snapshot_writes,
            settings.seed
        );
        settings
    }
}

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    let text = std::env::var(name).ok()?;
    match text.trim().parse() {
        Ok(value) => Some(value),
        Err(_) => panic!("{name}={text:?} is not a number"),
    }
}

/// Whether this run is CI's (`CI` set to anything but empty or `false`):
/// there, a fault the machine cannot inject fails the test instead of
/// skipping it with a warning.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false")
}

/// Skips a test whose fault the machine cannot inject, loudly (see
/// [`loud`]); under CI
/// ([`in_ci`]) it fails instead, so a CI machine never passes by skipping.
pub fn unsupported(test: &str, error: &HarnessError) {
    let banner = "!".repeat(72);
    let message = format!("{banner}\n{test}: NOT RUN: {error}\n{banner}");
    if in_ci() {
        panic!("{message}\n(CI is set: a fault the harness cannot inject fails the run)");
    }
    loud(&message);
}

/// Writes to the process's real standard error, past libtest's capture
/// (which takes only `print!`/`eprint!`): a skipped fault must be seen in
/// a plain `cargo test`, not only with `--nocapture`.
pub fn loud(message: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{message}");
}
