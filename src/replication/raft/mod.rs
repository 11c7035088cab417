//! A replica set: three (or five) workers agree on one log through Raft.
//!
//! ```text
//!   client ─▶ any member ─(a write: forwarded to the leader, one hop)─┐
//!                                                                     ▼
//!   leader:  Replica::propose ─▶ raft.client_write(command)
//!              append to its own log ──────────────┐
//!              AppendEntries to every follower ───┼──▶ each appends to its log, fsyncs, acks
//!              a majority has it: committed ◀─────┘
//!              apply (every member, in log order) ─▶ store.apply(position, command)
//!   answer ◀── the leader's outcome
//! ```
//!
//! The consensus is [openraft](https://docs.rs/openraft)'s: elections,
//! terms, log matching, commitment, membership changes, snapshot transfer.
//! distgo-db supplies the three things a Raft engine cannot know:
//!
//! | openraft asks for | distgo-db gives it | file |
//! |---|---|---|
//! | log storage | the write-ahead log's checksummed segments, vote and commit files | `log_store` |
//! | a state machine | the store, whose apply is deterministic | `state_machine` |
//! | a network | `worker.replication.v1` over gRPC, snapshots streamed in chunks | `network`, `service` |
//!
//! Every openraft type stays inside this module (`types` translates), so
//! the rest of the worker sees a [`RaftNode`] that proposes commands and
//! answers outcomes, exactly like the standalone driver.
//!
//! **Why the same store works.** A command fixes its time and randomness
//! when it is proposed and is checked against the state when it is
//! applied; every member applies the same entries in the same order, so
//! every member computes the same outcome and holds the same state. A
//! leader change cannot make time run backwards either: the commit time is
//! `max(proposed, last applied + 1ns)`, and the last applied commit is part
//! of the replicated state.
//!
//! **Reads.** A read is linearizable by default: before it reads, a member
//! makes sure it has applied everything committed when the read arrived.
//! The leader confirms with a majority that it is still the leader
//! (ReadIndex; or trusts its lease with `cluster.read: lease`); a follower
//! asks the leader for that index (the `ReadIndex` RPC) and waits until it
//! has applied it. A client that accepts a possibly stale answer sends
//! `distgo-read: local` and is answered from the member's state at once.
//!
//! | read mode | how | promises | costs |
//! |---|---|---|---|
//! | `cluster.read: read_index` (default) | the leader confirms its leadership with a majority (a heartbeat round), then reads once it has applied the commit index it saw | linearizable: the read sees every write acknowledged before it was sent | one round trip to a majority per read batch; a follower adds one to the leader |
//! | `cluster.read: lease` | the leader trusts its lease (no election can succeed before it expires) | linearizable as long as clocks run at about the same rate | no network round trip on the leader |
//! | header `distgo-read: local` | the member answers from what it has applied | nothing across members: the answer may be stale by whatever the member has not applied yet (seconds, behind a partition) | nothing |
//!
//! **What a follower does with a write.** Any member takes any request.
//! A follower does not propose: the routing layer (`server::routing`)
//! forwards the request once to the leader it knows, over a reused channel,
//! with the header `distgo-forwarded` so the leader never forwards it
//! again, within the request's own deadline, and relays the leader's answer
//! unchanged. When no leader is known (an election is under way, or this
//! member is cut off), the answer is UNAVAILABLE with a message saying so
//! and, when a leader was last seen, a `distgo-leader` trailer naming its
//! address, so a client can go there itself.
//!
//! **Leader loss.** When the leader dies or is cut off, followers stop
//! hearing heartbeats; after a randomized `cluster.election_timeout`
//! (default `500ms..1s`) one of them asks for votes, and a candidate with a
//! log at least as up to date as a majority's wins. Expect about *two*
//! timeouts, not one: a follower refuses to vote while its lease on the old
//! leader lasts (as long as the longest timeout, so that a leader's lease
//! reads stay safe), so the first candidate is usually refused and wins on
//! its second try. Killing the leader under 16 writers, the time to the
//! next acknowledged write was 0.99-1.37 s (median 1.12 s, 20 kills) with
//! `300ms..600ms` and 1.4-2.05 s (median 1.63 s, 10 kills) with
//! `400ms..800ms` (`just cluster-test`, three members on 2 cores). Entries the old leader
//! had committed are in the new leader's log (that is what a majority
//! means); entries it had only appended locally are overwritten. A client
//! whose write was in flight gets UNAVAILABLE ("its outcome is unknown")
//! or DEADLINE_EXCEEDED: the write may or may not have been committed.
//! Retrying it with the same `distgo-request-id` header is always safe: the
//! request ids are part of the replicated state (for
//! `cluster.request_window`, 10 minutes by default, carried by snapshots),
//! so a write already applied returns its first outcome instead of being
//! applied twice. Open transactions live in the leader's memory: a leader
//! change ends them, and a later Commit or Execute answers NOT_FOUND; a
//! committed transaction is one log entry, so it is applied whole or not at
//! all on every member.
//!
//! **What is lost in which failure** (a set of three; five tolerate two):
//!
//! | failure | writes acknowledged before it | service during it |
//! |---|---|---|
//! | one member crashes (SIGKILL, power) | none lost: each is on a majority's disk (`wal.sync: always`) | the other two keep serving; a new election within about `election_timeout` if it was the leader |
//! | one member partitioned away | none lost | the majority side serves; the cut-off member answers writes and linearizable reads with UNAVAILABLE, `distgo-read: local` reads with its stale state |
//! | a member's disk fills | none lost | that member's engine halts on the failed write (it answers UNAVAILABLE); the other two serve; restarted once space is freed, it catches up |
//! | a member is down long enough for the leader to compact its log | none lost | the member catches up by snapshot (streamed in chunks) when it returns |
//! | two of three members lost at once | none lost from the survivors' disks, but no majority: writes and linearizable reads answer UNAVAILABLE until one returns | `distgo-read: local` only |
//! | every disk of a majority lost | writes only that majority held may be lost | — |
//!
//! With `wal.sync: never`, "on a majority's disk" becomes "in a majority's
//! page cache": a simultaneous power loss of a majority can lose the last
//! writes. Membership (adding a learner, promoting it, removing a voter)
//! goes through the same log (`worker.replication.v1` AddLearner and
//! ChangeMembership, admin role with auth), so a replacement never leaves
//! the set without a majority of its old or its new configuration.
//!
//! ## Run a three-node set on one machine
//!
//! `fixtures/cluster/node-1.yaml`, `node-2.yaml` and `node-3.yaml` are three
//! members on 127.0.0.1, ports 55061-55063, each keeping its log under
//! `data/cluster/node-N` (every key commented). `just cluster` builds the
//! release worker, starts all three, and stops them all on Ctrl-C; node 1
//! forms the set at its first start, and a leader is elected within a
//! second or two. Any member answers any request:
//!
//! ```sh
//! just cluster      # needs: just, ports 55061-55063 free; runs until Ctrl-C
//! distgo --addr http://127.0.0.1:55062 db create shop --display-name Shop   # needs: the set of `just cluster` running
//! distgo --addr http://127.0.0.1:55063 db get shop                          # needs: the set of `just cluster` running
//! ```
//!
//! The first command is a write sent to node 2: unless node 2 leads, it is
//! forwarded to the leader, committed by a majority, and applied on all
//! three; the read on node 3 is linearizable, so it sees it. Kill one
//! member from another terminal (`kill -9` its pid, e.g. from
//! `pgrep -f node-2.yaml`) and the other two go on; start it again with
//! its file (`cargo run --release --bin distgo-worker -- --config
//! fixtures/cluster/node-2.yaml`) and it catches up.
//! `ReplicationService.Status` on any member names the leader, the term and
//! each member's lag. The data stays in `data/cluster/`: delete that
//! directory to start a new set from nothing.
//!
//! The cluster tests (`tests/cluster/`, `just cluster-test`) run the same
//! kind of set with ports the OS chooses and a fault-injecting proxy on
//! every link between members.
//!
//! ## What it costs
//!
//! Measured on 2026-12-02 with `distgo-conformance bench --baseline
//! STANDALONE --addr LEADER` (two targets measured alternately in one run,
//! median of the per-round ratios, 10^4 documents of 256 B, 4 connections):
//! the three members of `fixtures/cluster` (`wal.sync: always`) against one
//! standalone worker with `wal.sync: always`, all four and the load
//! generator on the same 2 cores, with a low-priority build beside them
//! (load average 3.5-4.7). JSON in `testdata/bench/replicated-*.json`.
//!
//! | workload | concurrency | standalone ops/s | replica set ops/s | set / standalone |
//! |---|---:|---:|---:|---:|
//! | CreateDocument | 64 | 21,053 | 7,519 | 0.37 (snapshots every 10,000 entries; see below) |
//! | GetDocument, ReadIndex (default) | 16 | 61,470 | 15,017 | 0.26 |
//! | GetDocument, ReadIndex | 64 | 57,637 | 31,046 | 0.53 |
//! | GetDocument, ReadIndex | 256 | 70,473 | 46,709 | 0.66 |
//! | GetDocument, `distgo-read: local` | 16 | 58,582 | 54,577 | 0.93 |
//!
//! **Re-measured 2026-12-03** on the idle machine (a niced build beside,
//! load average 0.1-2), same command, `testdata/bench/replicated-create-c64-snapshot-bytes.json`:
//! CreateDocument c=64: 16,088 standalone, 8,907 replica set, **0.49**
//! (p99 2.1x). The set used to snapshot every 10,000 entries, and a
//! snapshot writes the whole state: with the fixtures' old setting the
//! same run gave 0.35, falling from 9,500 to 4,500 creates/s within 20 s
//! with 0.3-0.7 s stalls. Members now snapshot on the standalone worker's
//! budget too (`wal.snapshot_bytes` of log since the last snapshot, 64 MiB)
//! and `cluster.snapshot_entries` defaults to 1,000,000; the commit mark
//! openraft saves before applying each batch no longer waits behind the
//! writer thread's fsync (`log_store`). Get through ReadIndex in the same
//! sitting (a build beside): 0.49 at c=16, 0.65 at c=64, 0.74 at c=256.
//!
//! **After write coalescing** (`server::coalesce`, later on 2026-12-03,
//! idle machine, `testdata/bench/replicated-get-c*-coalesced.json`, 1 KiB
//! values): the standalone worker's Get rose to 32,900/s at c=16 and
//! 44,600/s at c=64, the leader's to 11,800 and 24,500, so ReadIndex reads
//! are now **0.37** (c=16) and **0.55** (c=64) of a standalone read. Where
//! a read's cost goes at c=64, from `/proc` over 3 s: the leader 34 µs of
//! CPU per read (a standalone read: 22), each follower ~100 µs per
//! heartbeat at ~1,400 heartbeats/s (6 µs per read), the load generator 26
//! µs (22 against the standalone worker); the two cores are saturated.
//! Reads already shared rounds inside openraft 0.10 (it answers every read
//! waiting for a quorum acknowledgement with the first heartbeat sent
//! after it arrived), but each heartbeat was one unary AppendEntries call.
//!
//! **After streamed heartbeats and read rounds** (later on 2026-12-03,
//! `testdata/bench/replicated-get-c*-streamed.json`, same command, 1 KiB
//! values, 5 rounds, load average 3.5 from the benchmark itself): every
//! append and heartbeat to a member now travels on one StreamAppend call
//! kept open (`network`), one message each way instead of a new HTTP/2
//! stream with headers and trailers; and a read takes part in a round of
//! confirmation shared by every read that arrived before the round
//! started (`read_batch`), so the engine sees one request per round, not
//! one per read. ReadIndex reads are now **0.57** (c=16: 10,230/s against
//! 17,360) and **0.70** (c=64: 15,010 against 21,310) of a standalone
//! read. Measured one at a time, alternating binaries: streaming took c=16
//! from 0.37 to 0.55 and c=64 from 0.55 to 0.68; the read rounds, on top
//! of it, 0.54 to 0.57 (c=16) and 0.66 to 0.75 (c=64), where the same
//! layer measured nothing while each heartbeat was a unary call. At c=16
//! the leader still spends ~90 µs of CPU per read against ~48 for a
//! standalone read (`perf stat` over 4 s: 0.58 context switches per read
//! against 0.16), because every read now waits and is woken rather than
//! answered in the poll that read it.
//!
//! **A yield before each round** (2026-12-04, same command, 1 KiB, 3
//! rounds, the old and new binaries alternated twice): the task running
//! the rounds was woken by one read and ran before the reads decoded with
//! it, so each round started with fewer reads than were waiting. Yielding
//! once first took c=16 from 0.42 and 0.45 to 0.46 and 0.47; c=64 stayed
//! within the noise (0.64 and 0.66 before, 0.65 and 0.61 after). That
//! day's machine was not the day before's: a standalone worker served
//! 45,000-50,000 Gets/s at c=16 against 17,360, so ratios from different
//! days do not compare. Tried and not kept: one tokio worker thread per
//! member (`TOKIO_WORKER_THREADS=1`): 0.49 at c=16 and 0.70 at c=64
//! against 0.54 and 0.63 with the default, inside the spread of repeated
//! runs. At c=16 the two cores are not saturated (0.2 of a core idle):
//! the heartbeat round, on members that must be scheduled to answer it,
//! bounds these reads more than their CPU does.
//!
//! A replicated write is three fsyncs on one disk and two extra processes
//! on the same two cores; a linearizable read waits for one heartbeat round
//! to a majority (about 0.3 ms here: one read alone takes 373 µs), so at
//! low concurrency the round, not the CPU, bounds it, and the ratio grows
//! with the reads in flight, which share a round (openraft queues every
//! read behind the next acknowledged heartbeat). A local read costs what a
//! standalone read does. A set whose members have their own machines
//! would see the fsyncs run in parallel and the round at network latency.

mod log_store;
mod metrics;
mod network;
mod read_batch;
mod service;
mod state_machine;
mod types;
mod wire;

#[cfg(test)]
mod tests;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use openraft::{
    BasicNode, Raft, ReadPolicy, ServerState, SnapshotPolicy,
    errors::{ClientWriteError, RaftError},
    type_config::async_runtime::watch::WatchReceiver,
};

use self::{
    log_store::LogStore,
    network::Network,
    read_batch::ReadBatches,
    state_machine::StateMachine,
    types::{Proposal, TypeConfig},
};
pub use self::{
    network::{PeerCredentials, uri},
    service::ReplicationApi,
};
use crate::{
    config::{ClusterConfig, ReadMode, WalConfig},
    error::{Error, Result},
    proto::replication as pb,
    store::{Command, Failed, Outcome, Store},
    wal::{OpenError, Recovery, Report, Wal},
};

/// This worker as a member of a replica set.
#[derive(Clone)]
pub struct RaftNode {
    raft: Raft<TypeConfig, StateMachine>,
    id: u64,
    network: Network,
    wal: Arc<Wal>,
    read: ReadMode,
    /// How long a follower waits to apply a read index.
    read_wait: Duration,
    /// Elections and leader changes, counted by a watcher task.
    counters: crate::metrics::ReplicationCounters,
    /// Linearizable reads, confirmed many to a round.
    reads: Arc<ReadBatches>,
}

impl std::fmt::Debug for RaftNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftNode")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Who leads, as this member knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leader {
    /// The leader's node id.
    pub id: u64,
    /// How this member reaches it (its `cluster.peers` route, else the
    /// address the leader announced).
    pub route: Option<String>,
    /// The address the leader announced to the set (for clients).
    pub announced: Option<String>,
}

impl RaftNode {
    /// Opens the member described by `cluster` on the log in `wal.path`:
    /// recovers the newest snapshot into the store, hands the log to the
    /// Raft engine (which re-applies what it knows to be committed), and on
    /// the bootstrap member forms the set at its first start.
    pub async fn open(
        cluster: &ClusterConfig,
        wal: &WalConfig,
        recovery: Recovery,
        timeout: Duration,
        credentials: PeerCredentials,
    ) -> Result<(Self, Arc<Store>, Report), OpenError> {
        let config = wal.clone();
        let (log, recovered) =
            tokio::task::spawn_blocking(move || Wal::open(&config, recovery, config.history_bytes))
                .await
                .map_err(|err| OpenError::Start(err.to_string()))??;
        let log = Arc::new(log);
        let store = Arc::new(Store::with_request_window(
            wal.history_bytes,
            cluster.request_window,
        ));
        let snapshot_at = recovered.snapshot.as_ref().and_then(|s| s.applied);
        if let Some(snapshot) = recovered.snapshot {
            store.install(snapshot);
        }
        let start = |err: std::io::Error| OpenError::Start(err.to_string());
        let log_store = LogStore::open(
            log.clone(),
            recovered.entries,
            snapshot_at,
            wal.snapshot_bytes,
        )
        .await
        .map_err(start)?;
        let snapshot_due = log_store.snapshot_due();
        let snapshot_path = recovered.report.snapshot_path.as_deref();
        let state_machine =
            StateMachine::new(store.clone(), log.clone(), log_store.clone(), snapshot_path)
                .map_err(start)?;
        let network = Network::new(cluster.peers.clone(), credentials);
        let config = raft_config(cluster).map_err(|e| OpenError::Start(e.to_string()))?;
        let raft = Raft::new(
            cluster.node_id,
            Arc::new(config),
            network.clone(),
            log_store,
            state_machine,
        )
        .await
        .map_err(|e| OpenError::Start(e.to_string()))?;
        let counters = crate::metrics::ReplicationCounters::default();
        metrics::count_elections(&raft, cluster.node_id, counters.clone());
        snapshot_when_due(&raft, snapshot_due);
        let node = RaftNode {
            raft,
            id: cluster.node_id,
            network,
            wal: log,
            read: cluster.read,
            read_wait: timeout,
            counters,
            reads: Arc::new(ReadBatches::default()),
        };
        node.confirm_reads_in_rounds();
        if cluster.bootstrap {
            node.bootstrap(&cluster.peers).await?;
        }
        Ok((node, store, recovered.report))
    }

    /// Forms the set from `peers` unless this member belongs to one.
    async fn bootstrap(&self, peers: &BTreeMap<u64, String>) -> Result<(), OpenError> {
        let initialized = self
            .raft
            .is_initialized()
            .await
            .map_err(|e| OpenError::Start(e.to_string()))?;
        if initialized {
            return Ok(());
        }
        let members: BTreeMap<u64, BasicNode> = peers
            .iter()
            .map(|(id, address)| (*id, BasicNode::new(address)))
            .collect();
        tracing::info!(members = ?members.keys().collect::<Vec<_>>(), "forming the replica set");
        self.raft
            .initialize(members)
            .await
            .map_err(|e| OpenError::Start(format!("cannot form the replica set: {e}")))
    }

    /// Proposes `command` through Raft and returns its outcome once it is
    /// committed and applied here. Only the leader can propose.
    pub async fn propose(&self, command: Command) -> Outcome {
        match self.raft.client_write(Proposal(Arc::new(command))).await {
            Ok(response) => response.data,
            Err(err) => Err(Failed::at(0, self.write_error(err))),
        }
    }

    fn write_error(&self, err: RaftError<TypeConfig, ClientWriteError<TypeConfig>>) -> Error {
        match err {
            RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => {
                let announced = forward.leader_node.map(|n| n.addr);
                Error::NotLeader(announced.or_else(|| self.leader().and_then(|l| l.announced)))
            }
            RaftError::APIError(ClientWriteError::LogEntryDiscarded(_)) => Error::Unavailable(
                "the leader changed before the write was committed; its outcome is unknown \
                 (retry with the same distgo-request-id to be safe)"
                    .into(),
            ),
            RaftError::APIError(other) => Error::Internal(other.to_string()),
            RaftError::Fatal(fatal) => Error::Unavailable(format!("replication stopped: {fatal}")),
        }
    }

    /// Waits until this member may serve a linearizable read: it has
    /// applied everything that was committed when the read arrived. The
    /// confirmation is shared with the reads that arrived with it (see the
    /// module `read_batch`).
    pub async fn linearize(&self) -> Result<()> {
        self.reads.confirm().await
    }

    /// Runs the rounds of read confirmation until the engine stops.
    fn confirm_reads_in_rounds(&self) {
        let node = self.clone();
        let mut server = self.raft.server_metrics();
        let stopped = async move { while server.changed().await.is_ok() {} };
        tokio::spawn(self.reads.clone().serve(
            move || {
                let node = node.clone();
                async move { node.confirm_one_round().await }
            },
            stopped,
        ));
    }

    /// One confirmation: the leader confirms it still leads (ReadIndex, or
    /// its lease); a follower asks the leader for its read index and waits
    /// to have applied that far.
    async fn confirm_one_round(&self) -> Result<()> {
        let policy = match self.read {
            ReadMode::ReadIndex => ReadPolicy::ReadIndex,
            ReadMode::Lease => ReadPolicy::LeaseRead,
        };
        let err = match self.raft.ensure_linearizable(policy).await {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        let Some(forward) = err.forward_to_leader() else {
            return Err(Error::Unavailable(format!("cannot confirm a read: {err}")));
        };
        let leader = forward.leader_id.ok_or(Error::NotLeader(None))?;
        let announced = forward.leader_node.as_ref().map(|n| n.addr.clone());
        let index = self.read_index_from(leader, announced.as_deref()).await?;
        self.raft
            .wait(Some(self.read_wait))
            .applied_index_at_least(Some(index), "a read index")
            .await
            .map_err(|err| {
                Error::Unavailable(format!("this member is behind the leader: {err}"))
            })?;
        Ok(())
    }

    /// Asks the leader `id` which index a linearizable read must wait for.
    async fn read_index_from(&self, id: u64, announced: Option<&str>) -> Result<u64> {
        let mut client = self
            .network
            .client(id, announced)
            .ok_or_else(|| Error::NotLeader(announced.map(str::to_owned)))?;
        let mut request = tonic::Request::new(pb::ReadIndexRequest {});
        request.set_timeout(self.read_wait);
        self.network.authorize(&mut request);
        let reply = client.read_index(request).await.map_err(|status| {
            Error::Unavailable(format!(
                "cannot reach the leader for a read: {}",
                status.message()
            ))
        })?;
        Ok(reply.into_inner().index)
    }

    /// The leader as this member knows it.
    pub fn leader(&self) -> Option<Leader> {
        let metrics = self.raft.metrics().borrow_watched().clone();
        let id = metrics.current_leader?;
        let announced = metrics
            .membership_config
            .membership()
            .get_node(&id)
            .map(|n| n.addr.clone());
        Some(Leader {
            id,
            route: self.network.address_of(id, announced.as_deref()),
            announced,
        })
    }

    /// The log this member's entries are written to.
    pub(crate) fn wal(&self) -> &Arc<Wal> {
        &self.wal
    }

    /// Whether this member leads the set now.
    pub fn is_leader(&self) -> bool {
        self.raft.is_leader()
    }

    /// The shared channel to a member's `address`, for forwarding a
    /// client's request to the leader.
    pub fn channel(&self, address: &str) -> Option<tonic::transport::Channel> {
        self.network.channel(address).ok()
    }

    /// The replication service of this member.
    pub fn service(&self) -> ReplicationApi {
        ReplicationApi::new(self.clone())
    }

    /// What this member knows of the set (the `Status` RPC).
    pub fn status(&self) -> pb::StatusResponse {
        service::status(self)
    }

    /// Stops the Raft engine (shutdown).
    pub async fn shutdown(&self) {
        if let Err(err) = self.raft.shutdown().await {
            tracing::warn!("the raft engine did not stop cleanly: {err}");
        }
    }
}

/// Asks openraft for a snapshot whenever the log store says the bytes
/// appended since the last one passed `wal.snapshot_bytes` (openraft
/// itself counts only entries). openraft ignores the request while a
/// snapshot is being built; the task ends with the engine.
fn snapshot_when_due(raft: &Raft<TypeConfig, StateMachine>, due: Arc<tokio::sync::Notify>) {
    let raft = raft.clone();
    let mut server = raft.server_metrics();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = due.notified() => {
                    if raft.trigger().snapshot().await.is_err() {
                        return;
                    }
                }
                changed = server.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    });
}

/// openraft's configuration from `cluster.*`.
fn raft_config(cluster: &ClusterConfig) -> Result<openraft::Config, openraft::ConfigError> {
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
    openraft::Config {
        cluster_name: "distgo".into(),
        heartbeat_interval: millis(cluster.heartbeat),
        election_timeout_min: millis(cluster.election_timeout.0),
        election_timeout_max: millis(cluster.election_timeout.1),
        snapshot_policy: SnapshotPolicy::LogsSinceLast(cluster.snapshot_entries),
        // Keep some log after a snapshot so that a follower a little behind
        // catches up from the log rather than by a whole snapshot.
        max_in_snapshot_log_to_keep: cluster.snapshot_entries.min(1_000),
        install_snapshot_timeout: 10_000,
        enable_pre_vote: Some(true),
        ..Default::default()
    }
    .validate()
}

/// The state name the `Status` RPC reports.
fn state_name(state: ServerState) -> &'static str {
    match state {
        ServerState::Leader => "leader",
        ServerState::Follower => "follower",
        ServerState::Candidate => "candidate",
        ServerState::Learner => "learner",
        ServerState::Shutdown => "shutdown",
    }
}
