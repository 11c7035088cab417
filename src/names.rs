//! Resource names and ids.
//!
//! Every resource has a hierarchical name, the way Google-style APIs
//! (AIP-122) name things:
//!
//! ```text
//! databases/{database}
//! databases/{database}/collections/{collection}
//! databases/{database}/collections/{collection}/documents/{document}
//! ```
//!
//! Ids are short and from a small alphabet, so a name never needs escaping
//! and names sort the same way as their ids: listing "in name order" is
//! listing a `BTreeMap` keyed by id. Database ids are lower case only
//! (`[a-z0-9._-]`) because they often end up as directory or host names;
//! collection and document ids also allow upper case. `.` and `..` are
//! ordinary ids: nothing here is a file path.
//!
//! Parsing is strict: a name that does not match its pattern exactly is
//! rejected with a [`Violation`] naming the request field, never guessed at.

use std::fmt;

use crate::error::{Violation, quote};

/// The longest id, in characters.
pub const MAX_ID_LEN: usize = 64;

const DATABASES: &str = "databases/";
const COLLECTIONS: &str = "/collections/";
const DOCUMENTS: &str = "/documents/";

/// Which alphabet an id is drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    /// `[a-z0-9._-]`
    Database,
    /// `[a-zA-Z0-9._-]`, for collections and documents.
    Child,
}

impl IdKind {
    /// Whether `byte` may appear in an id of this kind.
    pub fn allows(self, byte: u8) -> bool {
        match byte {
            b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' => true,
            b'A'..=b'Z' => self == IdKind::Child,
            _ => false,
        }
    }

    fn alphabet(self) -> &'static str {
        match self {
            IdKind::Database => "[a-z0-9._-]",
            IdKind::Child => "[a-zA-Z0-9._-]",
        }
    }
}

/// Checks that `id` is 1-64 characters of the alphabet of `kind`.
pub fn check_id(id: &str, kind: IdKind, field: &str) -> Result<(), Violation> {
    if id.is_empty() {
        return Err(Violation::new(field, "must not be empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(Violation::new(
            field,
            format!(
                "must be at most {MAX_ID_LEN} characters, got {}",
                id.chars().count()
            ),
        ));
    }
    if !id.bytes().all(|b| kind.allows(b)) {
        return Err(Violation::new(
            field,
            format!("{} must use only {}", quote(id), kind.alphabet()),
        ));
    }
    Ok(())
}

/// `databases/{database}`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DatabaseName {
    /// The database id.
    pub database: String,
}

/// `databases/{database}/collections/{collection}`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CollectionName {
    /// The database id.
    pub database: String,
    /// The collection id.
    pub collection: String,
}

/// `databases/{database}/collections/{collection}/documents/{document}`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocumentName {
    /// The database id.
    pub database: String,
    /// The collection id.
    pub collection: String,
    /// The document id.
    pub document: String,
}

impl DatabaseName {
    /// Parses `databases/{database}`; `field` names the request field in errors.
    pub fn parse(name: &str, field: &str) -> Result<Self, Violation> {
        let rest = strip(name, DATABASES, field, "databases/{database}")?;
        check_segment(rest, IdKind::Database, field, name)?;
        Ok(DatabaseName {
            database: rest.to_owned(),
        })
    }

    /// The name of the collection `collection` in this database.
    pub fn collection(&self, collection: impl Into<String>) -> CollectionName {
        CollectionName {
            database: self.database.clone(),
            collection: collection.into(),
        }
    }
}

impl CollectionName {
    /// Parses `databases/{database}/collections/{collection}`.
    pub fn parse(name: &str, field: &str) -> Result<Self, Violation> {
        const PATTERN: &str = "databases/{database}/collections/{collection}";
        let rest = strip(name, DATABASES, field, PATTERN)?;
        let (database, collection) = split(rest, COLLECTIONS, field, name, PATTERN)?;
        check_segment(database, IdKind::Database, field, name)?;
        check_segment(collection, IdKind::Child, field, name)?;
        Ok(CollectionName {
            database: database.to_owned(),
            collection: collection.to_owned(),
        })
    }

    /// The name of the database this collection is in.
    pub fn parent(&self) -> DatabaseName {
        DatabaseName {
            database: self.database.clone(),
        }
    }

    /// The name of the document `document` in this collection.
    pub fn document(&self, document: impl Into<String>) -> DocumentName {
        DocumentName {
            database: self.database.clone(),
            collection: self.collection.clone(),
            document: document.into(),
        }
    }
}

impl DocumentName {
    /// Parses `databases/{database}/collections/{collection}/documents/{document}`.
    pub fn parse(name: &str, field: &str) -> Result<Self, Violation> {
        const PATTERN: &str = "databases/{database}/collections/{collection}/documents/{document}";
        let rest = strip(name, DATABASES, field, PATTERN)?;
        let (database, rest) = split(rest, COLLECTIONS, field, name, PATTERN)?;
        let (collection, document) = split(rest, DOCUMENTS, field, name, PATTERN)?;
        check_segment(database, IdKind::Database, field, name)?;
        check_segment(collection, IdKind::Child, field, name)?;
        check_segment(document, IdKind::Child, field, name)?;
        Ok(DocumentName {
            database: database.to_owned(),
            collection: collection.to_owned(),
            document: document.to_owned(),
        })
    }

    /// The name of the collection this document is in.
    pub fn parent(&self) -> CollectionName {
        CollectionName {
            database: self.database.clone(),
            collection: self.collection.clone(),
        }
    }
}

fn strip<'a>(
    name: &'a str,
    prefix: &str,
    field: &str,
    pattern: &str,
) -> Result<&'a str, Violation> {
    if name.is_empty() {
        return Err(Violation::new(
            field,
            format!("must be {pattern}, got an empty name"),
        ));
    }
    name.strip_prefix(prefix)
        .ok_or_else(|| mismatch(name, pattern, field))
}

/// A name that does not match `pattern`; the name is quoted, bounded, since
/// it is whatever the client sent.
fn mismatch(name: &str, pattern: &str, field: &str) -> Violation {
    Violation::new(field, format!("{} does not match {pattern}", quote(name)))
}

/// Splits `rest` at the first `separator`. Ids never contain `/`, so the first
/// occurrence is the only one a valid name can have.
fn split<'a>(
    rest: &'a str,
    separator: &str,
    field: &str,
    name: &str,
    pattern: &str,
) -> Result<(&'a str, &'a str), Violation> {
    // Same result as `rest.split_once(separator)`, but every separator starts
    // with `/`, and looking for that one byte is several times cheaper than a
    // substring search, which this does on every request.
    rest.match_indices('/')
        .find(|&(at, _)| rest[at..].starts_with(separator))
        .map(|(at, _)| (&rest[..at], &rest[at + separator.len()..]))
        .ok_or_else(|| mismatch(name, pattern, field))
}

/// Concatenates `parts` into a string allocated once at its final size:
/// names are built on every response, and `to_string()` through `Display`
/// grows its buffer several times and runs the formatting machinery.
fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    parts.iter().for_each(|part| out.push_str(part));
    out
}

impl DatabaseName {
    /// `databases/{database}`, as [`Display`](fmt::Display) writes it, built cheaply.
    pub fn to_name(&self) -> String {
        concat(&[DATABASES, &self.database])
    }
}

impl CollectionName {
    /// The full name, as [`Display`](fmt::Display) writes it, built cheaply.
    pub fn to_name(&self) -> String {
        concat(&[DATABASES, &self.database, COLLECTIONS, &self.collection])
    }
}

impl DocumentName {
    /// The full name, as [`Display`](fmt::Display) writes it, built cheaply.
    pub fn to_name(&self) -> String {
        concat(&[
            DATABASES,
            &self.database,
            COLLECTIONS,
            &self.collection,
            DOCUMENTS,
            &self.document,
        ])
    }
}

fn check_segment(id: &str, kind: IdKind, field: &str, name: &str) -> Result<(), Violation> {
    check_id(id, kind, field).map_err(|v| {
        let description = format!("invalid id in {}: {}", quote(name), v.description);
        Violation::new(field, description)
    })
}

impl fmt::Display for DatabaseName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{DATABASES}{}", self.database)
    }
}

impl fmt::Display for CollectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{DATABASES}{}{COLLECTIONS}{}",
            self.database, self.collection
        )
    }
}

impl fmt::Display for DocumentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{DATABASES}{}{COLLECTIONS}{}{DOCUMENTS}{}",
            self.database, self.collection, self.document
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_every_kind_of_name() {
        let db = DatabaseName::parse("databases/shop-1", "name").unwrap();
        assert_eq!(db.database, "shop-1");
        assert_eq!(db.to_string(), "databases/shop-1");

        let coll = CollectionName::parse("databases/shop/collections/Orders", "name").unwrap();
        assert_eq!(
            coll.parent(),
            DatabaseName {
                database: "shop".into()
            }
        );
        assert_eq!(coll.to_string(), "databases/shop/collections/Orders");

        let doc_name = "databases/shop/collections/orders/documents/..";
        let doc = DocumentName::parse(doc_name, "name").unwrap();
        assert_eq!(doc.document, "..");
        assert_eq!(doc.to_string(), doc_name);
        assert_eq!(doc.parent(), coll.parent().collection("orders"));
    }

    #[test]
    fn to_name_is_display_without_the_formatting_cost() {
        let doc = DocumentName::parse("databases/a/collections/b/documents/c.d", "name").unwrap();
        assert_eq!(doc.to_name(), doc.to_string());
        assert_eq!(doc.parent().to_name(), doc.parent().to_string());
        assert_eq!(doc.parent().parent().to_name(), "databases/a");
    }

    #[test]
    fn split_finds_the_first_whole_separator() {
        let split = |rest| split(rest, COLLECTIONS, "f", "n", "p").ok();
        assert_eq!(split("a/collections/b"), Some(("a", "b")));
        assert_eq!(split("a/x/collections/b"), Some(("a/x", "b")));
        assert_eq!(
            split("a/collections/b/collections/c"),
            Some(("a", "b/collections/c"))
        );
        assert_eq!(split("a/collection/b"), None);
        assert_eq!(split("a"), None);
    }

    #[test]
    fn rejects_anything_but_the_exact_pattern() {
        let bad_databases = [
            "",
            "databases/",
            "databases/Shop",
            "databases/a/b",
            "database/a",
            "/databases/a",
            "databases/a ",
            "databases/é",
        ];
        for name in bad_databases {
            assert!(DatabaseName::parse(name, "name").is_err(), "{name:?}");
        }
        let bad_collections = [
            "databases/a/collections/",
            "databases/a/collections/b/",
            "databases/a/collections/b/c",
            "databases/A/collections/b",
            "databases/a/collection/b",
            "databases/a",
        ];
        for name in bad_collections {
            assert!(CollectionName::parse(name, "name").is_err(), "{name:?}");
        }
        let bad_documents = [
            "databases/a/collections/b/documents/",
            "databases/a/collections/b/documents/c/d",
            "databases/a/collections/b",
            "databases/a/collections//documents/c",
        ];
        for name in bad_documents {
            assert!(DocumentName::parse(name, "name").is_err(), "{name:?}");
        }
    }

    #[test]
    fn violation_names_the_field_and_the_value() {
        let err = DatabaseName::parse("databases/UPPER", "parent").unwrap_err();
        assert_eq!(err.field, "parent");
        assert!(err.description.contains("databases/UPPER"), "{err}");
    }

    #[test]
    fn id_length_bounds_are_1_to_64() {
        assert!(check_id(&"a".repeat(64), IdKind::Database, "id").is_ok());
        assert!(check_id(&"a".repeat(65), IdKind::Database, "id").is_err());
        assert!(check_id("", IdKind::Child, "id").is_err());
        assert!(check_id("Ab.-_9", IdKind::Child, "id").is_ok());
        assert!(check_id("Ab", IdKind::Database, "id").is_err());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever a client sends, parsing returns; and a name that parses
        /// prints back exactly as it was sent.
        #[test]
        fn parsing_never_panics_and_round_trips(name in "(databases/)?[a-zA-Z0-9._/é -]{0,40}(/collections/[a-zA-Z0-9._-]{0,6})?(/documents/[a-zA-Z0-9._/-]{0,6})?") {
            if let Ok(parsed) = DatabaseName::parse(&name, "name") {
                prop_assert_eq!(parsed.to_string(), name.clone());
            }
            if let Ok(parsed) = CollectionName::parse(&name, "name") {
                prop_assert_eq!(parsed.to_string(), name.clone());
            }
            if let Ok(parsed) = DocumentName::parse(&name, "name") {
                prop_assert_eq!(parsed.to_string(), name);
            }
        }
    }
}
