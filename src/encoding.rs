//! Binary encoding, by hand: the primitives every on-disk and on-wire format
//! of the worker is built from.
//!
//! Integers are little-endian and fixed-width; strings are a `u32` byte
//! length followed by UTF-8; timestamps are their nanoseconds as an `i64`.
//! The formats built on these (log entries in [`crate::wal`], commands,
//! records and snapshots in [`crate::store`]) are each written down byte by
//! byte in their own module.
//!
//! Why not serde with bincode or postcard? The log is the product's core:
//! its bytes must stay readable by every later version of the worker, so
//! each format is spelled out where it is defined and changes only with a
//! version number. It is also small: this file is the whole toolbox.
//!
//! **Decoding never trusts its input.** Every length is checked against what
//! is left before anything is allocated for it, every id against the id
//! alphabet, and a [`Decoder`] that meets anything unexpected returns a
//! [`DecodeError`] saying where and what; it never panics. The same bytes
//! come from disks that flip bits and from peers that may be broken.

use crate::{
    clock::Timestamp,
    names::{IdKind, check_id},
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

/// Appends one byte.
pub fn put_u8(buf: &mut Vec<u8>, value: u8) {
    buf.push(value);
}

/// Appends `value` as 4 little-endian bytes.
pub fn put_u32(buf: &mut Vec<u8>, value: u32) {
    buf.extend_from_slice(&value.to_le_bytes());
}

/// Appends `value` as 8 little-endian bytes.
pub fn put_u64(buf: &mut Vec<u8>, value: u64) {
    buf.extend_from_slice(&value.to_le_bytes());
}

/// Appends a timestamp as its nanoseconds, 8 little-endian bytes.
pub fn put_time(buf: &mut Vec<u8>, time: Timestamp) {
    buf.extend_from_slice(&time.as_nanos().to_le_bytes());
}

/// Appends a `u32` length and the bytes of `text`.
///
/// Every string the worker stores is at most 16 KiB (4096 characters), far
/// below the `u32` limit, so the length cannot be truncated.
pub fn put_str(buf: &mut Vec<u8>, text: &str) {
    put_bytes(buf, text.as_bytes());
}

/// Appends a `u32` length and `bytes`.
pub fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(buf, u32::try_from(bytes.len()).unwrap_or(u32::MAX));
    buf.extend_from_slice(bytes);
}

/// Appends an optional string: a presence byte, then the string.
pub fn put_opt_str(buf: &mut Vec<u8>, text: Option<&str>) {
    match text {
        None => buf.push(0),
        Some(text) => {
            buf.push(1);
            put_str(buf, text);
        }
    }
}

/// The bytes [`put_str`] writes for `text`.
pub const fn str_len(text: &str) -> usize {
    4 + text.len()
}

/// A cursor over bytes being decoded.
#[derive(Debug)]
pub struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// Starts at the first byte of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Decoder { bytes, pos: 0 }
    }

    /// An error at the current position.
    pub fn error(&self, what: impl Into<String>) -> DecodeError {
        DecodeError {
            offset: self.pos,
            what: what.into(),
        }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| self.error(format!("{n} bytes expected past the end")))?;
        let taken = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(taken)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N)?;
        let mut array = [0; N];
        array.copy_from_slice(bytes);
        Ok(array)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_le_bytes)
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_le_bytes)
    }

    /// A timestamp written by [`put_time`].
    pub fn time(&mut self) -> Result<Timestamp, DecodeError> {
        self.array()
            .map(|b| Timestamp::from_nanos(i64::from_le_bytes(b)))
    }

    /// Bytes written by [`put_bytes`].
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    /// A string written by [`put_str`].
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        let start = self.pos + 4;
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError {
            offset: start,
            what: "invalid UTF-8".into(),
        })
    }

    /// An optional string written by [`put_opt_str`].
    pub fn opt_str(&mut self) -> Result<Option<&'a str>, DecodeError> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.str().map(Some),
            other => Err(self.error(format!("bad presence byte {other}"))),
        }
    }

    /// An id of the alphabet of `kind`.
    pub fn id(&mut self, kind: IdKind) -> Result<String, DecodeError> {
        let start = self.pos;
        let id = self.str()?;
        check_id(id, kind, "id").map_err(|v| DecodeError {
            offset: start,
            what: format!("bad id: {}", v.description),
        })?;
        Ok(id.to_owned())
    }

    /// An optional id written by [`put_opt_str`].
    pub fn opt_id(&mut self, kind: IdKind) -> Result<Option<String>, DecodeError> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.id(kind).map(Some),
            other => Err(self.error(format!("bad presence byte {other}"))),
        }
    }

    /// A count of items that each take at least `min_size` bytes; a count
    /// the remaining bytes cannot hold is refused before anything is
    /// allocated for it.
    pub fn count(&mut self, min_size: usize) -> Result<usize, DecodeError> {
        let count = self.u32()? as usize;
        if count.saturating_mul(min_size) > self.remaining() {
            return Err(self.error(format!("count {count} exceeds the remaining bytes")));
        }
        Ok(count)
    }

    /// Fails unless every byte was consumed.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(self.error(format!("{} trailing bytes", self.remaining())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_primitive_round_trips() {
        let mut buf = Vec::new();
        put_u8(&mut buf, 7);
        put_u32(&mut buf, 0xdead_beef);
        put_u64(&mut buf, u64::MAX - 1);
        put_time(&mut buf, Timestamp::from_nanos(-5));
        put_str(&mut buf, "héllo");
        put_opt_str(&mut buf, None);
        put_opt_str(&mut buf, Some("abc"));
        let mut d = Decoder::new(&buf);
        assert_eq!(d.u8(), Ok(7));
        assert_eq!(d.u32(), Ok(0xdead_beef));
        assert_eq!(d.u64(), Ok(u64::MAX - 1));
        assert_eq!(d.time(), Ok(Timestamp::from_nanos(-5)));
        assert_eq!(d.str(), Ok("héllo"));
        assert_eq!(d.opt_str(), Ok(None));
        assert_eq!(d.opt_id(IdKind::Child), Ok(Some("abc".into())));
        assert_eq!(d.finish(), Ok(()));
        assert_eq!(str_len("héllo"), 4 + "héllo".len());
    }

    #[test]
    fn short_input_and_huge_counts_are_errors_not_panics() {
        let mut d = Decoder::new(&[1, 2]);
        assert!(d.u32().is_err());
        let mut buf = Vec::new();
        put_u32(&mut buf, u32::MAX);
        assert!(Decoder::new(&buf).count(1).is_err());
        assert!(Decoder::new(&buf).str().is_err());
        let bad_utf8 = [2, 0, 0, 0, 0xff, 0xfe];
        assert_eq!(Decoder::new(&bad_utf8).str().unwrap_err().offset, 4);
        let bad_id = {
            let mut buf = Vec::new();
            put_str(&mut buf, "no/slash");
            buf
        };
        assert!(Decoder::new(&bad_id).id(IdKind::Child).is_err());
        let trailing = Decoder::new(&[0]);
        assert!(trailing.finish().is_err());
    }
}
