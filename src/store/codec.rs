//! The binary forms of commands and records, byte by byte.
//!
//! Commands are what the log stores ([`crate::wal`] wraps each in an entry
//! with its index and term); records are what a snapshot keeps of the WAL
//! history. Both are built from the primitives of [`crate::encoding`]. Tags
//! reuse the numbers of the wire enums (`EntityType`, `MutationType`), so a
//! hex dump reads like the API.
//!
//! ```text
//! command
//! ┌────────────────┬──────────┬──────────────────┬─────────┬──────────────────────────┐
//! │ proposed i64   │ seed 16B │ request id: opt  │ kind u8 │ 1 write: ops u32, op*    │
//! │ (ns, UTC)      │          │ string           │         │ 2 trim:  before i64      │
//! └────────────────┴──────────┴──────────────────┴─────────┴──────────────────────────┘
//! op = tag u8, then by tag (ids are strings; `opt` = presence byte + string)
//!   1 create database    opt database, display_name
//!   2 update database    database, display_name
//!   3 delete database    database
//!   4 create collection  database, opt collection, description
//!   5 update collection  database, collection, description
//!   6 delete collection  database, collection
//!   7 create document    database, collection, opt document, value
//!   8 update document    database, collection, document, value
//!   9 delete document    database, collection, document
//!
//! record
//! ┌─────────┬──────────────┬─────────────┬─────────┬─────────┬───
//! │ seq u64 │ time i64     │ entries u32 │ entry 1 │ entry 2 │ ...
//! └─────────┴──────────────┴─────────────┴─────────┴─────────┴───
//! entry
//! ┌──────────┬────────┬──────────┬────────────────────┬─────────┬───────────────────────┐
//! │ UUID     │ entity │ mutation │ ids: database,     │ has row │ row (if has row):     │
//! │ 16 bytes │ u8 1-3 │ u8 1-3   │ [collection, [doc]]│ u8 0/1  │ text, created, updated│
//! └──────────┴────────┴──────────┴────────────────────┴─────────┴───────────────────────┘
//! ```
//!
//! Decoding checks every id against its alphabet and every tag against its
//! range, and a record's delete must carry no row while a create or update
//! must carry one. Document values are not parsed again: they were checked
//! at the edge before the command was proposed, and the frame's checksum
//! (or the peer's) guards them since.

use std::sync::Arc;

use crate::{
    clock::Timestamp,
    encoding::{
        DecodeError, Decoder, put_opt_str, put_str, put_time, put_u8, put_u32, put_u64, str_len,
    },
    error::{Error, Violation},
    names::{CollectionName, DatabaseName, DocumentName, IdKind},
    store::{
        command::{Action, Applied, Command, Failed, Outcome},
        ops::Op,
        record::{Change, Entry, Mutation, Record},
        rows::{CollectionRow, DatabaseRow, DocumentRow},
    },
};

const DATABASE: u8 = 1;
const COLLECTION: u8 = 2;
const DOCUMENT: u8 = 3;
const WRITE: u8 = 1;
const TRIM: u8 = 2;
/// The fewest bytes an operation takes: its tag and one id.
const OP_MIN: usize = 1 + 4;
/// Fixed bytes of a record: seq, timestamp, entry count.
const RECORD_FIXED: usize = 8 + 8 + 4;
/// Fixed bytes of an entry: UUID, entity, mutation, one id length, row flag.
const ENTRY_FIXED: usize = 16 + 1 + 1 + 4 + 1;
/// Fixed bytes of a row: text length, created, updated.
const ROW_FIXED: usize = 4 + 8 + 8;

/// Appends the bytes of `command` to `buf`.
pub fn encode_command(command: &Command, buf: &mut Vec<u8>) {
    put_time(buf, command.proposed_at);
    buf.extend_from_slice(&command.seed);
    put_opt_str(buf, command.request_id.as_deref());
    match &command.action {
        Action::Write(ops) => {
            put_u8(buf, WRITE);
            put_u32(buf, ops.len() as u32);
            for op in ops {
                encode_op(op, buf);
            }
        }
        Action::TrimHistory { before } => {
            put_u8(buf, TRIM);
            put_time(buf, *before);
        }
    }
}

/// The exact length [`encode_command`] writes, without encoding.
pub fn command_len(command: &Command) -> usize {
    let fixed = 8 + 16 + 1 + command.request_id.as_deref().map_or(0, str_len) + 1;
    fixed
        + match &command.action {
            Action::Write(ops) => 4 + ops.iter().map(op_len).sum::<usize>(),
            Action::TrimHistory { .. } => 8,
        }
}

fn encode_op(op: &Op, buf: &mut Vec<u8>) {
    match op {
        Op::CreateDatabase { id, display_name } => {
            put_u8(buf, 1);
            put_opt_str(buf, id.as_deref());
            put_str(buf, display_name);
        }
        Op::UpdateDatabase { name, display_name } => {
            put_u8(buf, 2);
            put_str(buf, &name.database);
            put_str(buf, display_name);
        }
        Op::DeleteDatabase { name } => {
            put_u8(buf, 3);
            put_str(buf, &name.database);
        }
        Op::CreateCollection {
            parent,
            id,
            description,
        } => {
            put_u8(buf, 4);
            put_str(buf, &parent.database);
            put_opt_str(buf, id.as_deref());
            put_str(buf, description);
        }
        Op::UpdateCollection { name, description } => {
            put_u8(buf, 5);
            put_collection(buf, name);
            put_str(buf, description);
        }
        Op::DeleteCollection { name } => {
            put_u8(buf, 6);
            put_collection(buf, name);
        }
        Op::CreateDocument { parent, id, value } => {
            put_u8(buf, 7);
            put_collection(buf, parent);
            put_opt_str(buf, id.as_deref());
            put_str(buf, value);
        }
        Op::UpdateDocument { name, value } => {
            put_u8(buf, 8);
            put_document(buf, name);
            put_str(buf, value);
        }
        Op::DeleteDocument { name } => {
            put_u8(buf, 9);
            put_document(buf, name);
        }
    }
}

fn put_collection(buf: &mut Vec<u8>, name: &CollectionName) {
    put_str(buf, &name.database);
    put_str(buf, &name.collection);
}

fn put_document(buf: &mut Vec<u8>, name: &DocumentName) {
    put_str(buf, &name.database);
    put_str(buf, &name.collection);
    put_str(buf, &name.document);
}

fn op_len(op: &Op) -> usize {
    let opt = |id: &Option<String>| 1 + id.as_deref().map_or(0, str_len);
    let coll = |n: &CollectionName| str_len(&n.database) + str_len(&n.collection);
    let doc =
        |n: &DocumentName| str_len(&n.database) + str_len(&n.collection) + str_len(&n.document);
    1 + match op {
        Op::CreateDatabase { id, display_name } => opt(id) + str_len(display_name),
        Op::UpdateDatabase { name, display_name } => {
            str_len(&name.database) + str_len(display_name)
        }
        Op::DeleteDatabase { name } => str_len(&name.database),
        Op::CreateCollection {
            parent,
            id,
            description,
        } => str_len(&parent.database) + opt(id) + str_len(description),
        Op::UpdateCollection { name, description } => coll(name) + str_len(description),
        Op::DeleteCollection { name } => coll(name),
        Op::CreateDocument { parent, id, value } => coll(parent) + opt(id) + str_len(value),
        Op::UpdateDocument { name, value } => doc(name) + str_len(value),
        Op::DeleteDocument { name } => doc(name),
    }
}

/// Decodes bytes written by [`encode_command`].
pub fn decode_command(bytes: &[u8]) -> Result<Command, DecodeError> {
    let mut d = Decoder::new(bytes);
    let proposed_at = d.time()?;
    let seed = d.array::<16>()?;
    let request_id = d.opt_str()?.map(str::to_owned);
    let action = match d.u8()? {
        WRITE => {
            let count = d.count(OP_MIN)?;
            let mut ops = Vec::with_capacity(count);
            for _ in 0..count {
                ops.push(decode_op(&mut d)?);
            }
            Action::Write(ops)
        }
        TRIM => Action::TrimHistory { before: d.time()? },
        other => return Err(d.error(format!("unknown command kind {other}"))),
    };
    d.finish()?;
    Ok(Command {
        proposed_at,
        seed,
        request_id,
        action,
    })
}

fn decode_op(d: &mut Decoder<'_>) -> Result<Op, DecodeError> {
    let text = |d: &mut Decoder<'_>| d.str().map(str::to_owned);
    let op = match d.u8()? {
        1 => Op::CreateDatabase {
            id: d.opt_id(IdKind::Database)?,
            display_name: text(d)?,
        },
        2 => Op::UpdateDatabase {
            name: database(d)?,
            display_name: text(d)?,
        },
        3 => Op::DeleteDatabase { name: database(d)? },
        4 => Op::CreateCollection {
            parent: database(d)?,
            id: d.opt_id(IdKind::Child)?,
            description: text(d)?,
        },
        5 => Op::UpdateCollection {
            name: collection(d)?,
            description: text(d)?,
        },
        6 => Op::DeleteCollection {
            name: collection(d)?,
        },
        7 => Op::CreateDocument {
            parent: collection(d)?,
            id: d.opt_id(IdKind::Child)?,
            value: text(d)?,
        },
        8 => Op::UpdateDocument {
            name: document(d)?,
            value: text(d)?,
        },
        9 => Op::DeleteDocument { name: document(d)? },
        other => return Err(d.error(format!("unknown operation tag {other}"))),
    };
    Ok(op)
}

fn database(d: &mut Decoder<'_>) -> Result<DatabaseName, DecodeError> {
    Ok(DatabaseName {
        database: d.id(IdKind::Database)?,
    })
}

fn collection(d: &mut Decoder<'_>) -> Result<CollectionName, DecodeError> {
    Ok(CollectionName {
        database: d.id(IdKind::Database)?,
        collection: d.id(IdKind::Child)?,
    })
}

fn document(d: &mut Decoder<'_>) -> Result<DocumentName, DecodeError> {
    Ok(DocumentName {
        database: d.id(IdKind::Database)?,
        collection: d.id(IdKind::Child)?,
        document: d.id(IdKind::Child)?,
    })
}

/// Appends the bytes of `record` to `buf`.
pub fn encode_record(record: &Record, buf: &mut Vec<u8>) {
    put_u64(buf, record.seq);
    put_time(buf, record.timestamp);
    put_u32(buf, record.entries.len() as u32);
    for entry in &record.entries {
        buf.extend_from_slice(&entry.id);
        let tag = mutation_tag(entry.mutation);
        let row = match &entry.change {
            Change::Database(name, row) => {
                buf.extend_from_slice(&[DATABASE, tag]);
                put_str(buf, &name.database);
                row.as_ref().map(row_parts_db)
            }
            Change::Collection(name, row) => {
                buf.extend_from_slice(&[COLLECTION, tag]);
                put_collection(buf, name);
                row.as_ref().map(row_parts_coll)
            }
            Change::Document(name, row) => {
                buf.extend_from_slice(&[DOCUMENT, tag]);
                put_document(buf, name);
                row.as_deref().map(row_parts_doc)
            }
        };
        match row {
            None => buf.push(0),
            Some(parts) => {
                buf.push(1);
                put_row(buf, parts);
            }
        }
    }
}

/// Appends a row's text and timestamps.
pub(crate) fn put_row(buf: &mut Vec<u8>, (text, created, updated): RowParts<'_>) {
    put_str(buf, text);
    put_time(buf, created);
    put_time(buf, updated);
}

/// The exact length [`encode_record`] writes, computed without encoding
/// (the store's lock is held when it is asked).
pub fn record_len(record: &Record) -> usize {
    let mut len = RECORD_FIXED;
    for entry in &record.entries {
        len += ENTRY_FIXED;
        len += match &entry.change {
            Change::Database(name, row) => {
                name.database.len() + row.as_ref().map_or(0, |r| ROW_FIXED + r.display_name.len())
            }
            Change::Collection(name, row) => {
                4 + name.database.len()
                    + name.collection.len()
                    + row.as_ref().map_or(0, |r| ROW_FIXED + r.description.len())
            }
            Change::Document(name, row) => {
                8 + name.database.len()
                    + name.collection.len()
                    + name.document.len()
                    + row.as_ref().map_or(0, |r| ROW_FIXED + r.value.len())
            }
        };
    }
    len
}

/// Decodes bytes written by [`encode_record`].
pub fn decode_record(bytes: &[u8]) -> Result<Record, DecodeError> {
    let mut d = Decoder::new(bytes);
    let record = read_record(&mut d)?;
    d.finish()?;
    Ok(record)
}

/// Reads one record written by [`encode_record`] from `d`.
pub(crate) fn read_record(d: &mut Decoder<'_>) -> Result<Record, DecodeError> {
    let seq = d.u64()?;
    let timestamp = d.time()?;
    let count = d.count(ENTRY_FIXED)?;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        entries.push(decode_entry(d)?);
    }
    Ok(Record {
        seq,
        timestamp,
        entries,
    })
}

fn decode_entry(d: &mut Decoder<'_>) -> Result<Entry, DecodeError> {
    let id = d.array::<16>()?;
    let entity = d.u8()?;
    let mutation = match d.u8()? {
        1 => Mutation::Create,
        2 => Mutation::Update,
        3 => Mutation::Delete,
        other => return Err(d.error(format!("unknown mutation tag {other}"))),
    };
    let change = match entity {
        DATABASE => {
            let name = database(d)?;
            Change::Database(name, decode_row(d, mutation)?.map(db_row))
        }
        COLLECTION => {
            let name = collection(d)?;
            Change::Collection(name, decode_row(d, mutation)?.map(coll_row))
        }
        DOCUMENT => {
            let name = document(d)?;
            let row = decode_row(d, mutation)?.map(|row| Arc::new(doc_row(row)));
            Change::Document(name, row)
        }
        other => return Err(d.error(format!("unknown entity tag {other}"))),
    };
    Ok(Entry {
        id,
        mutation,
        change,
    })
}

/// A row's three fields, whichever kind of row it is.
pub(crate) type RowParts<'a> = (&'a str, Timestamp, Timestamp);
/// A decoded row's three fields.
pub(crate) type RowFields = (String, Timestamp, Timestamp);

/// A row written by [`put_row`].
pub(crate) fn decode_row_fields(d: &mut Decoder<'_>) -> Result<RowFields, DecodeError> {
    let text = d.str()?.to_owned();
    Ok((text, d.time()?, d.time()?))
}

/// The row of an entry: present exactly when the mutation is not a delete.
fn decode_row(d: &mut Decoder<'_>, mutation: Mutation) -> Result<Option<RowFields>, DecodeError> {
    let present = d.u8()?;
    match (present, mutation) {
        (0, Mutation::Delete) => Ok(None),
        (1, Mutation::Create | Mutation::Update) => decode_row_fields(d).map(Some),
        (0 | 1, _) => Err(d.error(format!("row flag {present} contradicts {mutation:?}"))),
        (other, _) => Err(d.error(format!("bad row flag {other}"))),
    }
}

fn mutation_tag(mutation: Mutation) -> u8 {
    match mutation {
        Mutation::Create => 1,
        Mutation::Update => 2,
        Mutation::Delete => 3,
    }
}

pub(crate) fn row_parts_db(row: &DatabaseRow) -> RowParts<'_> {
    (&row.display_name, row.created_at, row.updated_at)
}

pub(crate) fn row_parts_coll(row: &CollectionRow) -> RowParts<'_> {
    (&row.description, row.created_at, row.updated_at)
}

pub(crate) fn row_parts_doc(row: &DocumentRow) -> RowParts<'_> {
    (&row.value, row.created_at, row.updated_at)
}

pub(crate) fn db_row((display_name, created_at, updated_at): RowFields) -> DatabaseRow {
    DatabaseRow {
        display_name,
        created_at,
        updated_at,
    }
}

pub(crate) fn coll_row((description, created_at, updated_at): RowFields) -> CollectionRow {
    CollectionRow {
        description,
        created_at,
        updated_at,
    }
}

pub(crate) fn doc_row((value, created_at, updated_at): RowFields) -> DocumentRow {
    DocumentRow {
        value,
        created_at,
        updated_at,
    }
}

/// Appends the bytes of an outcome (a remembered request's answer):
///
/// ```text
/// outcome = 1 record: record | 2 trimmed: records u64 | 3 noop
///         | 4 failed: index u64, error
/// error   = kind u8 (1 invalid argument: violations u32, (field, description)*;
///           2 not found … 11 not leader: opt address; else message)
/// ```
pub fn encode_outcome(outcome: &Outcome, buf: &mut Vec<u8>) {
    match outcome {
        Ok(Applied::Record(record)) => {
            put_u8(buf, 1);
            encode_record(record, buf);
        }
        Ok(Applied::Trimmed { records }) => {
            put_u8(buf, 2);
            put_u64(buf, *records as u64);
        }
        Ok(Applied::Noop) => put_u8(buf, 3),
        Err(failed) => {
            put_u8(buf, 4);
            put_u64(buf, failed.index as u64);
            encode_error(&failed.error, buf);
        }
    }
}

fn encode_error(error: &Error, buf: &mut Vec<u8>) {
    let (kind, message) = match error {
        Error::InvalidArgument(violations) => {
            put_u8(buf, 1);
            put_u32(buf, violations.len() as u32);
            for v in violations {
                put_str(buf, &v.field);
                put_str(buf, &v.description);
            }
            return;
        }
        Error::NotLeader(leader) => {
            put_u8(buf, 11);
            put_opt_str(buf, leader.as_deref());
            return;
        }
        Error::NotFound(m) => (2, m),
        Error::AlreadyExists(m) => (3, m),
        Error::FailedPrecondition(m) => (4, m),
        Error::ResourceExhausted(m) => (5, m),
        Error::DeadlineExceeded(m) => (6, m),
        Error::Unauthenticated(m) => (7, m),
        Error::PermissionDenied(m) => (8, m),
        Error::Unavailable(m) => (9, m),
        Error::Internal(m) => (10, m),
    };
    put_u8(buf, kind);
    put_str(buf, message);
}

/// Reads an outcome written by [`encode_outcome`] from `d`.
pub(crate) fn read_outcome(d: &mut Decoder<'_>) -> Result<Outcome, DecodeError> {
    Ok(match d.u8()? {
        1 => Ok(Applied::Record(Arc::new(read_record(d)?))),
        2 => Ok(Applied::Trimmed {
            records: usize::try_from(d.u64()?).unwrap_or(usize::MAX),
        }),
        3 => Ok(Applied::Noop),
        4 => {
            let index = usize::try_from(d.u64()?).unwrap_or(usize::MAX);
            Err(Failed::at(index, read_error(d)?))
        }
        other => return Err(d.error(format!("unknown outcome tag {other}"))),
    })
}

fn read_error(d: &mut Decoder<'_>) -> Result<Error, DecodeError> {
    let kind = d.u8()?;
    if kind == 1 {
        let count = d.count(8)?;
        let mut violations = Vec::with_capacity(count);
        for _ in 0..count {
            let field = d.str()?.to_owned();
            violations.push(Violation::new(field, d.str()?.to_owned()));
        }
        return Ok(Error::InvalidArgument(violations));
    }
    if kind == 11 {
        return Ok(Error::NotLeader(d.opt_str()?.map(str::to_owned)));
    }
    let message = d.str()?.to_owned();
    Ok(match kind {
        2 => Error::NotFound(message),
        3 => Error::AlreadyExists(message),
        4 => Error::FailedPrecondition(message),
        5 => Error::ResourceExhausted(message),
        6 => Error::DeadlineExceeded(message),
        7 => Error::Unauthenticated(message),
        8 => Error::PermissionDenied(message),
        9 => Error::Unavailable(message),
        10 => Error::Internal(message),
        other => return Err(d.error(format!("unknown error kind {other}"))),
    })
}

#[cfg(test)]
pub(crate) mod tests;
