//! The binary encoding of log records, hand-written.
//!
//! A record is encoded into the payload of one frame ([`super::frame`]).
//! Integers are little-endian and fixed-width; strings are a `u32` byte
//! length followed by UTF-8. Tags reuse the numbers of the wire enums
//! (`EntityType`, `MutationType`), so a hex dump reads like the API.
//!
//! ```text
//! record payload
//! ┌─────────┬──────────────┬───────────────┬─────────┬─────────┬───
//! │ lsn u64 │ time i64 (ns │ entries u32   │ entry 1 │ entry 2 │ ...
//! │         │ since epoch) │               │         │         │
//! └─────────┴──────────────┴───────────────┴─────────┴─────────┴───
//!
//! entry
//! ┌──────────┬────────┬──────────┬────────────────────┬─────────┬──────────────────────┐
//! │ UUID     │ entity │ mutation │ ids: database,     │ has row │ row (if has row):    │
//! │ 16 bytes │ u8 1-3 │ u8 1-3   │ [collection, [doc]]│ u8 0/1  │ text, created, updated│
//! └──────────┴────────┴──────────┴────────────────────┴─────────┴──────────────────────┘
//!   entity 1 database (1 id), 2 collection (2 ids), 3 document (3 ids)
//!   row text: display_name, description or the document's JSON
//! ```
//!
//! Why not serde with bincode or postcard? The log is the product's core: its
//! bytes must stay readable by every later version of the worker, so the
//! format is written down here, byte by byte, and changes only with the
//! version number in the segment header. It is also small: about 80 lines.
//!
//! Decoding never trusts the bytes: every length is checked against what is
//! left, every id against the id alphabet, every tag against its range, and a
//! delete must carry no row while a create or update must carry one. A
//! decoder that meets anything else returns a [`DecodeError`], never panics.

use std::sync::Arc;

use crate::{
    clock::Timestamp,
    names::{CollectionName, DatabaseName, DocumentName, IdKind, check_id},
    store::{Change, CollectionRow, DatabaseRow, DocumentRow, Entry, Mutation, Record},
};

/// Bytes that do not decode: where and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {offset}")]
pub struct DecodeError {
    /// Position in the decoded buffer.
    pub offset: usize,
    /// What was wrong.
    pub what: String,
}

/// Appends `value` as 4 little-endian bytes.
pub(crate) fn put_u32(buf: &mut Vec<u8>, value: u32) {
    buf.extend_from_slice(&value.to_le_bytes());
}

/// Appends `value` as 8 little-endian bytes.
pub(crate) fn put_u64(buf: &mut Vec<u8>, value: u64) {
    buf.extend_from_slice(&value.to_le_bytes());
}

/// Appends a timestamp as its nanoseconds, 8 little-endian bytes.
pub(crate) fn put_time(buf: &mut Vec<u8>, time: Timestamp) {
    buf.extend_from_slice(&time.as_nanos().to_le_bytes());
}

/// Appends a `u32` length and the bytes of `text`.
///
/// Every string the worker stores is at most 16 KiB (4096 characters), far
/// below the `u32` limit, so the length cannot be truncated.
pub(crate) fn put_str(buf: &mut Vec<u8>, text: &str) {
    put_u32(buf, text.len() as u32);
    buf.extend_from_slice(text.as_bytes());
}

/// A cursor over bytes being decoded.
pub(crate) struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// Starts at the first byte of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Decoder { bytes, pos: 0 }
    }

    /// An error at the current position.
    pub(crate) fn error(&self, what: impl Into<String>) -> DecodeError {
        DecodeError {
            offset: self.pos,
            what: what.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| self.error(format!("{n} bytes expected past the end")))?;
        let taken = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N)?;
        let mut array = [0; N];
        array.copy_from_slice(bytes);
        Ok(array)
    }

    /// One byte.
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// A little-endian `u32`.
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_le_bytes)
    }

    /// A little-endian `u64`.
    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_le_bytes)
    }

    /// A timestamp written by [`put_time`].
    pub(crate) fn time(&mut self) -> Result<Timestamp, DecodeError> {
        self.array()
            .map(|b| Timestamp::from_nanos(i64::from_le_bytes(b)))
    }

    /// A string written by [`put_str`].
    pub(crate) fn str(&mut self) -> Result<&'a str, DecodeError> {
        let len = self.u32()? as usize;
        let start = self.pos;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError {
            offset: start,
            what: "invalid UTF-8".into(),
        })
    }

    /// A row written by [`put_row`].
    pub(crate) fn row(&mut self) -> Result<RowFields, DecodeError> {
        let text = self.str()?.to_owned();
        Ok((text, self.time()?, self.time()?))
    }

    /// An id of the alphabet of `kind`.
    pub(crate) fn id(&mut self, kind: IdKind) -> Result<String, DecodeError> {
        let start = self.pos;
        let id = self.str()?;
        check_id(id, kind, "id").map_err(|v| DecodeError {
            offset: start,
            what: format!("bad id: {}", v.description),
        })?;
        Ok(id.to_owned())
    }

    /// A count of items that each take at least `min_size` bytes; a count
    /// the remaining bytes cannot hold is refused before anything is
    /// allocated for it.
    pub(crate) fn count(&mut self, min_size: usize) -> Result<usize, DecodeError> {
        let count = self.u32()? as usize;
        if count.saturating_mul(min_size) > self.bytes.len() - self.pos {
            return Err(self.error(format!("count {count} exceeds the remaining bytes")));
        }
        Ok(count)
    }

    /// Fails unless every byte was consumed.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(self.error(format!("{} trailing bytes", self.bytes.len() - self.pos)))
        }
    }
}

const DATABASE: u8 = 1;
const COLLECTION: u8 = 2;
const DOCUMENT: u8 = 3;
/// Fixed bytes of a record: lsn, timestamp, entry count.
const RECORD_FIXED: usize = 8 + 8 + 4;
/// Fixed bytes of an entry: UUID, entity, mutation, one id length, row flag.
const ENTRY_FIXED: usize = 16 + 1 + 1 + 4 + 1;
/// Fixed bytes of a row: text length, created, updated.
const ROW_FIXED: usize = 4 + 8 + 8;

/// Appends the payload of `record` to `buf`.
pub fn encode_record(record: &Record, buf: &mut Vec<u8>) {
    put_u64(buf, record.lsn);
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
                put_str(buf, &name.database);
                put_str(buf, &name.collection);
                row.as_ref().map(row_parts_coll)
            }
            Change::Document(name, row) => {
                buf.extend_from_slice(&[DOCUMENT, tag]);
                put_str(buf, &name.database);
                put_str(buf, &name.collection);
                put_str(buf, &name.document);
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

/// The exact length of the payload [`encode_record`] writes, computed
/// without encoding (the store's lock is held when it is asked).
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

/// Decodes a payload written by [`encode_record`].
pub fn decode_record(payload: &[u8]) -> Result<Record, DecodeError> {
    let mut d = Decoder::new(payload);
    let lsn = d.u64()?;
    let timestamp = d.time()?;
    let count = d.count(ENTRY_FIXED)?;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        entries.push(decode_entry(&mut d)?);
    }
    d.finish()?;
    Ok(Record {
        lsn,
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
    let database = d.id(IdKind::Database)?;
    let change = match entity {
        DATABASE => {
            let name = DatabaseName { database };
            Change::Database(name, decode_row(d, mutation)?.map(db_row))
        }
        COLLECTION => {
            let collection = d.id(IdKind::Child)?;
            let name = CollectionName {
                database,
                collection,
            };
            Change::Collection(name, decode_row(d, mutation)?.map(coll_row))
        }
        DOCUMENT => {
            let collection = d.id(IdKind::Child)?;
            let document = d.id(IdKind::Child)?;
            let name = DocumentName {
                database,
                collection,
                document,
            };
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

/// The row of an entry: present exactly when the mutation is not a delete.
fn decode_row(d: &mut Decoder<'_>, mutation: Mutation) -> Result<Option<RowFields>, DecodeError> {
    let present = d.u8()?;
    match (present, mutation) {
        (0, Mutation::Delete) => Ok(None),
        (1, Mutation::Create | Mutation::Update) => d.row().map(Some),
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

#[cfg(test)]
pub(crate) mod tests;
