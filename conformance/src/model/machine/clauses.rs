//! Clause attribution: which clause of the SPEC a failed comparison is
//! reported under, judged from the request, the expected answer and the
//! model's state after it.

use tonic::Code;

use crate::model::{
    state::{Expect, K, LocalName, Model, Op, Tok},
    txn::TxState,
};

/// The clause a transaction request checks, judged on the model after it.
fn txn_clause(model: &Model, op: &Op, expect: &Expect) -> &'static str {
    let (db, txn) = match op {
        Op::Execute { db, txn, .. } | Op::Commit { db, txn } | Op::Rollback { db, txn } => {
            (db, *txn)
        }
        _ if expect.is_error() => return "TXN-BEGIN-2",
        _ => return "TXN-BEGIN-1",
    };
    // Finished in its own database, or unknown there.
    let ended = model
        .txn(txn)
        .filter(|t| *db == LocalName::Name(vec![t.db.clone()]))
        .map(|t| t.state);
    match (op, expect) {
        (_, Expect::Error(Code::NotFound, _)) => match ended {
            Some(TxState::Committed) => "TXN-COMMIT-3",
            Some(TxState::RolledBack) => "TXN-ROLLBACK-1",
            _ => "TXN-UNKNOWN-1",
        },
        (Op::Execute { .. }, Expect::Error(_, fields))
            if fields.iter().any(|f| f.starts_with("operations[")) =>
        {
            "TXN-EXEC-2"
        }
        (_, Expect::Error(..)) => "ERR-3",
        (Op::Execute { .. }, _) => "TXN-EXEC-2",
        (_, Expect::CommitFailed(_)) => "TXN-COMMIT-2",
        (Op::Commit { .. }, _) => "TXN-COMMIT-1",
        _ => "TXN-ROLLBACK-1",
    }
}

/// The clause a comparison checks; `model` is the state after the request.
pub(super) fn clause_of(model: &Model, op: &Op, expect: &Expect) -> &'static str {
    let family = |k: &K| match k {
        K::Db => 0,
        K::Coll => 1,
        K::Doc => 2,
    };
    let pick = |k: &K, c: [&'static str; 3]| c[family(k)];
    match (op, expect) {
        (Op::Begin { .. } | Op::Execute { .. } | Op::Commit { .. } | Op::Rollback { .. }, _) => {
            txn_clause(model, op, expect)
        }
        (_, Expect::Error(Code::InvalidArgument, _)) => "ERR-3",
        (Op::Create { kind, .. }, Expect::Error(Code::AlreadyExists, _)) => {
            pick(kind, ["DB-CREATE-2", "COLL-CREATE-2", "DOC-CREATE-5"])
        }
        (Op::Create { kind, .. }, _) => {
            pick(kind, ["DB-CREATE-1", "COLL-CREATE-1", "DOC-CREATE-1"])
        }
        (Op::Get { kind, .. }, Expect::Error(..)) => {
            pick(kind, ["DB-GET-2", "COLL-GET-2", "DOC-GET-2"])
        }
        (Op::Get { kind, .. }, _) => pick(kind, ["DB-GET-1", "COLL-GET-1", "DOC-GET-1"]),
        (Op::Update { kind, .. }, Expect::Error(..)) => {
            pick(kind, ["DB-UPDATE-2", "COLL-UPDATE-2", "DOC-UPDATE-2"])
        }
        (Op::Update { kind, .. }, _) => {
            pick(kind, ["DB-UPDATE-1", "COLL-UPDATE-1", "DOC-UPDATE-1"])
        }
        (Op::Delete { kind, .. }, Expect::Error(..)) => {
            pick(kind, ["DB-DELETE-2", "COLL-DELETE-2", "DOC-DELETE-2"])
        }
        (Op::Delete { kind, .. }, _) => {
            pick(kind, ["DB-DELETE-1", "COLL-DELETE-1", "DOC-DELETE-1"])
        }
        (Op::List { .. }, Expect::Error(..)) => "LIST-10",
        (Op::List { size: 0, .. }, _) => "LIST-2",
        (
            Op::List {
                token: Tok::Issued(_),
                ..
            },
            _,
        ) => "LIST-5",
        (Op::List { .. }, _) => "LIST-3",
    }
}
