//! Log entries: a command (or a consensus engine's own entry) at a position.
//!
//! The log is a sequence of entries, each at a [`LogPosition`]: its index
//! and the term and node of the leader that wrote it (both 0 on a
//! standalone worker). Most entries carry a [`Command`] for the store; a
//! replica set's consensus engine adds entries of its own, a *blank* entry
//! that a new leader commits to learn what is committed, and *membership*
//! entries that change who belongs to the set. The log does not interpret
//! either: a membership is bytes that [`crate::replication`] encodes.
//!
//! ```text
//! entry payload (inside one frame, see `frame`)
//! ┌──────────┬──────────┬───────────┬─────────┬──────────────────────────────┐
//! │ term u64 │ node u64 │ index u64 │ kind u8 │ 1 command: the command bytes │
//! │          │          │           │         │ 2 blank:   nothing           │
//! │          │          │           │         │ 3 membership: bytes          │
//! └──────────┴──────────┴───────────┴─────────┴──────────────────────────────┘
//! ```

use std::sync::Arc;

use crate::{
    encoding::{DecodeError, Decoder, put_bytes, put_u8, put_u64},
    store::{
        Command, LogPosition,
        codec::{command_len, decode_command, encode_command},
    },
};

const COMMAND: u8 = 1;
const BLANK: u8 = 2;
const MEMBERSHIP: u8 = 3;
/// Bytes before an entry's payload: term, node, index, kind.
const FIXED: usize = 8 + 8 + 8 + 1;

/// One entry of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// Where the entry is, and which leader wrote it.
    pub position: LogPosition,
    /// What it carries.
    pub payload: Payload,
}

/// What a log entry carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// A command for the store (shared: the same command travels to the
    /// store, to the disk and, in a replica set, to every member).
    Command(Arc<Command>),
    /// A consensus engine's entry that changes nothing.
    Blank,
    /// A new membership of the replica set, encoded by the replication layer.
    Membership(Vec<u8>),
}

impl LogEntry {
    /// The entry's index in the log.
    pub fn index(&self) -> u64 {
        self.position.index
    }

    /// Appends the entry's bytes to `buf`.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        put_u64(buf, self.position.term);
        put_u64(buf, self.position.node);
        put_u64(buf, self.position.index);
        match &self.payload {
            Payload::Command(command) => {
                put_u8(buf, COMMAND);
                encode_command(command, buf);
            }
            Payload::Blank => put_u8(buf, BLANK),
            Payload::Membership(config) => {
                put_u8(buf, MEMBERSHIP);
                put_bytes(buf, config);
            }
        }
    }

    /// The exact length [`LogEntry::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        FIXED
            + match &self.payload {
                Payload::Command(command) => command_len(command),
                Payload::Blank => 0,
                Payload::Membership(config) => 4 + config.len(),
            }
    }

    /// Decodes bytes written by [`LogEntry::encode`].
    pub fn decode(bytes: &[u8]) -> Result<LogEntry, DecodeError> {
        let mut d = Decoder::new(bytes);
        let position = LogPosition {
            term: d.u64()?,
            node: d.u64()?,
            index: d.u64()?,
        };
        let payload = match d.u8()? {
            COMMAND => {
                let rest = d.take(d.remaining())?;
                let command = decode_command(rest).map_err(|mut e| {
                    e.offset += FIXED;
                    e
                })?;
                Payload::Command(Arc::new(command))
            }
            BLANK => Payload::Blank,
            MEMBERSHIP => Payload::Membership(d.bytes()?.to_vec()),
            other => return Err(d.error(format!("unknown entry kind {other}"))),
        };
        d.finish()?;
        Ok(LogEntry { position, payload })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        clock::Timestamp,
        store::{Action, Op},
    };

    fn entries() -> Vec<LogEntry> {
        let command = Command::new(
            Timestamp::from_nanos(42),
            [3; 16],
            Action::Write(vec![Op::CreateDatabase {
                id: Some("shop".into()),
                display_name: "Shop".into(),
            }]),
        );
        let at = |index| LogPosition {
            term: 7,
            node: 2,
            index,
        };
        vec![
            LogEntry {
                position: at(1),
                payload: Payload::Blank,
            },
            LogEntry {
                position: at(2),
                payload: Payload::Membership(vec![1, 2, 3]),
            },
            LogEntry {
                position: LogPosition::solo(3),
                payload: Payload::Command(Arc::new(command)),
            },
        ]
    }

    #[test]
    fn every_kind_round_trips_at_its_computed_length() {
        for entry in entries() {
            let mut bytes = Vec::new();
            entry.encode(&mut bytes);
            assert_eq!(bytes.len(), entry.encoded_len());
            assert_eq!(LogEntry::decode(&bytes), Ok(entry));
        }
    }

    #[test]
    fn truncated_or_unknown_entries_are_refused() {
        for entry in entries() {
            let mut bytes = Vec::new();
            entry.encode(&mut bytes);
            for cut in 0..bytes.len() {
                assert!(LogEntry::decode(&bytes[..cut]).is_err(), "cut at {cut}");
            }
            bytes[24] = 9;
            assert!(LogEntry::decode(&bytes).is_err());
        }
    }
}
