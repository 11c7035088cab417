//! Commands: what the log carries, and what applying one gives back.
//!
//! A [`Command`] is a change *proposed* by the node that received the
//! request. The proposer (the layer above the store, [`crate::replication`])
//! fixes everything that would otherwise make applying it depend on where
//! or when it runs:
//!
//! ```text
//!   proposer (the leader)                        every replica, in log order
//!   ─────────────────────                        ───────────────────────────
//!   proposed_at = clock.now()    ── the log ──▶  commit time = max(proposed_at, last commit + 1ns)
//!   seed        = 128 random bits                ids, entry UUIDs = ChaCha8(seed)
//!   action      = Write([op, op, ...])            checks (NOT_FOUND, ALREADY_EXISTS, ...)
//!                                                 → Outcome: the record, or why it failed
//! ```
//!
//! **State checks happen at apply, not at propose.** Whether a create finds
//! its name taken depends on every command before it in the log, which the
//! proposer cannot know while other commands are in flight (or, in a
//! replica set, while a previous leader's entries are still being applied).
//! So a command that fails is still a log entry: applying it changes
//! nothing and yields the error, identically on every replica, and that
//! error is what the client is told.
//!
//! **Randomness is part of the command.** Generated ids and entry UUIDs
//! come from a ChaCha8 stream seeded by the command's `seed`. ChaCha's
//! output is specified bit for bit (unlike `StdRng`, which may change
//! between versions of `rand`), so replaying the log, on this node after a
//! restart or on another node, yields the same ids and UUIDs.
//!
//! **Time never goes backwards.** The commit time is the proposed time, or
//! one nanosecond after the previous commit if that is later: a leader
//! whose clock is behind its predecessor's still commits in increasing
//! time, so `updated_at` never decreases and WAL time ranges stay contiguous.

use std::sync::Arc;

use rand_chacha::{ChaCha8Rng, rand_core::SeedableRng};

use crate::{
    clock::Timestamp,
    error::Error,
    store::{ops::Op, record::Record},
};

/// One proposed change, as the log stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// The proposer's clock when it proposed the change.
    pub proposed_at: Timestamp,
    /// Entropy for generated ids and entry UUIDs.
    pub seed: [u8; 16],
    /// The client's request id (`distgo-request-id`), for retries without
    /// duplicates.
    pub request_id: Option<String>,
    /// What to do.
    pub action: Action,
}

/// What a command asks of the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Apply these operations all or nothing, as one record: one operation
    /// for a plain request, many for a transaction.
    Write(Vec<Op>),
    /// TruncateWAL: forget history entries committed before this time.
    TrimHistory {
        /// Entries committed before this time go.
        before: Timestamp,
    },
}

/// Operations that failed: which one (0-based) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failed {
    /// Index of the failing operation in the batch.
    pub index: usize,
    /// Why it failed.
    pub error: Error,
}

/// What applying a command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// A write took effect as this record.
    Record(Arc<Record>),
    /// History entries before the command's time were forgotten.
    Trimmed {
        /// How many records went.
        records: usize,
    },
    /// A log entry without a command (a consensus engine's own) was
    /// applied: nothing changed but the store's position.
    Noop,
}

/// The result of applying one command: deterministic, so every replica
/// computes the same one, and it is what the client is answered.
pub type Outcome = Result<Applied, Failed>;

impl Command {
    /// A command proposed at `proposed_at` with entropy `seed`.
    pub fn new(proposed_at: Timestamp, seed: [u8; 16], action: Action) -> Self {
        Command {
            proposed_at,
            seed,
            request_id: None,
            action,
        }
    }

    /// The deterministic random stream of this command.
    pub(crate) fn rng(&self) -> ChaCha8Rng {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&self.seed);
        // The second half is a constant "domain": a seed names one stream.
        key[16..].copy_from_slice(b"distgo-db/ids+v1");
        ChaCha8Rng::from_seed(key)
    }

    /// The commit time of this command after a commit at `last`.
    pub(crate) fn commit_time(&self, last: Timestamp) -> Timestamp {
        self.proposed_at.max(last.next())
    }
}

impl Failed {
    /// A failure of operation `index`.
    pub fn at(index: usize, error: Error) -> Self {
        Failed { index, error }
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::RngCore;

    use super::*;

    fn command(seed: u8) -> Command {
        Command::new(Timestamp::from_nanos(10), [seed; 16], Action::Write(vec![]))
    }

    #[test]
    fn a_seed_names_one_stream_and_different_seeds_differ() {
        let (mut a, mut b, mut c) = (command(1).rng(), command(1).rng(), command(2).rng());
        let (x, y, z) = (a.next_u64(), b.next_u64(), c.next_u64());
        assert_eq!(x, y);
        assert_ne!(x, z);
    }

    #[test]
    fn the_stream_is_chacha8_bit_for_bit() {
        // Pinned: replaying an old log must give the same ids, so the
        // stream of a seed may never change without a format version.
        let mut rng = command(0).rng();
        assert_eq!(rng.next_u64(), 3_906_380_547_417_668_457);
    }

    #[test]
    fn commit_time_is_the_proposal_unless_time_went_backwards() {
        let c = command(0);
        assert_eq!(
            c.commit_time(Timestamp::from_nanos(3)),
            Timestamp::from_nanos(10)
        );
        assert_eq!(
            c.commit_time(Timestamp::from_nanos(10)),
            Timestamp::from_nanos(11)
        );
        assert_eq!(
            c.commit_time(Timestamp::from_nanos(50)),
            Timestamp::from_nanos(51)
        );
    }
}
