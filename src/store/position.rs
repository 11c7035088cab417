//! Where the store is in the log.
//!
//! A state machine must know which log entry it applied last: after a
//! restart the log replays from the entry after it, and a replica set's
//! consensus engine decides from it what to send a lagging member. The
//! store keeps that position, and the membership of the replica set, as
//! part of its state (and of every snapshot), without knowing what either
//! means to the layer above: the position is three numbers, the membership
//! is bytes that only [`crate::replication`] reads.

/// The position of a log entry: its index and the leader that wrote it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogPosition {
    /// The leader's term when the entry was written (0 on a standalone worker).
    pub term: u64,
    /// The node that led that term (0 on a standalone worker).
    pub node: u64,
    /// The entry's index in the log, from 1 (0 for a replica set's first
    /// entry in some engines; the store only compares positions).
    pub index: u64,
}

/// The replica set's membership as last applied: opaque to the store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Membership {
    /// The entry that set it; `None` before any membership was applied.
    pub at: Option<LogPosition>,
    /// The encoded membership, as [`crate::replication`] wrote it.
    pub config: Vec<u8>,
}

impl LogPosition {
    /// The position of entry `index` of a standalone worker's log.
    pub fn solo(index: u64) -> Self {
        LogPosition {
            term: 0,
            node: 0,
            index,
        }
    }
}
