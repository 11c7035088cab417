//! # Metrics
//!
//! With `metrics.port` set, a worker serves Prometheus metrics at
//! `http://HOST:PORT/metrics` (`metrics.host`, by default `grpc.host`), in
//! the OpenMetrics text format. Port `0` picks a free port, which the
//! worker logs before its gRPC listening line:
//!
//! ```text
//! INFO distgo metrics listening node=worker_1 address=127.0.0.1:9464
//! INFO distgo worker listening node=worker_1 address=127.0.0.1:55055 ...
//! ```
//!
//! Beside this crate sit a Prometheus configuration with alert rules
//! (`fixtures/prometheus/prometheus.yml`, `alerts.yml`) and a Grafana
//! dashboard (`fixtures/grafana/distgo.json`, importable as is); a test
//! (`tests/prometheus.rs`) runs a real Prometheus against a worker and
//! checks that every panel and every alert finds its series.
//!
//! ```text
//!   gRPC request ─▶ RequestsLayer ─▶ auth ─▶ edge ─▶ routing ─▶ handler
//!                   count, time, in flight
//!   wal writer thread ─▶ WalMetrics     (per batch: appends, bytes, fsync)
//!   transactions      ─▶ TxnMetrics     (begin, commit, abort)
//!   raft watcher task ─▶ ReplicationCounters (elections, leader changes)
//!
//!   GET /metrics ─▶ Registry ─▶ the handles above, plus collectors that read
//!                               the store, the log and openraft's metrics *now*
//! ```
//!
//! ## Every metric
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `distgo_build_info` | info | `version`, `node` | always 1: which build runs under which node name |
//! | `distgo_grpc_requests_total` | counter | `service`, `method`, `code` | requests answered; `code` is the gRPC status name (`OK`, `NOT_FOUND`, ...) |
//! | `distgo_grpc_request_duration_seconds` | histogram | `service`, `method` | time from receiving a request to its response head |
//! | `distgo_grpc_requests_in_flight` | gauge | | requests received, not yet answered |
//! | `distgo_store_databases` | gauge | | databases |
//! | `distgo_store_collections` | gauge | | collections |
//! | `distgo_store_documents` | gauge | | documents |
//! | `distgo_store_document_bytes` | gauge | | bytes of document values, as written by clients |
//! | `distgo_store_history_records` | gauge | | records ListWALEntries can list |
//! | `distgo_store_history_bytes` | gauge | | their encoded bytes (bounded by `wal.history_bytes`) |
//! | `distgo_wal_appended_entries_total` | counter | | log entries appended |
//! | `distgo_wal_written_bytes_total` | counter | | bytes written to log segments |
//! | `distgo_wal_fsync_duration_seconds` | histogram | | time one `fdatasync` of the log took |
//! | `distgo_wal_entries_per_fsync` | histogram | | entries one fsync made durable: group commit at work |
//! | `distgo_wal_snapshot_duration_seconds` | histogram | | time to write one snapshot file |
//! | `distgo_wal_log_bytes` | gauge | | bytes of the log segments on disk |
//! | `distgo_wal_snapshot_bytes` | gauge | | bytes of the newest snapshot file |
//! | `distgo_wal_failed` | gauge | | 1 once a write or fsync failed (writes refused until restart) |
//! | `distgo_transactions_open` | gauge | | transactions begun, not yet ended |
//! | `distgo_transactions_begun_total` | counter | | transactions begun |
//! | `distgo_transactions_committed_total` | counter | | transactions committed |
//! | `distgo_transactions_aborted_total` | counter | `reason` | ended without committing: `rollback`, `failed`, `expired` |
//! | `distgo_raft_term` | gauge | | the current Raft term |
//! | `distgo_raft_leader` | gauge | | 1 while this member leads |
//! | `distgo_raft_leader_id` | gauge | | the leader this member knows, 0 when none |
//! | `distgo_raft_last_log_index` | gauge | | last entry in this member's log |
//! | `distgo_raft_commit_index` | gauge | | highest index known committed |
//! | `distgo_raft_apply_index` | gauge | | highest index applied to the store |
//! | `distgo_raft_snapshot_index` | gauge | | index the newest snapshot covers |
//! | `distgo_raft_peer_lag_entries` | gauge | `peer` | on the leader: entries each member lacks |
//! | `distgo_raft_elections_total` | counter | | elections this member started |
//! | `distgo_raft_leader_changes_total` | counter | | leader changes this member saw |
//!
//! The `wal_*` metrics exist with `wal.path`; the `raft_*` ones on a
//! replica set member. The store's, the log's and the transactions' gauges
//! are read at scrape time; everything else is counted as it happens.
//!
//! ## Naming
//!
//! Prometheus's conventions, which its query language and every dashboard
//! assume: a `distgo_` prefix, then the subsystem (`grpc`, `store`, `wal`,
//! `transactions`, `raft`); base units only (`_seconds`, `_bytes`, never
//! milliseconds or megabytes); `_total` on counters, which only go up (a
//! `rate()` over them survives restarts); no unit on plain counts. A label
//! has a small, fixed set of values — a method name, a status code, a peer
//! id — never something a client chooses, so the number of series is
//! bounded whatever clients send.
//!
//! ## Why recording is cheap
//!
//! The crate is [`prometheus_client`]: a counter is an `AtomicU64`, a gauge
//! an `AtomicI64`, a histogram a few words behind an uncontended lock;
//! registries are plain values (one per worker, no global recorder, so
//! tests run several workers in one process). Three rules keep the hot
//! path at a handful of atomic operations:
//!
//! 1. **Handles, not lookups.** A labelled metric is a family (a map from
//!    labels to metrics); looking it up hashes the labels. Every hook
//!    holds its handle instead, made up front or on first use
//!    ([`requests`] keeps one per method and status code), so a request
//!    never touches a map, formats a label or allocates.
//! 2. **Count per batch.** The log's writer records once per write and per
//!    fsync, however many requests share them.
//! 3. **Read state when scraped.** Sizes, indexes and open transactions
//!    are what the store and openraft already know; reading them every 15
//!    seconds costs less than keeping a copy up to date on every write.
//!
//! What that costs in throughput, measured with `distgo-conformance bench
//! --baseline` (a worker without metrics measured alternately with one
//! with them, in the same run), is in [the performance
//! chapter](crate::performance#metrics-tls-and-tokens) and the README.
//!
//! Without `metrics.port` the request layer records nothing; the log's
//! and transactions' counters are still kept (they are a few atomic adds
//! per batch) and simply never shown.

pub mod http;
pub mod replication;
pub mod requests;
pub mod storage;
pub mod transactions;

use std::sync::Arc;

use prometheus_client::{encoding::text::encode, metrics::info::Info, registry::Registry};

pub use self::{
    replication::{ReplicationCounters, ReplicationSample},
    requests::{RequestMetrics, RequestsLayer},
    storage::WalMetrics,
    transactions::{Abort, TxnMetrics},
};
use crate::{replication::Replica, txn::Transactions};

/// The metrics of one worker: its registry and the request handles.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Arc<RequestMetrics>,
}

impl Metrics {
    /// Registers everything a worker named `node` has: its requests, its
    /// store and log, its transactions and, on a replica set member, its
    /// replication state.
    pub fn for_worker(node: &str, replica: &Replica, transactions: &Arc<Transactions>) -> Self {
        let mut registry = Registry::with_prefix("distgo");
        let build = [
            ("version", env!("CARGO_PKG_VERSION").to_owned()),
            ("node", node.to_owned()),
        ];
        registry.register(
            "build",
            "The build and node name of this worker",
            Info::new(build),
        );
        let requests = Arc::new(RequestMetrics::new(&mut registry));
        transactions.metrics().register(&mut registry);
        let wal = replica.wal().cloned();
        if let Some(wal) = &wal {
            wal.metrics().register(&mut registry);
        }
        registry.register_collector(Box::new(storage::StateCollector {
            store: replica.store().clone(),
            transactions: transactions.clone(),
            wal,
        }));
        if let Some(node) = replica.raft() {
            replication::register(&mut registry, node);
        }
        Metrics { registry, requests }
    }

    /// The request handles, for [`RequestsLayer`].
    pub fn requests(&self) -> Arc<RequestMetrics> {
        self.requests.clone()
    }

    /// Everything, in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut text = String::with_capacity(16 << 10);
        if let Err(err) = encode(&mut text, &self.registry) {
            // Writing to a String cannot fail; a collector could, and
            // half a page would mislead, so say so instead.
            tracing::error!("cannot encode the metrics: {err}");
            return format!("# error: cannot encode the metrics: {err}\n# EOF\n");
        }
        text
    }
}
