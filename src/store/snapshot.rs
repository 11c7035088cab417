//! Snapshots: the whole state at one log position, as bytes.
//!
//! A snapshot is what lets a log be cut short: everything up to its
//! position can be deleted, because the snapshot plus the entries after it
//! rebuild the same state. The same bytes serve two purposes, so they are
//! defined here, beside the state they describe, rather than by either of
//! their users: the log's snapshot files ([`crate::wal`]) and the chunks a
//! replica set streams to a member that is too far behind.
//!
//! ```text
//! ┌───────────────────┬─────────────┐
//! │ magic "DGDBSNAP"  │ version u32 │   version 3
//! ├──────────┬────────┴─────────────┼───────────────────┬────────────────────────────┐
//! │ applied  │ last commit i64      │ membership        │ history                    │
//! │ position?│                      │ position?, bytes  │ first u64, next u64,       │
//! │          │                      │                   │ records u32, record*       │
//! ├──────────┴──────────────────────┴───────────────────┴────────────────────────────┤
//! │ requests u32, (id string, commit time i64, outcome)*   remembered request ids   │
//! ├───────────────┬───────────────────┬─────────┬──────────────────────────────────────┘
//! │ databases u32 │ database 1        │ ...     │   the tree, in id order
//! ├───────────────┴───────────────────┴─────────┤
//! │ CRC-32C u32 of every byte before it          │
//! └──────────────────────────────────────────────┘
//!
//! position?  = present u8, then term u64, node u64, index u64
//! database   = id, row, collections u32, collection*
//! collection = id, row, documents u32, document*
//! document   = id, row
//! row        = text, created i64, updated i64        (strings: u32 length + UTF-8)
//! record, outcome = as in `codec`
//! ```
//!
//! The tree is written in id order, so loading builds each map from sorted
//! input (and refuses input that is not sorted: that is corruption). The
//! encoder writes to any `io::Write` in chunks of about 1 MiB, so a
//! snapshot of millions of documents never needs a second copy of itself
//! in memory, and a network stream can send each chunk as it comes.

use std::{
    collections::BTreeMap,
    io::{self, Write},
    sync::Arc,
};

use crate::{
    clock::Timestamp,
    encoding::{DecodeError, Decoder, put_bytes, put_str, put_time, put_u8, put_u32, put_u64},
    names::IdKind,
    store::{
        codec::{
            coll_row, db_row, decode_row_fields, doc_row, encode_outcome, encode_record, put_row,
            read_outcome, read_record, row_parts_coll, row_parts_db, row_parts_doc,
        },
        history::History,
        position::{LogPosition, Membership},
        requests::{DEFAULT_WINDOW, Requests},
        tree::{CollectionNode, DatabaseNode, Key, Tree},
    },
};

const MAGIC: &[u8; 8] = b"DGDBSNAP";
const VERSION: u32 = 3;
const CHUNK: usize = 1 << 20;
/// The fewest bytes an item of a tree level can take: id length, row.
const MIN_ITEM: usize = 4 + 4 + 16;
/// The fewest bytes a record can take.
const MIN_RECORD: usize = 8 + 8 + 4;

/// A consistent copy of the whole state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The databases, collections and documents.
    pub tree: Tree,
    /// The records ListWALEntries can list.
    pub history: History,
    /// The request ids remembered for retries, with their outcomes.
    pub requests: Requests,
    /// The last log entry the snapshot includes (`None`: none).
    pub applied: Option<LogPosition>,
    /// The commit time of the last record; later commits are later.
    pub last_commit: Timestamp,
    /// The replica set's membership as of `applied`.
    pub membership: Membership,
}

impl Snapshot {
    /// Writes the snapshot's bytes to `out` in chunks; returns how many.
    pub fn encode(&self, out: &mut impl Write) -> io::Result<u64> {
        let mut sink = Sink {
            out,
            buf: Vec::with_capacity(CHUNK + 64 * 1024),
            crc: 0,
            written: 0,
        };
        self.encode_into(&mut sink)?;
        sink.finish()
    }

    /// The snapshot's bytes in one buffer (tests, small states).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = self.encode(&mut bytes);
        bytes
    }

    fn encode_into<W: Write>(&self, sink: &mut Sink<'_, W>) -> io::Result<()> {
        let buf = &mut sink.buf;
        buf.extend_from_slice(MAGIC);
        put_u32(buf, VERSION);
        put_position(buf, self.applied);
        put_time(buf, self.last_commit);
        put_position(buf, self.membership.at);
        put_bytes(buf, &self.membership.config);
        put_u64(buf, self.history.first_retained());
        put_u64(buf, self.history.next_seq());
        put_u32(buf, self.history.len() as u32);
        for record in self.history.records() {
            encode_record(record, &mut sink.buf);
            sink.flush_if_full()?;
        }
        put_u32(&mut sink.buf, self.requests.len() as u32);
        for (id, at, outcome) in self.requests.entries() {
            put_str(&mut sink.buf, id);
            put_time(&mut sink.buf, at);
            encode_outcome(outcome, &mut sink.buf);
            sink.flush_if_full()?;
        }
        let databases = self.tree.databases();
        put_u32(&mut sink.buf, databases.len() as u32);
        for (id, db) in databases {
            put_str(&mut sink.buf, id);
            put_row(&mut sink.buf, row_parts_db(&db.row));
            put_u32(&mut sink.buf, db.collections.len() as u32);
            for (id, coll) in &db.collections {
                put_str(&mut sink.buf, id);
                put_row(&mut sink.buf, row_parts_coll(&coll.row));
                put_u32(&mut sink.buf, coll.documents.len() as u32);
                for (id, doc) in &coll.documents {
                    put_str(&mut sink.buf, id);
                    put_row(&mut sink.buf, row_parts_doc(doc));
                    sink.flush_if_full()?;
                }
            }
        }
        Ok(())
    }

    /// Reads and checks bytes written by [`Snapshot::encode`]; the history
    /// keeps about `history_budget` bytes.
    pub fn decode(bytes: &[u8], history_budget: u64) -> Result<Snapshot, DecodeError> {
        let fail = |offset: usize, what: &str| DecodeError {
            offset,
            what: what.to_owned(),
        };
        let Some((body, crc)) = bytes.split_last_chunk::<4>() else {
            return Err(fail(0, "snapshot shorter than its checksum"));
        };
        if body.len() < MAGIC.len() + 4 || &body[..MAGIC.len()] != MAGIC {
            return Err(fail(0, "not a distgo-db snapshot"));
        }
        if crc32c::crc32c(body) != u32::from_le_bytes(*crc) {
            return Err(fail(body.len(), "snapshot fails its checksum"));
        }
        let mut d = Decoder::new(body);
        d.take(MAGIC.len())?;
        let version = d.u32()?;
        if version != VERSION {
            return Err(fail(MAGIC.len(), &format!("unsupported version {version}")));
        }
        let snapshot = decode_body(&mut d, history_budget)?;
        d.finish()?;
        Ok(snapshot)
    }
}

fn put_position(buf: &mut Vec<u8>, position: Option<LogPosition>) {
    match position {
        None => put_u8(buf, 0),
        Some(p) => {
            put_u8(buf, 1);
            put_u64(buf, p.term);
            put_u64(buf, p.node);
            put_u64(buf, p.index);
        }
    }
}

fn position(d: &mut Decoder<'_>) -> Result<Option<LogPosition>, DecodeError> {
    match d.u8()? {
        0 => Ok(None),
        1 => Ok(Some(LogPosition {
            term: d.u64()?,
            node: d.u64()?,
            index: d.u64()?,
        })),
        other => Err(d.error(format!("bad presence byte {other}"))),
    }
}

fn decode_body(d: &mut Decoder<'_>, history_budget: u64) -> Result<Snapshot, DecodeError> {
    let applied = position(d)?;
    let last_commit = d.time()?;
    let membership = Membership {
        at: position(d)?,
        config: d.bytes()?.to_vec(),
    };
    let history = decode_history(d, history_budget)?;
    let requests = decode_requests(d)?;
    let databases = sorted_map(
        d,
        |d| {
            let row = db_row(decode_row_fields(d)?);
            let collections = sorted_map(
                d,
                |d| {
                    let row = coll_row(decode_row_fields(d)?);
                    let documents = sorted_map(
                        d,
                        |d| Ok(Arc::new(doc_row(decode_row_fields(d)?))),
                        IdKind::Child,
                    )?;
                    Ok(CollectionNode::new(row, documents))
                },
                IdKind::Child,
            )?;
            Ok(DatabaseNode { row, collections })
        },
        IdKind::Database,
    )?;
    Ok(Snapshot {
        tree: Tree::from_databases(databases),
        history,
        requests,
        applied,
        last_commit,
        membership,
    })
}

/// The history: consecutive records from `first` on, ending before `next`.
fn decode_history(d: &mut Decoder<'_>, budget: u64) -> Result<History, DecodeError> {
    let first = d.u64()?;
    let next = d.u64()?;
    let count = d.count(MIN_RECORD)?;
    let mut records = Vec::with_capacity(count);
    for n in 0..count {
        let record = read_record(d)?;
        let expected = first.saturating_add(n as u64);
        if record.seq != expected {
            let why = format!("history record {} where {expected} belongs", record.seq);
            return Err(d.error(why));
        }
        records.push(Arc::new(record));
    }
    if first.saturating_add(count as u64) != next {
        return Err(d.error(format!("history ends before {next}")));
    }
    Ok(History::from_parts(budget, first, next, records))
}

/// The remembered request ids, oldest first. The window is the loading
/// store's own; [`Store::install`](super::Store::install) applies it.
fn decode_requests(d: &mut Decoder<'_>) -> Result<Requests, DecodeError> {
    let count = d.count(4 + 8 + 1)?;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let id = d.str()?.to_owned();
        let at = d.time()?;
        entries.push((id, at, read_outcome(d)?));
    }
    Ok(Requests::from_entries(DEFAULT_WINDOW, entries))
}

/// A count, then that many `(id, value)` items in strictly increasing id
/// order (the order they were written in; anything else is corruption).
fn sorted_map<V>(
    d: &mut Decoder<'_>,
    mut value: impl FnMut(&mut Decoder<'_>) -> Result<V, DecodeError>,
    kind: IdKind,
) -> Result<BTreeMap<Key, V>, DecodeError> {
    let count = d.count(MIN_ITEM)?;
    let mut items: Vec<(Key, V)> = Vec::with_capacity(count);
    for _ in 0..count {
        let id = d.id(kind)?;
        if items
            .last()
            .is_some_and(|(last, _)| last.as_str() >= id.as_str())
        {
            return Err(d.error(format!("id {id:?} out of order")));
        }
        items.push((Key::from(id), value(d)?));
    }
    Ok(items.into_iter().collect())
}

/// Bytes on their way out, with the running checksum.
struct Sink<'a, W: Write> {
    out: &'a mut W,
    buf: Vec<u8>,
    crc: u32,
    written: u64,
}

impl<W: Write> Sink<'_, W> {
    fn flush_if_full(&mut self) -> io::Result<()> {
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.crc = crc32c::crc32c_append(self.crc, &self.buf);
        self.out.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Writes the rest and the checksum.
    fn finish(mut self) -> io::Result<u64> {
        self.flush()?;
        self.out.write_all(&self.crc.to_le_bytes())?;
        Ok(self.written + 4)
    }
}
