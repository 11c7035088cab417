//! # Fuzzing: every decoder of untrusted bytes, fed arbitrary bytes
//!
//! A worker reads bytes it did not write itself in a handful of places:
//! resource names and page tokens inside requests, document JSON, its
//! configuration file, and, after a crash or from a damaged disk, its own
//! log segments, log entries and snapshots. Each of those must answer
//! *every* input with a value or an error, never a panic, an endless loop
//! or an allocation the input merely asked for. Coverage-guided fuzzing
//! (libFuzzer through `cargo fuzz`) searches for inputs that break this,
//! far faster than hand-written cases.
//!
//! This module holds the body of every fuzz target, one function per
//! target, so that a target in `fuzz/fuzz_targets/` is a single line and
//! the same function replays the committed corpora in `cargo test`
//! (`tests/fuzz_corpora.rs`, on stable): whatever the fuzzer once found
//! interesting keeps being checked by CI without a nightly toolchain.
//!
//! | target | entry point | what it checks beyond "no panic" |
//! |---|---|---|
//! | `names` | [`names`] | a name that parses prints back as the same text |
//! | `page_token` | [`page_token`] | a token we issue decodes to its cursor; a token with a valid checksum still cannot panic |
//! | `document_json` | [`document_json`] | an accepted value starts with `{` |
//! | `config_yaml` | [`config_yaml`] | (none: parse and validate) |
//! | `wal_entry` | [`wal_entry`] | a decoded entry re-encodes to bytes of [`LogEntry::encoded_len`] that decode to the same entry |
//! | `segment` | [`segment`] | frames tile the bytes they were scanned from; each payload goes through the entry decoder |
//! | `snapshot` | [`snapshot`] | a decoded snapshot re-encodes to a snapshot that decodes to the same state |
//! | `service` | [`service`] | every request message, decoded from arbitrary bytes, gets an answer from the real services |
//!
//! **Checksums.** Segment frames, snapshots and page tokens carry CRC-32C
//! checksums, which a fuzzer almost never guesses, so on its own it would
//! only ever test the checksum check. The segment, snapshot and token
//! targets therefore decode each input twice: as it is, and with its
//! checksums recomputed, so that the decoder behind the checksum sees the
//! fuzzer's bytes too.
//!
//! **Running.** `just fuzz TARGET [SECONDS]` runs one target with
//! `cargo fuzz` on nightly (the `fuzz/` crate, outside the workspace) from
//! the seed corpus in `testdata/fuzz/TARGET/`; `just fuzz-merge TARGET`
//! adds the inputs that reached new coverage to that corpus. A crash is
//! minimised (`cargo fuzz tmin`), fixed, and its input committed to the
//! corpus so the replay test pins the fix.
//!
//! **Runs.** Every target ran for 10 minutes (`-max_total_time=600`) on
//! 2026-12-02, built from main at `a9c137d` (`names` a little earlier), two at a time on the 2 cores
//! beside other work, from the committed seeds. None crashed, timed out
//! or ran out of memory:
//!
//! | target | executions | exec/s | coverage (edges) | features | corpus at the end |
//! |---|---:|---:|---:|---:|---|
//! | `names` | 8,682,308 | 14,446 | 248 | 750 | 199 inputs, 8 KiB |
//! | `page_token` | 4,403,062 | 7,326 | 587 | 2,029 | 175 inputs, 24 KiB |
//! | `document_json` | 24,716,668 | 41,125 | 510 | 1,780 | 619 inputs, 66 KiB |
//! | `config_yaml` | 2,278,731 | 3,791 | 6,140 | 16,612 | 2,796 inputs, 532 KiB |
//! | `wal_entry` | 13,986,751 | 23,272 | 765 | 1,721 | 270 inputs, 27 KiB |
//! | `segment` | 2,023,426 | 3,366 | 624 | 2,700 | 442 inputs, 306 KiB |
//! | `snapshot` | 6,053,141 | 10,071 | 1,403 | 3,848 | 316 inputs, 124 KiB |
//! | `service` | 3,782,897 | 6,294 | 6,863 | 25,508 | 3,241 inputs, 621 KiB |
//!
//! The grown corpora were not merged into `testdata/fuzz/` (the replay
//! test would read 1.7 MiB more on every `cargo test`); run `just
//! fuzz-merge TARGET` to keep the inputs that add coverage.

mod service;

use crate::{
    api::paging::{decode_token, encode_token},
    config::Config,
    fields::check_value,
    names::{CollectionName, DatabaseName, DocumentName},
    store::{Snapshot, codec::decode_record},
    wal::{
        LogEntry,
        frame::{self, End, FRAME_HEADER_LEN, HEADER_LEN},
    },
};

pub use self::service::{METHODS, START, calls, encode_call, run, service};

/// The body of a fuzz target: any bytes, and a panic only on a bug.
pub type Target = fn(&[u8]);

/// Every target by name, as `fuzz/fuzz_targets/` and `testdata/fuzz/`
/// name them (the corpus replay test checks that all three agree).
pub const TARGETS: &[(&str, Target)] = &[
    ("names", names),
    ("page_token", page_token),
    ("document_json", document_json),
    ("config_yaml", config_yaml),
    ("wal_entry", wal_entry),
    ("segment", segment),
    ("snapshot", snapshot),
    ("service", service),
];

/// The history budget snapshots are decoded with (1 MiB, as a small worker).
const HISTORY_BUDGET: u64 = 1 << 20;

/// Resource names: each of the three parsers, and the round trip of any
/// name that parses.
pub fn names(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(name) = DatabaseName::parse(text, "name") {
        assert_eq!(name.to_name(), text, "database name round trip");
    }
    if let Ok(name) = CollectionName::parse(text, "name") {
        assert_eq!(name.to_name(), text, "collection name round trip");
        assert!(DatabaseName::parse(&name.parent().to_name(), "parent").is_ok());
    }
    if let Ok(name) = DocumentName::parse(text, "name") {
        assert_eq!(name.to_name(), text, "document name round trip");
        assert!(CollectionName::parse(&name.parent().to_name(), "parent").is_ok());
    }
}

/// Page tokens: arbitrary text as a token of each kind of listing; the
/// bytes as a token body with a valid checksum; and the round trip of a
/// token made from the bytes as scope and cursor.
pub fn page_token(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for scope in ["databases", "databases/a", "databases/a/collections/b"] {
        let _ = decode_token(&text, scope);
    }
    let _ = decode_token(&checksummed_token(data), "databases");
    // The first byte splits the rest into a scope and a cursor.
    if let Some((&split, rest)) = data.split_first() {
        let rest = String::from_utf8_lossy(rest);
        let at = (usize::from(split)).min(rest.len());
        if rest.is_char_boundary(at) {
            let (scope, cursor) = rest.split_at(at);
            let token = encode_token(scope, cursor);
            let decoded = decode_token(&token, scope);
            assert_eq!(decoded, Ok(Some(cursor.to_owned())), "token round trip");
        }
    }
}

/// `body` with the CRC-32C a token ends with, in the token alphabet.
fn checksummed_token(body: &[u8]) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let mut bytes = body.to_vec();
    bytes.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Document values: the JSON-object check of CreateDocument and
/// UpdateDocument.
pub fn document_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if check_value(text, "document.value").is_ok() {
        assert!(text.trim_start().starts_with('{'), "accepted a non-object");
    }
}

/// The configuration file: YAML parsing and every validation rule.
pub fn config_yaml(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Config::from_yaml(text);
    }
}

/// Log entries (the payload of one frame), and the history records that
/// snapshots and ListWALEntries carry.
pub fn wal_entry(data: &[u8]) {
    let _ = decode_record(data);
    let Ok(entry) = LogEntry::decode(data) else {
        return;
    };
    let mut bytes = Vec::new();
    entry.encode(&mut bytes);
    assert_eq!(bytes.len(), entry.encoded_len(), "encoded_len is exact");
    assert_eq!(LogEntry::decode(&bytes).as_ref(), Ok(&entry), "re-decodes");
}

/// A segment file: its header, its frames as they are and with every
/// frame's checksums recomputed, and the entry in each frame.
pub fn segment(data: &[u8]) {
    let body = match data.get(..HEADER_LEN) {
        Some(header) if header == frame::header() => &data[HEADER_LEN..],
        _ => data,
    };
    scan_checked(body);
    scan_checked(&with_frame_checksums(body));
}

/// Scans `body` and checks that the frames tile it up to where it ends.
fn scan_checked(body: &[u8]) {
    let (frames, end) = frame::scan(body, HEADER_LEN);
    let mut next = HEADER_LEN;
    for f in &frames {
        assert_eq!(f.offset, next, "frames are contiguous");
        next += FRAME_HEADER_LEN + f.payload.len();
        let _ = LogEntry::decode(f.payload);
    }
    assert!(next <= HEADER_LEN + body.len(), "frames within the bytes");
    match end {
        End::Clean => assert_eq!(next, HEADER_LEN + body.len(), "clean end"),
        End::Torn { offset } | End::Corrupt { offset, .. } => {
            assert_eq!(offset, next, "damage right after the last frame")
        }
    }
}

/// `body` with the length check and payload checksum of each frame
/// rewritten to match, as far as the lengths fit in the bytes.
fn with_frame_checksums(body: &[u8]) -> Vec<u8> {
    let mut bytes = body.to_vec();
    let mut pos = 0;
    while let Some(header) = bytes.get(pos..pos + FRAME_HEADER_LEN) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let start = pos + FRAME_HEADER_LEN;
        let Some(payload) = start.checked_add(len).and_then(|end| bytes.get(start..end)) else {
            break;
        };
        let crc = crc32c::crc32c(payload).to_le_bytes();
        let check = crc32c::crc32c(&bytes[pos..pos + 4]).to_le_bytes();
        bytes[pos + 4..pos + 8].copy_from_slice(&check);
        bytes[pos + 8..pos + 12].copy_from_slice(&crc);
        pos = start + len;
    }
    bytes
}

/// A snapshot file, as it is and with its trailing checksum recomputed; a
/// snapshot that decodes survives a re-encoding.
pub fn snapshot(data: &[u8]) {
    let _ = Snapshot::decode(data, HISTORY_BUDGET);
    let Some((body, _)) = data.split_last_chunk::<4>() else {
        return;
    };
    let mut fixed = body.to_vec();
    fixed.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
    let Ok(decoded) = Snapshot::decode(&fixed, HISTORY_BUDGET) else {
        return;
    };
    let again = Snapshot::decode(&decoded.to_bytes(), HISTORY_BUDGET);
    assert_eq!(again, Ok(decoded), "re-decodes");
}
