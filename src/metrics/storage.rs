//! The store and its log: what is stored, and what keeping it costs.
//!
//! Two kinds of metric, chosen by what each costs to keep:
//!
//! - **Counted as it happens** ([`WalMetrics`]): appends, bytes written,
//!   fsync latency, entries per fsync, snapshot duration. The writer thread
//!   records them once per *batch*, not per request, so even at 100 000
//!   writes a second they are a few hundred atomic adds.
//! - **Read when scraped** (a collector the registry calls): databases, collections,
//!   documents, document bytes, history, log and snapshot bytes, open
//!   transactions. The store already knows these (counts per collection,
//!   kept as documents come and go), so a scrape reads them under the
//!   store's read lock in O(databases + collections) and the write path
//!   pays nothing extra.

use std::{fmt, sync::Arc, time::Duration};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{MetricType, counter::Counter, gauge::ConstGauge, histogram::Histogram},
    registry::{Registry, Unit},
};

use crate::{store::Store, txn::Transactions, wal::Wal};

/// fsync latency buckets, in seconds: 100 µs (a write cache) to 2.5 s (a
/// disk in trouble).
const FSYNC_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Entries made durable by one fsync: 1 (one writer) to 4096 (group commit
/// under a crowd).
const PER_FSYNC_BUCKETS: [f64; 13] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0,
];

/// Snapshot durations, in seconds: 1 ms (a small store) to 2 minutes.
const SNAPSHOT_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 120.0,
];

/// The write-ahead log's counters, kept by the log itself (each [`Wal`]
/// has one, registered only when metrics are served).
#[derive(Clone, Debug)]
pub struct WalMetrics {
    appended: Counter,
    written: Counter,
    fsync: Histogram,
    per_fsync: Histogram,
    snapshots: Histogram,
}

impl Default for WalMetrics {
    fn default() -> Self {
        WalMetrics {
            appended: Counter::default(),
            written: Counter::default(),
            fsync: Histogram::new(FSYNC_BUCKETS),
            per_fsync: Histogram::new(PER_FSYNC_BUCKETS),
            snapshots: Histogram::new(SNAPSHOT_BUCKETS),
        }
    }
}

impl WalMetrics {
    /// `entries` were encoded into the next write.
    pub fn appended(&self, entries: usize) {
        self.appended.inc_by(entries as u64);
    }

    /// One `write(2)` of `bytes`.
    pub fn written(&self, bytes: usize) {
        self.written.inc_by(bytes as u64);
    }

    /// One fsync that took `took` and made `entries` durable.
    pub fn synced(&self, took: Duration, entries: u64) {
        self.fsync.observe(took.as_secs_f64());
        // A roll syncs a segment that may hold nothing new.
        if entries > 0 {
            self.per_fsync.observe(entries as f64);
        }
    }

    /// A snapshot was written in `took`.
    pub fn snapshot_written(&self, took: Duration) {
        self.snapshots.observe(took.as_secs_f64());
    }

    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "wal_appended_entries",
            "Log entries appended",
            self.appended.clone(),
        );
        registry.register_with_unit(
            "wal_written",
            "Bytes written to log segments",
            Unit::Bytes,
            self.written.clone(),
        );
        registry.register_with_unit(
            "wal_fsync_duration",
            "Time one fdatasync of the log took",
            Unit::Seconds,
            self.fsync.clone(),
        );
        registry.register(
            "wal_entries_per_fsync",
            "Log entries made durable by one fsync (group commit)",
            self.per_fsync.clone(),
        );
        registry.register_with_unit(
            "wal_snapshot_duration",
            "Time to write one snapshot file (encode, write, fsync, rename)",
            Unit::Seconds,
            self.snapshots.clone(),
        );
    }
}

/// Reads the store's, the log's and the transactions' gauges at scrape time.
pub(super) struct StateCollector {
    pub(super) store: Arc<Store>,
    pub(super) transactions: Arc<Transactions>,
    pub(super) wal: Option<Arc<Wal>>,
}

impl fmt::Debug for StateCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateCollector").finish_non_exhaustive()
    }
}

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let sizes = self.store.sizes();
        let e = &mut encoder;
        gauge(e, "store_databases", "Databases", None, sizes.databases)?;
        gauge(
            e,
            "store_collections",
            "Collections",
            None,
            sizes.collections,
        )?;
        gauge(e, "store_documents", "Documents", None, sizes.documents)?;
        let help = "Bytes of document values (JSON text as written)";
        gauge(
            e,
            "store_document",
            help,
            Some(&Unit::Bytes),
            sizes.document_bytes,
        )?;
        let help = "Records ListWALEntries can list";
        gauge(
            e,
            "store_history_records",
            help,
            None,
            sizes.history_records,
        )?;
        let help = "Encoded bytes of the history ListWALEntries can list";
        gauge(
            e,
            "store_history",
            help,
            Some(&Unit::Bytes),
            sizes.history_bytes,
        )?;
        let open = self.transactions.open_count() as u64;
        gauge(
            e,
            "transactions_open",
            "Transactions begun and not yet ended",
            None,
            open,
        )?;
        if let Some(wal) = &self.wal {
            let help = "Bytes of the log segments on disk";
            gauge(e, "wal_log", help, Some(&Unit::Bytes), wal.log_bytes())?;
            let help = "Bytes of the newest snapshot file";
            let snapshot = wal.newest_snapshot_bytes();
            gauge(e, "wal_snapshot", help, Some(&Unit::Bytes), snapshot)?;
            let help = "1 once a write or fsync failed: the log refuses writes until a restart";
            gauge(e, "wal_failed", help, None, u64::from(wal.is_poisoned()))?;
        }
        Ok(())
    }
}

/// Encodes one unlabelled gauge.
pub(super) fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: u64,
) -> Result<(), fmt::Error> {
    let metric = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
    let descriptor = encoder.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    metric.encode(descriptor)
}
