//! The write-ahead log.
//!
//! Every record the store commits is appended here, in commit order, while
//! the store still holds its write lock; the store then releases the lock and
//! waits on the returned [`Ticket`] before acknowledging the client.
//!
//! This first version keeps nothing: records are acknowledged at once and
//! the state lives only in memory. The durable log (a file, group commit,
//! snapshots) plugs in behind the same two calls.

use std::sync::Arc;

use crate::{error::Result, store::Record};

/// Where committed records go.
#[derive(Debug, Default)]
pub struct Wal {}

/// A promise that one appended record will become durable.
#[derive(Debug)]
#[must_use = "a write is acknowledged only after its ticket is waited on"]
pub struct Ticket {}

impl Wal {
    /// A log that keeps nothing: memory-only mode.
    pub fn memory() -> Self {
        Wal {}
    }

    /// Appends `record`. Called with the store's write lock held, so it must
    /// only enqueue, never wait for a disk.
    pub fn append(&self, _record: &Arc<Record>) -> Result<Ticket> {
        Ok(Ticket {})
    }
}

impl Ticket {
    /// Waits until the record is as durable as the log's sync policy promises.
    pub async fn wait(self) -> Result<()> {
        Ok(())
    }
}
