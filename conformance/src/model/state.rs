//! The executable spec: a pure model of databases, collections and
//! documents, and of what every request must answer.
//!
//! The model knows nothing about gRPC or time. [`Model::step`] takes an
//! [`Op`] and returns what the contract says the answer is ([`Expect`]),
//! updating the model's state when the request succeeds. Ids are *local*
//! (`a`, `x`): the machine maps them into the run's namespace, so the model
//! reads like the SPEC it restates:
//!
//! 1. validate every field; any violation is INVALID_ARGUMENT with one
//!    violation per bad field (ERR-3);
//! 2. then the parent must exist (NOT_FOUND), then the name must be free
//!    (ALREADY_EXISTS) or taken (NOT_FOUND);
//! 3. lists are name-ordered pages; a token is a cursor (scope, last id).
//!
//! Transactions ([`super::txn`]) are requests too: Begin, Execute, Commit
//! and Rollback are [`Op`]s over the same state, and a committed operation
//! is applied with the very rules of the plain request it stands for.

use std::collections::BTreeMap;

use tonic::Code;

use super::txn::{Tx, TxOp, TxState, Txn};

/// Database ids the generator draws from: three valid, two not.
pub const DB_IDS: &[&str] = &["a", "b", "c", "B", "a b"];
/// Collection and document ids: five valid (`.` and `..` included), two not.
pub const CHILD_IDS: &[&str] = &["x", "y", "X", ".", "..", "x/y", "é"];
/// Names that match no pattern; `{db}` is a real database id of the run.
pub const MALFORMED: &[&str] = &[
    "",
    "databases/",
    "{db}",
    "databases/{db}/",
    "databases/{db}/collections/",
];

/// A resource name in local terms, as the generator makes it: the model's
/// own ids (the machine maps them into the run's namespace), or a name
/// malformed on purpose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalName {
    /// Local ids: `[db]`, `[db, coll]` or `[db, coll, doc]`.
    Name(Vec<String>),
    /// One of [`MALFORMED`].
    Malformed(usize),
}

/// The update mask of an update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mask {
    /// No mask.
    Absent,
    /// A mask with no paths.
    Empty,
    /// `*`.
    Star,
    /// The mutable field.
    Field,
    /// An output-only path.
    OutputOnly,
    /// `*` and the field.
    StarAndField,
}

impl Mask {
    fn valid(self) -> bool {
        !matches!(self, Mask::OutputOnly | Mask::StarAndField)
    }
}

/// The page token of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tok {
    /// First page.
    None,
    /// The k-th token issued so far in this sequence (any listing).
    Issued(usize),
    /// A string the server never issued.
    Garbage,
}

/// The three kinds, as the model sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum K {
    /// Databases.
    Db,
    /// Collections.
    Coll,
    /// Documents.
    Doc,
}

impl K {
    /// Number of segments in a name of this kind.
    pub fn depth(self) -> usize {
        match self {
            K::Db => 1,
            K::Coll => 2,
            K::Doc => 3,
        }
    }

    /// The request field of the resource message.
    pub fn message(self) -> &'static str {
        match self {
            K::Db => "database",
            K::Coll => "collection",
            K::Doc => "document",
        }
    }

    /// The mutable field's path.
    pub fn field(self) -> &'static str {
        match self {
            K::Db => "database.display_name",
            K::Coll => "collection.description",
            K::Doc => "document.value",
        }
    }
}

/// One request, in local terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// CreateX under `parent` (ignored for databases).
    Create {
        /// Kind.
        kind: K,
        /// Parent (collections, documents).
        parent: LocalName,
        /// Requested id ("" = generated).
        id: String,
        /// `document.id` (documents only).
        body_id: String,
        /// The mutable field.
        field: String,
    },
    /// GetX.
    Get {
        /// Kind.
        kind: K,
        /// Name.
        name: LocalName,
    },
    /// UpdateX.
    Update {
        /// Kind.
        kind: K,
        /// Name.
        name: LocalName,
        /// New value of the mutable field.
        field: String,
        /// Mask.
        mask: Mask,
    },
    /// DeleteX.
    Delete {
        /// Kind.
        kind: K,
        /// Name.
        name: LocalName,
    },
    /// ListX.
    List {
        /// Kind.
        kind: K,
        /// Parent (ignored for databases).
        parent: LocalName,
        /// page_size.
        size: i32,
        /// page_token.
        token: Tok,
    },
    /// Begin on `db`.
    Begin {
        /// database_name.
        db: LocalName,
    },
    /// Execute: buffer `ops` in `txn`.
    Execute {
        /// database_name.
        db: LocalName,
        /// transaction_id.
        txn: Tx,
        /// The operations, as sent.
        ops: Vec<TxOp>,
    },
    /// Commit `txn`.
    Commit {
        /// database_name.
        db: LocalName,
        /// transaction_id.
        txn: Tx,
    },
    /// Rollback `txn`.
    Rollback {
        /// database_name.
        db: LocalName,
        /// transaction_id.
        txn: Tx,
    },
}

/// What the contract says a request answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// OK with this resource (local name segments, mutable field).
    Resource(Vec<String>, String),
    /// OK with a resource whose id the server generated under this parent.
    Generated(Vec<String>, String),
    /// OK, Empty.
    Empty,
    /// OK with these items (local names, fields) and whether a token follows.
    Page(Vec<(Vec<String>, String)>, bool),
    /// All of the run's databases (a full listing, filtered).
    AllDatabases(Vec<(Vec<String>, String)>),
    /// An error; for INVALID_ARGUMENT the violated fields, sorted.
    Error(Code, Vec<String>),
    /// OK with a transaction id no Begin returned before.
    Begun,
    /// OK, Empty: a commit that wrote these resources (local names), in order.
    Committed(Vec<(Vec<String>, Effect)>),
    /// FAILED_PRECONDITION whose message names operation `.0` (0-based, in
    /// the transaction) as the one that failed; nothing changed.
    CommitFailed(usize),
}

impl Expect {
    /// Whether the request must fail.
    pub fn is_error(&self) -> bool {
        matches!(self, Expect::Error(..) | Expect::CommitFailed(_))
    }
}

/// What a committed operation did to the resource it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Created it: created_at = updated_at = the commit time.
    Created,
    /// Updated it: updated_at = the commit time.
    Updated,
    /// Deleted it, and everything below it.
    Deleted,
}

/// A token the model issued: the scope (parent segments) and the cursor id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// Parent segments of the listing.
    pub scope: Vec<String>,
    /// The last id of the page.
    pub after: String,
}

/// A node: its mutable field and its children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    /// display_name / description / value.
    pub field: String,
    /// Children by id.
    pub children: BTreeMap<String, Node>,
}

/// The state of the model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    /// Databases by local id.
    pub root: BTreeMap<String, Node>,
    /// Tokens issued so far, in order.
    pub tokens: Vec<Issued>,
    /// Transactions begun so far, in order (see [`Model::txn`]).
    pub txns: Vec<Txn>,
}

/// Whether `id` is a valid id at `depth` (1: database).
pub fn valid_id(id: &str, depth: usize) -> bool {
    (1..=64).contains(&id.len())
        && id.bytes().all(|b| match b {
            b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' => true,
            b'A'..=b'Z' => depth > 1,
            _ => false,
        })
}

/// The segments of `name` if it is a valid name of depth `depth`.
pub fn valid_name(name: &LocalName, depth: usize) -> Option<&[String]> {
    match name {
        LocalName::Name(segs) if segs.len() == depth => segs
            .iter()
            .enumerate()
            .all(|(i, s)| valid_id(s, i + 1))
            .then_some(segs.as_slice()),
        _ => None,
    }
}

/// Whether `field` is a valid value of `kind`'s mutable field.
pub(super) fn field_valid(kind: K, field: &str) -> bool {
    let chars = field.chars().count();
    match kind {
        K::Db => (1..=255).contains(&chars),
        K::Coll => chars <= 1024,
        K::Doc => (1..=4096).contains(&chars) && is_json_object(field),
    }
}

/// Whether `text` is RFC 8259 JSON whose top-level value is an object.
pub fn is_json_object(text: &str) -> bool {
    text.trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// The parent's segments (none for databases), or a `parent` violation.
fn parent_of(kind: K, parent: &LocalName, bad: &mut Vec<String>) -> Option<Vec<String>> {
    let segs = match kind {
        K::Db => Some(Vec::new()),
        _ => valid_name(parent, kind.depth() - 1).map(<[String]>::to_vec),
    };
    if segs.is_none() {
        bad.push("parent".to_owned());
    }
    segs
}

pub(super) fn invalid(mut fields: Vec<String>) -> Expect {
    fields.sort();
    Expect::Error(Code::InvalidArgument, fields)
}

pub(super) fn not_found() -> Expect {
    Expect::Error(Code::NotFound, Vec::new())
}

impl Model {
    /// The node at `segs`, if every level exists.
    pub fn node(&self, segs: &[String]) -> Option<&Node> {
        let (first, rest) = segs.split_first()?;
        rest.iter()
            .try_fold(self.root.get(first)?, |node, id| node.children.get(id))
    }

    fn node_mut(&mut self, segs: &[String]) -> Option<&mut Node> {
        let (first, rest) = segs.split_first()?;
        rest.iter().try_fold(self.root.get_mut(first)?, |node, id| {
            node.children.get_mut(id)
        })
    }

    fn children_mut(&mut self, parent: &[String]) -> Option<&mut BTreeMap<String, Node>> {
        if parent.is_empty() {
            Some(&mut self.root)
        } else {
            self.node_mut(parent).map(|n| &mut n.children)
        }
    }

    fn children(&self, parent: &[String]) -> Option<&BTreeMap<String, Node>> {
        if parent.is_empty() {
            Some(&self.root)
        } else {
            self.node(parent).map(|n| &n.children)
        }
    }

    /// Applies `op` and returns what the target must answer.
    pub fn step(&mut self, op: &Op) -> Expect {
        match op {
            Op::Create {
                kind,
                parent,
                id,
                body_id,
                field,
            } => self.create(*kind, parent, id, body_id, field),
            Op::Get { kind, name } => match valid_name(name, kind.depth()) {
                None => invalid(vec!["name".into()]),
                Some(segs) => match self.node(segs) {
                    Some(node) => Expect::Resource(segs.to_vec(), node.field.clone()),
                    None => not_found(),
                },
            },
            Op::Update {
                kind,
                name,
                field,
                mask,
            } => {
                let mut bad = Vec::new();
                let segs = valid_name(name, kind.depth());
                if segs.is_none() {
                    bad.push(format!("{}.name", kind.message()));
                }
                if !field_valid(*kind, field) {
                    bad.push(kind.field().to_owned());
                }
                if !mask.valid() {
                    bad.push("update_mask".into());
                }
                let Some(segs) = segs.filter(|_| bad.is_empty()) else {
                    return invalid(bad);
                };
                match self.node_mut(segs) {
                    Some(node) => {
                        node.field = field.clone();
                        Expect::Resource(segs.to_vec(), field.clone())
                    }
                    None => not_found(),
                }
            }
            Op::Delete { kind, name } => match valid_name(name, kind.depth()) {
                None => invalid(vec!["name".into()]),
                Some(segs) => {
                    let segs = segs.to_vec();
                    let (id, parent) = segs
                        .split_last()
                        .map(|(i, p)| (i.clone(), p.to_vec()))
                        .unwrap_or_default();
                    match self.children_mut(&parent).and_then(|c| c.remove(&id)) {
                        Some(_) => {
                            if parent.is_empty() {
                                self.orphan(&id);
                            }
                            Expect::Empty
                        }
                        None => not_found(),
                    }
                }
            },
            Op::List {
                kind,
                parent,
                size,
                token,
            } => self.list(*kind, parent, *size, *token),
            Op::Begin { db } => self.begin(db),
            Op::Execute { db, txn, ops } => self.execute(db, txn, ops),
            Op::Commit { db, txn } => self.commit(db, txn),
            Op::Rollback { db, txn } => self.rollback(db, txn),
        }
    }

    /// A deleted database leaves its open transactions without the database
    /// they were begun on; see [`Model::defined`] for why the suite never
    /// uses them again with that database.
    fn orphan(&mut self, db: &str) {
        for txn in &mut self.txns {
            if txn.db == db && txn.state == TxState::Open {
                txn.state = TxState::Orphaned;
            }
        }
    }

    fn create(
        &mut self,
        kind: K,
        parent: &LocalName,
        id: &str,
        body_id: &str,
        field: &str,
    ) -> Expect {
        let mut bad = Vec::new();
        let parent_segs = parent_of(kind, parent, &mut bad);
        // document_id wins; document.id is the fallback; both set and
        // different is an error on document.id (DOC-CREATE-2).
        let id_field = match kind {
            K::Db => "database_id",
            K::Coll => "collection_id",
            K::Doc => "document_id",
        };
        let chosen = if !id.is_empty() && !body_id.is_empty() && id != body_id {
            bad.push("document.id".into());
            String::new()
        } else if !id.is_empty() {
            if !valid_id(id, kind.depth()) {
                bad.push(id_field.into());
            }
            id.to_owned()
        } else {
            if !body_id.is_empty() && !valid_id(body_id, kind.depth()) {
                bad.push("document.id".into());
            }
            body_id.to_owned()
        };
        if !field_valid(kind, field) {
            bad.push(kind.field().to_owned());
        }
        let Some(parent_segs) = parent_segs.filter(|_| bad.is_empty()) else {
            return invalid(bad);
        };
        let Some(children) = self.children_mut(&parent_segs) else {
            return not_found();
        };
        if chosen.is_empty() {
            // Generated: the machine deletes it at once, so the state stays.
            return Expect::Generated(parent_segs, field.to_owned());
        }
        if children.contains_key(&chosen) {
            return Expect::Error(Code::AlreadyExists, Vec::new());
        }
        children.insert(
            chosen.clone(),
            Node {
                field: field.to_owned(),
                children: BTreeMap::new(),
            },
        );
        let mut segs = parent_segs;
        segs.push(chosen);
        Expect::Resource(segs, field.to_owned())
    }

    fn list(&mut self, kind: K, parent: &LocalName, size: i32, token: Tok) -> Expect {
        let mut bad = Vec::new();
        let parent_segs = parent_of(kind, parent, &mut bad);
        if !(0..=1000).contains(&size) {
            bad.push("page_size".into());
        }
        let after = match token {
            Tok::None => None,
            Tok::Garbage => {
                bad.push("page_token".into());
                None
            }
            Tok::Issued(k) => match (self.tokens.get(k), &parent_segs) {
                (Some(t), Some(scope)) if &t.scope == scope => Some(t.after.clone()),
                _ => {
                    bad.push("page_token".into());
                    None
                }
            },
        };
        let Some(parent_segs) = parent_segs.filter(|_| bad.is_empty()) else {
            return invalid(bad);
        };
        let Some(children) = self.children(&parent_segs) else {
            return not_found();
        };
        let item = |id: &String, node: &Node| {
            let mut segs = parent_segs.clone();
            segs.push(id.clone());
            (segs, node.field.clone())
        };
        if kind == K::Db {
            return Expect::AllDatabases(children.iter().map(|(id, n)| item(id, n)).collect());
        }
        let limit = if size == 0 { 100 } else { size as usize };
        let mut rest = children
            .iter()
            .filter(|(id, _)| after.as_ref().is_none_or(|a| id.as_bytes() > a.as_bytes()));
        let page: Vec<(Vec<String>, String)> = rest
            .by_ref()
            .take(limit)
            .map(|(id, n)| item(id, n))
            .collect();
        let more = rest.next().is_some();
        if more {
            let last = page
                .last()
                .and_then(|(segs, _)| segs.last())
                .cloned()
                .unwrap_or_default();
            self.tokens.push(Issued {
                scope: parent_segs,
                after: last,
            });
        }
        Expect::Page(page, more)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(segs: &[&str]) -> LocalName {
        LocalName::Name(segs.iter().map(|s| (*s).to_owned()).collect())
    }

    fn create(kind: K, parent: &[&str], id: &str, field: &str) -> Op {
        Op::Create {
            kind,
            parent: name(parent),
            id: id.into(),
            body_id: String::new(),
            field: field.into(),
        }
    }

    #[test]
    fn the_model_follows_the_spec_on_a_small_story() {
        let mut m = Model::default();
        assert_eq!(
            m.step(&create(K::Db, &[], "a", "A")),
            Expect::Resource(vec!["a".into()], "A".into())
        );
        assert_eq!(
            m.step(&create(K::Db, &[], "a", "A")),
            Expect::Error(Code::AlreadyExists, vec![])
        );
        assert_eq!(
            m.step(&create(K::Coll, &["b"], "x", "")),
            Expect::Error(Code::NotFound, vec![])
        );
        assert_eq!(
            m.step(&create(K::Doc, &["a", "x"], "a b", "[]")),
            Expect::Error(
                Code::InvalidArgument,
                vec!["document.value".into(), "document_id".into()]
            )
        );
        m.step(&create(K::Coll, &["a"], "x", ""));
        for id in ["d", "b", "c"] {
            m.step(&create(K::Doc, &["a", "x"], id, "{}"));
        }
        let list = |token| Op::List {
            kind: K::Doc,
            parent: name(&["a", "x"]),
            size: 2,
            token,
        };
        let Expect::Page(items, true) = m.step(&list(Tok::None)) else {
            panic!()
        };
        assert_eq!(items.len(), 2);
        m.step(&Op::Delete {
            kind: K::Doc,
            name: name(&["a", "x", "c"]),
        });
        let Expect::Page(rest, false) = m.step(&list(Tok::Issued(0))) else {
            panic!()
        };
        assert_eq!(rest[0].0, ["a", "x", "d"]);
        m.step(&Op::Delete {
            kind: K::Db,
            name: name(&["a"]),
        });
        assert_eq!(
            m.step(&Op::Get {
                kind: K::Coll,
                name: name(&["a", "x"])
            }),
            Expect::Error(Code::NotFound, vec![])
        );
    }
}
