//! The executable spec of transactions: Begin, Execute, Commit, Rollback
//! over the same [`Model`] as the plain requests.
//!
//! ```text
//!  Begin(db) ──► txns[k] = Open { db, ops: [] }            (TXN-BEGIN-1/2)
//!  Execute(db, k, ops) ─ shape of every op checked at once (TXN-EXEC-2/3)
//!                      └► each op becomes the plain Op it stands for, buffered
//!  Commit(db, k) ─► the buffered Ops run through Model::step on a copy:
//!                   all succeed → the copy becomes the state   (TXN-COMMIT-1)
//!                   op i fails  → the copy is dropped,
//!                                 FAILED_PRECONDITION "operation i" (TXN-COMMIT-2)
//!  Rollback(db, k) ─► ops dropped                          (TXN-ROLLBACK-1)
//!  either way txns[k] is finished: later requests on it are NOT_FOUND
//! ```
//!
//! Nothing buffered touches the state before Commit (TXN-EXEC-1), so the
//! plain Get and List requests that the machine interleaves observe
//! isolation and atomicity with no extra rule: they simply keep reading the
//! state the model has.
//!
//! A committed operation means exactly what the plain request means
//! (a create under a missing parent is NOT_FOUND, a cascade delete removes
//! the subtree...), so the model reuses [`Model::step`] instead of restating
//! those rules; the only new rules are the operation's shape and its `value`.

use serde_json::{Map, Value};

use super::state::{
    Effect, Expect, K, LocalName, Mask, Model, Op, field_valid, invalid, not_found, valid_name,
};

/// `Operation.mutation_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// MUTATION_TYPE_CREATE.
    Create,
    /// MUTATION_TYPE_UPDATE.
    Update,
    /// MUTATION_TYPE_DELETE.
    Delete,
}

/// One `Operation` of an Execute, as sent: fields may be invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOp {
    /// mutation_type; `None` is MUTATION_TYPE_UNSPECIFIED.
    pub verb: Option<Verb>,
    /// entity_type; `None` is ENTITY_TYPE_UNSPECIFIED.
    pub kind: Option<K>,
    /// name.
    pub name: LocalName,
    /// value: the raw text (JSON for creates and updates, empty for deletes).
    pub value: String,
}

/// The transaction id a request sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tx {
    /// The id that the n-th most recent successful Begin returned (0: the
    /// last one). Counted backwards so that shrinking, which deletes
    /// requests, can drop a Begin made before the one a request names
    /// without renumbering that request's reference.
    Recent(usize),
    /// An id no Begin returned.
    Unknown,
    /// An empty `transaction_id`.
    Empty,
}

/// Where a transaction is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxState {
    /// Accepting operations.
    Open,
    /// Ended by Commit, successful or not (TXN-COMMIT-3).
    Committed,
    /// Ended by Rollback (TXN-ROLLBACK-1).
    RolledBack,
    /// Still open, but its database was deleted after Begin: the spec does
    /// not say what then happens to it (see [`Model::defined`]).
    Orphaned,
}

/// A transaction the model knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Txn {
    /// The local id of the database it was begun on.
    pub db: String,
    /// The buffered operations, as the plain requests they stand for. They
    /// are applied only by a Commit of the open transaction; after the end
    /// they stay here so that the machine can read the names they wrote.
    pub ops: Vec<Op>,
    /// Open or finished.
    pub state: TxState,
}

impl Txn {
    /// The local names its operations write.
    pub fn written(&self) -> impl Iterator<Item = Vec<String>> + '_ {
        self.ops.iter().filter_map(effect_of).map(|(segs, _)| segs)
    }
}

/// The local database id of `database_name`, or a violation on it.
fn database_of(db: &LocalName, bad: &mut Vec<String>) -> Option<String> {
    let id = valid_name(db, 1).map(|segs| segs[0].clone());
    if id.is_none() {
        bad.push("database_name".into());
    }
    id
}

/// The request-level checks of Execute, Commit and Rollback.
fn request(db: &LocalName, txn: Tx, bad: &mut Vec<String>) -> Option<String> {
    let id = database_of(db, bad);
    if txn == Tx::Empty {
        bad.push("transaction_id".into());
    }
    id
}

/// TXN-EXEC-3: the mutable field that an operation's `value` sets (empty
/// for a delete), or `None` when the value is not valid for the operation.
///
/// Databases and collections take a JSON object of their mutable field and
/// nothing else; a document takes its JSON document, stored verbatim.
fn op_field(kind: K, verb: Verb, value: &str) -> Option<String> {
    if verb == Verb::Delete {
        return value.is_empty().then(String::new);
    }
    let field = match kind {
        K::Doc => value.to_owned(),
        K::Db | K::Coll => {
            let key = if kind == K::Db {
                "display_name"
            } else {
                "description"
            };
            let object: Map<String, Value> = serde_json::from_str(value).ok()?;
            if object.keys().any(|k| k != key) {
                return None;
            }
            match object.get(key) {
                Some(Value::String(s)) => s.clone(),
                // A collection's description is optional; a display name is not.
                None if kind == K::Coll => String::new(),
                _ => return None,
            }
        }
    };
    field_valid(kind, &field).then_some(field)
}

impl TxOp {
    /// TXN-EXEC-2: checks operation `index` inside database `db`; on success
    /// returns the plain request it stands for, otherwise adds its
    /// violations (`operations[index].FIELD`) to `bad`.
    ///
    /// With an enum unspecified the operation has no meaning, so only the
    /// enums are reported: the spec does not say whether `name` and `value`
    /// are judged then, and the machine leaves them valid in that case.
    fn check(&self, db: &str, index: usize, bad: &mut Vec<String>) -> Option<Op> {
        let at = |field: &str| format!("operations[{index}].{field}");
        let (Some(verb), Some(kind)) = (self.verb, self.kind) else {
            if self.verb.is_none() {
                bad.push(at("mutation_type"));
            }
            if self.kind.is_none() {
                bad.push(at("entity_type"));
            }
            return None;
        };
        // A name of this entity type, inside the transaction's database.
        let segs = valid_name(&self.name, kind.depth()).filter(|segs| segs[0] == db);
        if segs.is_none() {
            bad.push(at("name"));
        }
        let field = op_field(kind, verb, &self.value);
        if field.is_none() {
            bad.push(at("value"));
        }
        let (segs, field) = (segs?.to_vec(), field?);
        let name = LocalName::Name(segs.clone());
        Some(match verb {
            Verb::Create => {
                let (id, parent) = segs.split_last().map(|(i, p)| (i.clone(), p.to_vec()))?;
                Op::Create {
                    kind,
                    parent: LocalName::Name(parent),
                    id,
                    body_id: String::new(),
                    field,
                }
            }
            Verb::Update => Op::Update {
                kind,
                name,
                field,
                mask: Mask::Absent,
            },
            Verb::Delete => Op::Delete { kind, name },
        })
    }
}

/// The resource a buffered operation writes, and how.
fn effect_of(op: &Op) -> Option<(Vec<String>, Effect)> {
    match op {
        Op::Create {
            parent: LocalName::Name(parent),
            id,
            ..
        } => Some((
            [parent.as_slice(), std::slice::from_ref(id)].concat(),
            Effect::Created,
        )),
        Op::Update {
            name: LocalName::Name(segs),
            ..
        } => Some((segs.clone(), Effect::Updated)),
        Op::Delete {
            name: LocalName::Name(segs),
            ..
        } => Some((segs.clone(), Effect::Deleted)),
        _ => None,
    }
}

impl Model {
    /// The position in [`Model::txns`] of the transaction `txn` names, if
    /// it is one that a Begin returned.
    pub fn txn_index(&self, txn: Tx) -> Option<usize> {
        match txn {
            Tx::Recent(n) => self.txns.len().checked_sub(n + 1),
            Tx::Unknown | Tx::Empty => None,
        }
    }

    /// The transaction `txn` names, if a Begin returned it.
    pub fn txn(&self, txn: Tx) -> Option<&Txn> {
        self.txn_index(txn).map(|k| &self.txns[k])
    }

    /// The open transaction that `txn` names in database `db`. Unknown,
    /// finished and other databases' transactions all look the same
    /// (TXN-UNKNOWN-1, TXN-COMMIT-3).
    fn open(&self, db: &str, txn: Tx) -> Option<usize> {
        self.txn_index(txn)
            .filter(|&k| self.txns[k].state == TxState::Open && self.txns[k].db == db)
    }

    /// Whether the spec fixes the answer to `op` in this state. The machine
    /// only sends requests for which it does; two gaps are left out:
    ///
    /// - a transaction whose database was deleted after Begin (even if it
    ///   was created again), named with that database: the contract says a
    ///   missing database is NOT_FOUND, but not whether the transaction
    ///   survives, nor whether a re-created database is "another database";
    /// - operations in an Execute without a [home](Model::home): TXN-EXEC-2
    ///   judges names "inside the transaction's database", the contract
    ///   "inside this database" (`database_name`); such Executes are sent
    ///   without operations.
    pub fn defined(&self, op: &Op) -> bool {
        match op {
            Op::Execute { db, txn, ops } => {
                self.usable(db, *txn) && (ops.is_empty() || self.home(db, *txn).is_some())
            }
            Op::Commit { db, txn } | Op::Rollback { db, txn } => self.usable(db, *txn),
            _ => true,
        }
    }

    /// Whether `txn` is one the model knows, and not an orphan named with
    /// its own database.
    fn usable(&self, db: &LocalName, txn: Tx) -> bool {
        let Tx::Recent(_) = txn else {
            return true;
        };
        let own = |t: &Txn| valid_name(db, 1).is_some_and(|segs| segs[0] == t.db);
        self.txn(txn)
            .is_some_and(|t| !(t.state == TxState::Orphaned && own(t)))
    }

    /// The database inside which an Execute's operations are judged, where
    /// both readings of the spec agree: `database_name` is the transaction's
    /// own database, or the id is unknown or empty (so there is no other).
    pub fn home(&self, db: &LocalName, txn: Tx) -> Option<String> {
        let db = valid_name(db, 1)?[0].clone();
        match txn {
            Tx::Unknown | Tx::Empty => Some(db),
            Tx::Recent(_) => self
                .txn(txn)
                .filter(|t| t.db == db && t.state != TxState::Orphaned)
                .map(|_| db),
        }
    }

    /// Begin: an existing database gets a new open transaction.
    pub(super) fn begin(&mut self, db: &LocalName) -> Expect {
        let mut bad = Vec::new();
        let Some(db) = database_of(db, &mut bad) else {
            return invalid(bad);
        };
        if !self.root.contains_key(&db) {
            return not_found();
        }
        self.txns.push(Txn {
            db,
            ops: Vec::new(),
            state: TxState::Open,
        });
        Expect::Begun
    }

    /// Execute: every operation is checked first; a bad one rejects the
    /// whole request and leaves the transaction as it was (TXN-EXEC-2).
    pub(super) fn execute(&mut self, db: &LocalName, txn: &Tx, ops: &[TxOp]) -> Expect {
        let mut bad = Vec::new();
        let db = request(db, *txn, &mut bad);
        // Without a database the operations cannot be judged "inside" it.
        let plain: Vec<Option<Op>> = match &db {
            Some(db) => ops
                .iter()
                .enumerate()
                .map(|(i, op)| op.check(db, i, &mut bad))
                .collect(),
            None => Vec::new(),
        };
        let Some(db) = db.filter(|_| bad.is_empty()) else {
            return invalid(bad);
        };
        let Some(k) = self.open(&db, *txn) else {
            return not_found();
        };
        self.txns[k].ops.extend(plain.into_iter().flatten());
        Expect::Empty
    }

    /// Commit: the buffered operations, in order, on a copy of the state;
    /// the copy replaces the state only if every one succeeds.
    pub(super) fn commit(&mut self, db: &LocalName, txn: &Tx) -> Expect {
        let mut bad = Vec::new();
        let Some(db) = request(db, *txn, &mut bad).filter(|_| bad.is_empty()) else {
            return invalid(bad);
        };
        let Some(k) = self.open(&db, *txn) else {
            return not_found();
        };
        self.txns[k].state = TxState::Committed;
        let ops = self.txns[k].ops.clone();
        let mut after = self.clone();
        let mut effects = Vec::new();
        for (index, op) in ops.iter().enumerate() {
            if let Expect::Error(..) = after.step(op) {
                return Expect::CommitFailed(index);
            }
            effects.extend(effect_of(op));
        }
        *self = after;
        Expect::Committed(effects)
    }

    /// Rollback: the buffered operations are dropped.
    pub(super) fn rollback(&mut self, db: &LocalName, txn: &Tx) -> Expect {
        let mut bad = Vec::new();
        let Some(db) = request(db, *txn, &mut bad).filter(|_| bad.is_empty()) else {
            return invalid(bad);
        };
        let Some(k) = self.open(&db, *txn) else {
            return not_found();
        };
        self.txns[k].state = TxState::RolledBack;
        Expect::Empty
    }
}

#[cfg(test)]
mod tests;
