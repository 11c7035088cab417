//! The state: three levels of ordered maps.
//!
//! ```text
//! Tree
//!  └─ BTreeMap<database id, DatabaseNode { row, collections }>
//!        └─ BTreeMap<collection id, CollectionNode { row, documents }>
//!              └─ BTreeMap<document id, Arc<DocumentRow>>
//! ```
//!
//! Why nested `BTreeMap`s rather than one flat map keyed by full name? Each
//! List call wants the children of one parent in name order. With a map per
//! parent, a page is `range(after..).take(n)`: O(log n + page size) wherever
//! the page is, and a cascade delete is the removal of one subtree. Because ids
//! never contain `/`, ordering siblings by id is ordering them by full name.
//!
//! Keys are [`Key`]s, not `String`s: a B-tree lookup compares the wanted id
//! with several keys of every node on its way down, and a `String` key is a
//! pointer to bytes elsewhere on the heap, so each comparison is a likely
//! cache miss once the tree outgrows the caches. `CompactString` keeps ids of
//! up to 24 bytes (generated ids are 20) inside the node itself. At 10^6
//! documents of 256 bytes, a Get cost the worker 32% more CPU time than at
//! 10^4 with `String` keys, and about the same with inline ones (issue 6).
//!
//! The tree knows nothing about requests, time or logs. It has exactly one
//! way to change: [`Tree::set`], which puts or removes one resource and returns
//! what was there before. Applying a log record is a sequence of `set`s;
//! undoing a failed transaction is the same `set`s with the old rows.

use std::{collections::BTreeMap, ops::Bound, sync::Arc};

use compact_str::CompactString;

use crate::{
    error::{Error, Result},
    names::{CollectionName, DatabaseName, DocumentName},
    store::{
        record::Change,
        rows::{CollectionRow, DatabaseRow, DocumentRow},
    },
};

/// An id as a map key: stored inline when it is short (see the module docs).
pub type Key = CompactString;

/// All databases, in id order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tree {
    databases: BTreeMap<Key, DatabaseNode>,
}

/// A database and its collections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseNode {
    /// The database's fields.
    pub row: DatabaseRow,
    /// Its collections, in id order.
    pub collections: BTreeMap<Key, CollectionNode>,
}

/// A collection and its documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionNode {
    /// The collection's fields.
    pub row: CollectionRow,
    /// Its documents, in id order.
    pub documents: BTreeMap<Key, Arc<DocumentRow>>,
    /// The bytes of its documents' values, kept as documents come and go,
    /// so that the metrics read it without visiting a document.
    pub(super) value_bytes: u64,
}

impl CollectionNode {
    /// A collection holding `documents`.
    pub(super) fn new(row: CollectionRow, documents: BTreeMap<Key, Arc<DocumentRow>>) -> Self {
        let value_bytes = documents.values().map(|d| d.value.len() as u64).sum();
        CollectionNode {
            row,
            documents,
            value_bytes,
        }
    }
}

/// How much a tree holds, for the metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sizes {
    /// Databases.
    pub databases: u64,
    /// Collections.
    pub collections: u64,
    /// Documents.
    pub documents: u64,
    /// Bytes of document values.
    pub document_bytes: u64,
    /// Records of the history ListWALEntries lists.
    pub history_records: u64,
    /// Their encoded bytes.
    pub history_bytes: u64,
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// At most the requested number of items, in id order.
    pub items: Vec<(String, T)>,
    /// Whether more items follow the last one.
    pub more: bool,
}

impl Tree {
    /// A tree made of `databases`, keyed by id (loading a snapshot).
    pub fn from_databases(databases: BTreeMap<Key, DatabaseNode>) -> Self {
        Tree { databases }
    }

    /// Every database, keyed by id (writing a snapshot).
    pub fn databases(&self) -> &BTreeMap<Key, DatabaseNode> {
        &self.databases
    }

    /// The database `name`, if it exists.
    pub fn database(&self, name: &DatabaseName) -> Option<&DatabaseNode> {
        self.databases.get(name.database.as_str())
    }

    /// The collection `name`, if it and its database exist.
    pub fn collection(&self, name: &CollectionName) -> Option<&CollectionNode> {
        self.collection_at(&name.database, &name.collection)
    }

    fn collection_at(&self, database: &str, collection: &str) -> Option<&CollectionNode> {
        self.databases.get(database)?.collections.get(collection)
    }

    /// The document `name`, if it and its parents exist.
    pub fn document(&self, name: &DocumentName) -> Option<&Arc<DocumentRow>> {
        // By ids, not through `name.parent()`: every Get comes here, and the
        // parent's name would be two strings allocated and freed per call.
        self.collection_at(&name.database, &name.collection)?
            .documents
            .get(name.document.as_str())
    }

    /// A page of databases with ids after `after`.
    pub fn list_databases(&self, after: Option<&str>, limit: usize) -> Page<DatabaseRow> {
        page(&self.databases, after, limit, |node| node.row.clone())
    }

    /// A page of the collections of `parent`, or `None` if it does not exist.
    pub fn list_collections(
        &self,
        parent: &DatabaseName,
        after: Option<&str>,
        limit: usize,
    ) -> Option<Page<CollectionRow>> {
        let node = self.database(parent)?;
        Some(page(&node.collections, after, limit, |c| c.row.clone()))
    }

    /// A page of the documents of `parent`, or `None` if it does not exist.
    pub fn list_documents(
        &self,
        parent: &CollectionName,
        after: Option<&str>,
        limit: usize,
    ) -> Option<Page<Arc<DocumentRow>>> {
        let node = self.collection(parent)?;
        Some(page(&node.documents, after, limit, Arc::clone))
    }

    /// Number of databases, collections and documents, for statistics.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut collections = 0;
        let mut documents = 0;
        for db in self.databases.values() {
            collections += db.collections.len();
            documents += db
                .collections
                .values()
                .map(|c| c.documents.len())
                .sum::<usize>();
        }
        (self.databases.len(), collections, documents)
    }

    /// What the tree holds, in O(databases + collections).
    pub fn sizes(&self) -> Sizes {
        let mut sizes = Sizes {
            databases: self.databases.len() as u64,
            ..Sizes::default()
        };
        for collection in self
            .databases
            .values()
            .flat_map(|db| db.collections.values())
        {
            sizes.collections += 1;
            sizes.documents += collection.documents.len() as u64;
            sizes.document_bytes += collection.value_bytes;
        }
        sizes
    }

    /// Puts or removes one resource and returns the change that undoes it.
    ///
    /// Putting a row keeps the resource's children (an update); removing a
    /// resource removes its subtree. Fails only when the parent of the
    /// resource is missing, which a well-formed record never asks for.
    pub fn set(&mut self, change: Change) -> Result<Change> {
        match change {
            Change::Database(name, row) => {
                let before = self.set_database(&name, row);
                Ok(Change::Database(name, before))
            }
            Change::Collection(name, row) => {
                let db = self
                    .databases
                    .get_mut(name.database.as_str())
                    .ok_or_else(|| missing_parent(&name.parent().to_string()))?;
                let before = set_node(&mut db.collections, &name.collection, row, |row| {
                    CollectionNode::new(row, BTreeMap::new())
                });
                Ok(Change::Collection(name, before))
            }
            Change::Document(name, row) => {
                // By ids, like `Tree::document`: the parent's name is built
                // only for the error, not on every write.
                let collection = self
                    .databases
                    .get_mut(name.database.as_str())
                    .and_then(|db| db.collections.get_mut(name.collection.as_str()))
                    .ok_or_else(|| missing_parent(&name.parent().to_string()))?;
                let added = row.as_ref().map_or(0, |r| r.value.len() as u64);
                let before = match row {
                    Some(row) => collection
                        .documents
                        .insert(Key::from(name.document.as_str()), row),
                    None => collection.documents.remove(name.document.as_str()),
                };
                let removed = before.as_ref().map_or(0, |r| r.value.len() as u64);
                collection.value_bytes = (collection.value_bytes + added).saturating_sub(removed);
                Ok(Change::Document(name, before))
            }
        }
    }

    fn set_database(
        &mut self,
        name: &DatabaseName,
        row: Option<DatabaseRow>,
    ) -> Option<DatabaseRow> {
        set_node(&mut self.databases, &name.database, row, |row| {
            DatabaseNode {
                row,
                collections: BTreeMap::new(),
            }
        })
    }
}

/// Access to the row inside a node, so [`set_node`] serves both levels.
trait HasRow {
    type Row;
    fn row_mut(&mut self) -> &mut Self::Row;
    fn into_row(self) -> Self::Row;
}

impl HasRow for DatabaseNode {
    type Row = DatabaseRow;
    fn row_mut(&mut self) -> &mut DatabaseRow {
        &mut self.row
    }
    fn into_row(self) -> DatabaseRow {
        self.row
    }
}

impl HasRow for CollectionNode {
    type Row = CollectionRow;
    fn row_mut(&mut self) -> &mut CollectionRow {
        &mut self.row
    }
    fn into_row(self) -> CollectionRow {
        self.row
    }
}

/// Replaces the row of `map[id]` (keeping its children), creates the node, or
/// removes it with its subtree; returns the previous row.
fn set_node<N: HasRow>(
    map: &mut BTreeMap<Key, N>,
    id: &str,
    row: Option<N::Row>,
    new_node: impl FnOnce(N::Row) -> N,
) -> Option<N::Row> {
    match (row, map.get_mut(id)) {
        (Some(row), Some(node)) => Some(std::mem::replace(node.row_mut(), row)),
        (Some(row), None) => {
            map.insert(Key::from(id), new_node(row));
            None
        }
        (None, _) => map.remove(id).map(N::into_row),
    }
}

/// The page of `map` that starts right after `after`.
///
/// One more item than asked for is looked at, so `more` is exact: a caller
/// issues a next-page token only when something really follows.
fn page<V, T>(
    map: &BTreeMap<Key, V>,
    after: Option<&str>,
    limit: usize,
    project: impl Fn(&V) -> T,
) -> Page<T> {
    let start = match after {
        Some(after) => Bound::Excluded(after),
        None => Bound::Unbounded,
    };
    let mut range = map.range::<str, _>((start, Bound::Unbounded));
    let items: Vec<(String, T)> = range
        .by_ref()
        .take(limit)
        .map(|(id, v)| (id.as_str().to_owned(), project(v)))
        .collect();
    let more = range.next().is_some();
    Page { items, more }
}

fn missing_parent(parent: &str) -> Error {
    Error::Internal(format!(
        "log record refers to {parent}, which does not exist"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;

    fn db_row(name: &str) -> DatabaseRow {
        DatabaseRow {
            display_name: name.into(),
            created_at: Timestamp::from_nanos(1),
            updated_at: Timestamp::from_nanos(1),
        }
    }

    fn coll_row() -> CollectionRow {
        CollectionRow {
            description: String::new(),
            created_at: Timestamp::from_nanos(1),
            updated_at: Timestamp::from_nanos(1),
        }
    }

    fn db(id: &str) -> DatabaseName {
        DatabaseName {
            database: id.into(),
        }
    }

    #[test]
    fn set_returns_the_change_that_undoes_it() {
        let mut tree = Tree::default();
        let undo_create = tree
            .set(Change::Database(db("a"), Some(db_row("A"))))
            .unwrap();
        assert_eq!(undo_create, Change::Database(db("a"), None));
        let undo_update = tree
            .set(Change::Database(db("a"), Some(db_row("B"))))
            .unwrap();
        assert_eq!(undo_update, Change::Database(db("a"), Some(db_row("A"))));
        tree.set(undo_update).unwrap();
        assert_eq!(tree.database(&db("a")).unwrap().row, db_row("A"));
        tree.set(undo_create).unwrap();
        assert_eq!(tree, Tree::default());
    }

    #[test]
    fn updating_a_database_keeps_its_collections() {
        let mut tree = Tree::default();
        tree.set(Change::Database(db("a"), Some(db_row("A"))))
            .unwrap();
        tree.set(Change::Collection(
            db("a").collection("c"),
            Some(coll_row()),
        ))
        .unwrap();
        tree.set(Change::Database(db("a"), Some(db_row("B"))))
            .unwrap();
        assert!(tree.collection(&db("a").collection("c")).is_some());
    }

    #[test]
    fn a_child_without_its_parent_is_refused() {
        let mut tree = Tree::default();
        let err = tree
            .set(Change::Collection(
                db("nope").collection("c"),
                Some(coll_row()),
            ))
            .unwrap_err();
        assert!(matches!(err, Error::Internal(_)), "{err:?}");
    }

    #[test]
    fn pages_start_after_the_cursor_and_know_whether_more_follow() {
        let mut tree = Tree::default();
        for id in ["a", "b", "c", "d"] {
            tree.set(Change::Database(db(id), Some(db_row(id))))
                .unwrap();
        }
        let ids =
            |p: &Page<DatabaseRow>| p.items.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>();
        let first = tree.list_databases(None, 2);
        assert_eq!(
            (ids(&first), first.more),
            (vec!["a".into(), "b".into()], true)
        );
        // The cursor need not exist any more: "bb" sorts between b and c.
        let next = tree.list_databases(Some("bb"), 2);
        assert_eq!(
            (ids(&next), next.more),
            (vec!["c".into(), "d".into()], false)
        );
        assert_eq!(tree.list_databases(Some("d"), 2).items.len(), 0);
    }
}
