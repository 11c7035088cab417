//! From local terms to the wire: an [`Op`] names resources by local ids
//! and tokens and transactions by position; here they become the real
//! request of the run's namespace, or the replay script's text.

use prost_types::FieldMask;

use crate::{
    call::Call,
    model::{
        state::{Expect, K, LocalName, MALFORMED, Mask, Model, Op, Tok},
        txn::{Tx, TxOp, Verb},
    },
    proto::database as pb,
    req::{self, Kind},
};

/// An id that no Begin returns (real ids are random).
const UNKNOWN_TXN: &str = "no-such-transaction";

/// The ops as a script: plain ids, `!` on requests the model expects to fail.
pub fn replay_script(ops: &[Op]) -> String {
    let mut model = Model::default();
    // The script names tokens and transactions by the variables `replay`
    // sets as the target answers: `$tokenN`, `$txnN`.
    let mut vars = Handles::default();
    let mut out = String::new();
    for op in ops {
        let expect = model.step(op);
        let bang = if expect.is_error() { "!" } else { "" };
        let call = to_call(op, "", &vars);
        out.push_str(&format!("{bang}{}\n", call.render()));
        if expect == Expect::Begun {
            let k = vars.txns.len();
            vars.txns.push((String::new(), format!("$txn{k}")));
        }
    }
    out
}

/// What the target handed out so far, in order: the page tokens of
/// collection and document listings, and the transactions it began
/// (`database_name`, `transaction_id`).
#[derive(Clone, Debug, Default)]
pub struct Handles {
    /// Page tokens; `Tok::Issued(k)` is `tokens[k]`.
    pub tokens: Vec<String>,
    /// Transactions, as [`Model::txns`].
    pub txns: Vec<(String, String)>,
}

/// The `Operation` of `op` with database ids prefixed by `prefix`.
fn operation(op: &TxOp, prefix: &str) -> pb::Operation {
    let mutation = op.verb.map_or(pb::MutationType::Unspecified, |v| match v {
        Verb::Create => pb::MutationType::Create,
        Verb::Update => pb::MutationType::Update,
        Verb::Delete => pb::MutationType::Delete,
    });
    let entity = op.kind.map_or(pb::EntityType::Unspecified, |k| match k {
        K::Db => pb::EntityType::Database,
        K::Coll => pb::EntityType::Collection,
        K::Doc => pb::EntityType::Document,
    });
    pb::Operation {
        mutation_type: mutation as i32,
        entity_type: entity as i32,
        name: real_name(&op.name, prefix),
        value: op.value.clone(),
    }
}

/// Builds the request of `op` with database ids prefixed by `prefix`;
/// `handles` are the real tokens and transaction ids issued so far.
pub fn to_call(op: &Op, prefix: &str, handles: &Handles) -> Call {
    let txn_id = |txn: &Tx| match txn {
        Tx::Recent(n) => handles
            .txns
            .len()
            .checked_sub(n + 1)
            .and_then(|k| handles.txns.get(k))
            .map_or_else(|| UNKNOWN_TXN.to_owned(), |(_, id)| id.clone()),
        Tx::Unknown => UNKNOWN_TXN.to_owned(),
        Tx::Empty => String::new(),
    };
    let name = |t: &LocalName| real_name(t, prefix);
    let kind = |k: K| match k {
        K::Db => Kind::Database,
        K::Coll => Kind::Collection,
        K::Doc => Kind::Document,
    };
    match op {
        Op::Create {
            kind: K::Doc,
            parent,
            id,
            body_id,
            field,
        } => Call::CreateDocument(pb::CreateDocumentRequest {
            parent: name(parent),
            document_id: id.clone(),
            document: Some(pb::Document {
                id: body_id.clone(),
                value: field.clone(),
                ..Default::default()
            }),
        }),
        Op::Create {
            kind: K::Db,
            id,
            field,
            ..
        } => Kind::Database.create("", &format!("{prefix}{id}"), field),
        Op::Create {
            kind: k,
            parent,
            id,
            field,
            ..
        } => kind(*k).create(&name(parent), id, field),
        Op::Get { kind: k, name: n } => kind(*k).get(&name(n)),
        Op::Delete { kind: k, name: n } => kind(*k).delete(&name(n)),
        Op::Update {
            kind: k,
            name: n,
            field,
            mask,
        } => {
            let mutable = kind(*k).mutable_field();
            let paths: Option<Vec<&str>> = match mask {
                Mask::Absent => None,
                Mask::Empty => Some(vec![]),
                Mask::Star => Some(vec!["*"]),
                Mask::Field => Some(vec![mutable]),
                Mask::OutputOnly => Some(vec!["created_at"]),
                Mask::StarAndField => Some(vec!["*", mutable]),
            };
            let mut call = kind(*k).update(&name(n), field, None);
            let mask = paths.map(|p| FieldMask {
                paths: p.into_iter().map(str::to_owned).collect(),
            });
            match &mut call {
                Call::UpdateDatabase(r) => r.update_mask = mask,
                Call::UpdateCollection(r) => r.update_mask = mask,
                Call::UpdateDocument(r) => r.update_mask = mask,
                _ => {}
            }
            call
        }
        Op::List {
            kind: k,
            parent,
            size,
            token,
        } => {
            let token = match token {
                Tok::None => String::new(),
                Tok::Garbage => "not-a-token".to_owned(),
                Tok::Issued(i) => handles
                    .tokens
                    .get(*i)
                    .cloned()
                    .unwrap_or_else(|| format!("$token{i}")),
            };
            // The run's databases are read by paging through every database of
            // the worker; pages of 25 keep that cheap on a busy worker.
            let size = if *k == K::Db && (1..=1000).contains(size) {
                25
            } else {
                *size
            };
            kind(*k).list(&name(parent), size, &token)
        }
        Op::Begin { db } => req::begin(&name(db)),
        Op::Execute { db, txn, ops } => req::execute(
            &name(db),
            &txn_id(txn),
            ops.iter().map(|o| operation(o, prefix)).collect(),
        ),
        Op::Commit { db, txn } => req::commit(&name(db), &txn_id(txn)),
        Op::Rollback { db, txn } => req::rollback(&name(db), &txn_id(txn)),
    }
}

/// The real name of a local name: its database id prefixed by `prefix`.
pub fn real_name(local: &LocalName, prefix: &str) -> String {
    match local {
        LocalName::Malformed(i) => MALFORMED[*i].replace("{db}", &format!("{prefix}a")),
        LocalName::Name(segs) => {
            let mut name = String::new();
            for (i, seg) in segs.iter().enumerate() {
                let segment = ["databases", "collections", "documents"][i];
                let id = if i == 0 {
                    format!("{prefix}{seg}")
                } else {
                    seg.clone()
                };
                name.push_str(&format!("{}{segment}/{id}", if i == 0 { "" } else { "/" }));
            }
            name
        }
    }
}

pub(super) fn local_to_real(segs: &[String], prefix: &str) -> String {
    real_name(&LocalName::Name(segs.to_vec()), prefix)
}
