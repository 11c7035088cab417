//! Transactions: how many begin, commit and end without committing.
//!
//! The open count is read when scraped (see [`super::storage`]); these are
//! the events. An abort has a reason, one of three fixed values, each with
//! its handle made up front:
//!
//! | `reason` | when |
//! |---|---|
//! | `rollback` | the client called Rollback |
//! | `failed` | Commit was called but an operation failed, so nothing was applied |
//! | `expired` | `transactions.ttl` passed before Commit or Rollback |

use prometheus_client::{
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};

type Reason = [(&'static str, &'static str); 1];

/// Why a transaction ended without committing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Abort {
    /// Rollback.
    Rollback,
    /// Commit failed; nothing was applied.
    Failed,
    /// It expired.
    Expired,
}

/// The transaction counters of a worker (each [`crate::txn::Transactions`]
/// has one, registered only when metrics are served).
#[derive(Clone, Debug)]
pub struct TxnMetrics {
    begun: Counter,
    committed: Counter,
    aborted: Family<Reason, Counter>,
    by_reason: [Counter; 3],
}

impl Default for TxnMetrics {
    fn default() -> Self {
        let aborted = Family::<Reason, Counter>::default();
        let by_reason = ["rollback", "failed", "expired"]
            .map(|reason| aborted.get_or_create_owned(&[("reason", reason)]));
        TxnMetrics {
            begun: Counter::default(),
            committed: Counter::default(),
            aborted,
            by_reason,
        }
    }
}

impl TxnMetrics {
    /// A transaction began.
    pub fn begun(&self) {
        self.begun.inc();
    }

    /// A transaction's Commit ended: applied (`true`) or failed, so
    /// nothing was applied.
    pub fn ended(&self, committed: bool) {
        match committed {
            true => self.committed.inc(),
            false => self.by_reason[1].inc(),
        };
    }

    /// `count` transactions ended without committing, for `why`.
    pub fn aborted(&self, why: Abort, count: usize) {
        let index = match why {
            Abort::Rollback => 0,
            Abort::Failed => 1,
            Abort::Expired => 2,
        };
        self.by_reason[index].inc_by(count as u64);
    }

    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "transactions_begun",
            "Transactions begun",
            self.begun.clone(),
        );
        registry.register(
            "transactions_committed",
            "Transactions committed",
            self.committed.clone(),
        );
        registry.register(
            "transactions_aborted",
            "Transactions ended without committing, by reason",
            self.aborted.clone(),
        );
    }
}
