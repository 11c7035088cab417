//! The rules of the plain requests: [`Model::step`] validates every field,
//! then looks the parent and the name up, and changes the state only when
//! the request succeeds. The transaction requests it dispatches to live in
//! [`crate::model::txn`].

use std::collections::BTreeMap;

use tonic::Code;

use super::{
    Expect, Issued, K, LocalName, Model, Node, Op, Tok, field_valid, invalid, not_found, valid_id,
    valid_name,
};
use crate::model::txn::TxState;

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

impl Model {
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
