//! Applying a write: from the operations a command carries to a record.
//!
//! [`plan`] looks at the current tree and decides the entries one operation
//! produces: it checks that the parent exists and the name is free (or
//! taken, for updates and deletes), picks generated ids, stamps the commit
//! time and lists the children a cascade delete takes with it. It never
//! changes the tree.
//!
//! [`execute`] runs the operations of one command (one for a plain request,
//! many for a transaction) against the tree: plan one, apply its entries,
//! plan the next against the changed tree, and so on, so a transaction can
//! create a collection and then documents inside it. If any operation
//! fails, the entries already applied are undone in reverse order and
//! nothing of the batch remains. The caller holds the write lock
//! throughout, so no reader ever sees a half-executed batch.
//!
//! Everything here is a function of the tree, the operations, the commit
//! time and the command's random stream: that is what makes applying the
//! same log on two replicas give the same state.

use std::sync::Arc;

use rand_chacha::rand_core::RngCore;

use crate::{
    clock::Timestamp,
    error::{Error, Result},
    ids::generate_id,
    names::{CollectionName, DatabaseName, IdKind},
    store::{
        command::Failed,
        ops::Op,
        record::{Change, Entry, Mutation},
        rows::{CollectionRow, DatabaseRow, DocumentRow},
        tree::{Key, Tree},
    },
};

/// Entries applied by a successful [`execute`], with the changes that undo them.
#[derive(Debug)]
pub struct Executed {
    /// The record's entries, in the order they were applied.
    pub entries: Vec<Entry>,
    /// The inverse changes, in the order they were made.
    pub undo: Vec<Change>,
}

/// Applies `ops` to `tree` all or nothing, stamping every change with `now`.
pub fn execute(
    tree: &mut Tree,
    ops: &[Op],
    now: Timestamp,
    rng: &mut impl RngCore,
) -> Result<Executed, Failed> {
    let mut applied = Executed {
        entries: Vec::new(),
        undo: Vec::new(),
    };
    for (index, op) in ops.iter().enumerate() {
        let planned = plan(tree, op, now, rng).and_then(|entries| {
            for entry in &entries {
                applied.undo.push(tree.set(entry.change.clone())?);
            }
            Ok(entries)
        });
        match planned {
            // A plain request is one operation: its planned entries are the
            // record's, with no second vector to grow and copy into.
            Ok(entries) if applied.entries.is_empty() => applied.entries = entries,
            Ok(entries) => applied.entries.extend(entries),
            Err(error) => {
                undo(tree, applied.undo);
                return Err(Failed { index, error });
            }
        }
    }
    Ok(applied)
}

/// Reverts changes made by [`execute`], newest first.
pub fn undo(tree: &mut Tree, undo: Vec<Change>) {
    for change in undo.into_iter().rev() {
        // Undoing restores a state that existed a moment ago, so every parent
        // is in place and `set` cannot fail.
        let _ = tree.set(change);
    }
}

/// Decides the entries of one operation against the current tree.
pub fn plan(tree: &Tree, op: &Op, now: Timestamp, rng: &mut impl RngCore) -> Result<Vec<Entry>> {
    let (mutation, changes) = decide(tree, op, now, rng)?;
    Ok(changes
        .into_iter()
        .map(|change| Entry {
            id: uuid_v4(rng),
            mutation,
            change,
        })
        .collect())
}

/// The kind of mutation `op` makes and the resources it changes.
fn decide(
    tree: &Tree,
    op: &Op,
    now: Timestamp,
    rng: &mut impl RngCore,
) -> Result<(Mutation, Vec<Change>)> {
    let decided = match op {
        Op::CreateDatabase { id, display_name } => {
            let id = free_id(id.as_deref(), IdKind::Database, rng, |id| {
                tree.database(&DatabaseName {
                    database: id.into(),
                })
                .is_some()
            })
            .map_err(|id| Error::AlreadyExists(DatabaseName { database: id }.to_string()))?;
            let name = DatabaseName { database: id };
            let row = DatabaseRow {
                display_name: display_name.clone(),
                created_at: now,
                updated_at: now,
            };
            (Mutation::Create, vec![Change::Database(name, Some(row))])
        }
        Op::UpdateDatabase { name, display_name } => {
            let node = tree.database(name).ok_or_else(|| not_found(name))?;
            let row = DatabaseRow {
                display_name: display_name.clone(),
                created_at: node.row.created_at,
                updated_at: now,
            };
            (
                Mutation::Update,
                vec![Change::Database(name.clone(), Some(row))],
            )
        }
        Op::DeleteDatabase { name } => {
            let node = tree.database(name).ok_or_else(|| not_found(name))?;
            let mut changes = Vec::new();
            for (collection, coll_node) in &node.collections {
                let coll_name = name.collection(collection.clone());
                cascade_documents(&coll_name, coll_node.documents.keys(), &mut changes);
                changes.push(Change::Collection(coll_name, None));
            }
            changes.push(Change::Database(name.clone(), None));
            (Mutation::Delete, changes)
        }
        Op::CreateCollection {
            parent,
            id,
            description,
        } => {
            let db = tree.database(parent).ok_or_else(|| not_found(parent))?;
            let id = free_id(id.as_deref(), IdKind::Child, rng, |id| {
                db.collections.contains_key(id)
            })
            .map_err(|id| Error::AlreadyExists(parent.collection(id).to_string()))?;
            let row = CollectionRow {
                description: description.clone(),
                created_at: now,
                updated_at: now,
            };
            (
                Mutation::Create,
                vec![Change::Collection(parent.collection(id), Some(row))],
            )
        }
        Op::UpdateCollection { name, description } => {
            let node = tree.collection(name).ok_or_else(|| not_found(name))?;
            let row = CollectionRow {
                description: description.clone(),
                created_at: node.row.created_at,
                updated_at: now,
            };
            (
                Mutation::Update,
                vec![Change::Collection(name.clone(), Some(row))],
            )
        }
        Op::DeleteCollection { name } => {
            let node = tree.collection(name).ok_or_else(|| not_found(name))?;
            let mut changes = Vec::new();
            cascade_documents(name, node.documents.keys(), &mut changes);
            changes.push(Change::Collection(name.clone(), None));
            (Mutation::Delete, changes)
        }
        Op::CreateDocument { parent, id, value } => {
            let coll = tree.collection(parent).ok_or_else(|| not_found(parent))?;
            let id = free_id(id.as_deref(), IdKind::Child, rng, |id| {
                coll.documents.contains_key(id)
            })
            .map_err(|id| Error::AlreadyExists(parent.document(id).to_string()))?;
            let row = DocumentRow {
                value: value.clone(),
                created_at: now,
                updated_at: now,
            };
            let change = Change::Document(parent.document(id), Some(Arc::new(row)));
            (Mutation::Create, vec![change])
        }
        Op::UpdateDocument { name, value } => {
            let old = tree.document(name).ok_or_else(|| not_found(name))?;
            let row = DocumentRow {
                value: value.clone(),
                created_at: old.created_at,
                updated_at: now,
            };
            let change = Change::Document(name.clone(), Some(Arc::new(row)));
            (Mutation::Update, vec![change])
        }
        Op::DeleteDocument { name } => {
            tree.document(name).ok_or_else(|| not_found(name))?;
            (Mutation::Delete, vec![Change::Document(name.clone(), None)])
        }
    };
    Ok(decided)
}

fn cascade_documents<'a>(
    collection: &CollectionName,
    documents: impl Iterator<Item = &'a Key>,
    changes: &mut Vec<Change>,
) {
    changes.extend(
        documents.map(|doc| Change::Document(collection.document(doc.as_str().to_owned()), None)),
    );
}

/// The client's id when it is free (`Err` with it when it is `taken`), or a
/// fresh generated one that is not.
///
/// Each candidate is looked up once: the lookup that finds a generated id
/// free is the same one that would find a client's id taken, so a create
/// searches its parent's map once before inserting. 20 characters from a
/// 38-letter alphabet are ~105 bits: a collision is astronomically
/// unlikely, but checking costs that one lookup, so we check.
fn free_id(
    requested: Option<&str>,
    kind: IdKind,
    rng: &mut impl RngCore,
    taken: impl Fn(&str) -> bool,
) -> Result<String, String> {
    if let Some(id) = requested {
        return if taken(id) {
            Err(id.to_owned())
        } else {
            Ok(id.to_owned())
        };
    }
    loop {
        let id = generate_id(kind, rng);
        if !taken(&id) {
            return Ok(id);
        }
    }
}

/// A random (version 4) UUID from the command's stream.
fn uuid_v4(rng: &mut impl RngCore) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    *uuid::Builder::from_random_bytes(bytes).as_uuid().as_bytes()
}

fn not_found(name: &impl ToString) -> Error {
    Error::NotFound(name.to_string())
}
