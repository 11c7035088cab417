//! Short paths: `shop/users/u1` for
//! `databases/shop/collections/users/documents/u1`.
//!
//! Each command knows which kind of resource it wants, so a path is read
//! against that kind: a *full name* of it (`databases/shop/collections/users`
//! for a collection) is taken as is, and anything else must be the short
//! path of it, one segment per level (`shop/users`). Reading by the expected
//! kind keeps the two forms apart even for a database that is itself called
//! `databases`. The ids themselves are left to the worker to judge: it
//! answers INVALID_ARGUMENT with the field at fault, and the client does not
//! keep a second copy of the id rules.

use super::error::CliError;

/// The three levels of resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `databases/{database}`.
    Database,
    /// `databases/{database}/collections/{collection}`.
    Collection,
    /// `databases/{database}/collections/{collection}/documents/{document}`.
    Document,
}

impl Kind {
    /// The collection word of each level in a full name.
    const WORDS: [&'static str; 3] = ["databases", "collections", "documents"];

    fn depth(self) -> usize {
        match self {
            Kind::Database => 1,
            Kind::Collection => 2,
            Kind::Document => 3,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Database => "database",
            Kind::Collection => "collection",
            Kind::Document => "document",
        }
    }

    fn parent(self) -> Option<Kind> {
        match self {
            Kind::Database => None,
            Kind::Collection => Some(Kind::Database),
            Kind::Document => Some(Kind::Collection),
        }
    }
}

/// The full name of the resource of `kind` that `path` names.
pub fn resolve(path: &str, kind: Kind) -> Result<String, CliError> {
    ids(path, kind).map(|ids| full_name(&ids)).ok_or_else(|| {
        CliError::usage(format!(
            "{path:?} is not a {noun}: expected {}",
            example(kind),
            noun = kind.noun()
        ))
    })
}

/// What a create command names: the resource itself (`Some(id)` with its
/// parent) or only its parent, letting the worker pick the id (`None`).
/// A database has no parent, so only [`Kind::Collection`] and
/// [`Kind::Document`] make sense here.
pub fn resolve_create(path: &str, kind: Kind) -> Result<(String, Option<String>), CliError> {
    let parent = kind.parent();
    // Full names first: `databases/shop` given to `collection create` is the
    // database, though it also reads as the short path of a collection.
    let resource = full_ids(path, kind).map(|ids| (ids, true));
    let resource = resource
        .or_else(|| {
            parent
                .and_then(|p| full_ids(path, p))
                .map(|ids| (ids, false))
        })
        .or_else(|| short_ids(path, kind).map(|ids| (ids, true)))
        .or_else(|| {
            parent
                .and_then(|p| short_ids(path, p))
                .map(|ids| (ids, false))
        });
    match resource {
        Some((mut ids, true)) => {
            let id = ids.pop();
            Ok((full_name(&ids), id))
        }
        Some((ids, false)) => Ok((full_name(&ids), None)),
        None => Err(CliError::usage(format!(
            "{path:?} is not a {noun} nor its parent: expected {}",
            example(kind),
            noun = kind.noun()
        ))),
    }
}

/// The kind and full name of whatever `path` names: a full name of any
/// level, else a short path by its number of segments (`tx run` files,
/// where each operation says which resource it touches).
pub fn resolve_any(path: &str) -> Result<(Kind, String), CliError> {
    let kinds = [Kind::Database, Kind::Collection, Kind::Document];
    let found = kinds
        .iter()
        .find_map(|&kind| full_ids(path, kind).map(|ids| (kind, ids)))
        .or_else(|| {
            kinds
                .iter()
                .find_map(|&kind| short_ids(path, kind).map(|ids| (kind, ids)))
        });
    match found {
        Some((kind, ids)) => Ok((kind, full_name(&ids))),
        None => Err(CliError::usage(format!(
            "{path:?} names no resource: expected DATABASE[/COLLECTION[/DOCUMENT]] or a full name"
        ))),
    }
}

/// The id of the last segment of a full name.
pub fn last_id(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// The ids of `path` read as a full name or a short path of `kind`.
fn ids(path: &str, kind: Kind) -> Option<Vec<String>> {
    full_ids(path, kind).or_else(|| short_ids(path, kind))
}

/// `databases/a/collections/b` → `[a, b]` for [`Kind::Collection`].
fn full_ids(path: &str, kind: Kind) -> Option<Vec<String>> {
    let segments = segments(path)?;
    let full = segments.len() == 2 * kind.depth()
        && segments
            .iter()
            .step_by(2)
            .zip(Kind::WORDS)
            .all(|(segment, word)| *segment == word);
    full.then(|| {
        segments
            .iter()
            .skip(1)
            .step_by(2)
            .map(|s| s.to_string())
            .collect()
    })
}

/// `a/b` → `[a, b]` for [`Kind::Collection`].
fn short_ids(path: &str, kind: Kind) -> Option<Vec<String>> {
    let segments = segments(path)?;
    (segments.len() == kind.depth()).then(|| segments.iter().map(|s| s.to_string()).collect())
}

fn segments(path: &str) -> Option<Vec<&str>> {
    let segments: Vec<&str> = path.split('/').collect();
    (!segments.iter().any(|segment| segment.is_empty())).then_some(segments)
}

fn full_name(ids: &[String]) -> String {
    let mut name = String::new();
    for (word, id) in Kind::WORDS.iter().zip(ids) {
        if !name.is_empty() {
            name.push('/');
        }
        name.push_str(word);
        name.push('/');
        name.push_str(id);
    }
    name
}

fn example(kind: Kind) -> &'static str {
    match kind {
        Kind::Database => "DATABASE or databases/DATABASE",
        Kind::Collection => "DATABASE/COLLECTION or databases/DATABASE/collections/COLLECTION",
        Kind::Document => {
            "DATABASE/COLLECTION/DOCUMENT or databases/DATABASE/collections/COLLECTION/documents/DOCUMENT"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_paths_and_full_names_name_the_same_resource() {
        let doc = "databases/shop/collections/users/documents/u1";
        assert_eq!(resolve("shop/users/u1", Kind::Document).unwrap(), doc);
        assert_eq!(resolve(doc, Kind::Document).unwrap(), doc);
        assert_eq!(resolve("shop", Kind::Database).unwrap(), "databases/shop");
        assert_eq!(
            resolve("databases/shop", Kind::Database).unwrap(),
            "databases/shop"
        );
    }

    #[test]
    fn a_database_called_databases_is_still_reachable() {
        assert_eq!(
            resolve("databases", Kind::Database).unwrap(),
            "databases/databases"
        );
        assert_eq!(
            resolve("databases/x", Kind::Collection).unwrap(),
            "databases/databases/collections/x"
        );
    }

    #[test]
    fn a_path_of_the_wrong_depth_is_a_usage_error() {
        for (path, kind) in [
            ("shop/users", Kind::Document),
            ("shop", Kind::Collection),
            ("shop//u1", Kind::Document),
            ("", Kind::Database),
        ] {
            let err = resolve(path, kind).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{path}");
        }
    }

    #[test]
    fn any_path_is_read_by_its_depth_unless_it_is_a_full_name() {
        assert_eq!(resolve_any("shop/users").unwrap().0, Kind::Collection);
        assert_eq!(
            resolve_any("databases/shop").unwrap(),
            (Kind::Database, "databases/shop".into())
        );
        assert_eq!(resolve_any("a/b/c").unwrap().0, Kind::Document);
        assert!(resolve_any("a/b/c/d/e").is_err());
    }

    #[test]
    fn create_takes_the_resource_or_its_parent() {
        assert_eq!(
            resolve_create("shop/users/u1", Kind::Document).unwrap(),
            ("databases/shop/collections/users".into(), Some("u1".into()))
        );
        assert_eq!(
            resolve_create("shop/users", Kind::Document).unwrap(),
            ("databases/shop/collections/users".into(), None)
        );
        assert_eq!(
            resolve_create("databases/shop", Kind::Collection).unwrap(),
            ("databases/shop".into(), None)
        );
    }
}
