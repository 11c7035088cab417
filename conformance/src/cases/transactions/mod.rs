//! TransactionService: buffered operations, all-or-nothing commits, and the
//! life cycle of a transaction id.
//!
//! One file per group of sub-clauses (see `conformance/SPEC.md`); this file
//! keeps the registration, so the catalogue's order is the file's:
//!
//! | file | clauses |
//! |---|---|
//! | `begin.rs` | TXN-BEGIN-1/2, ERR-1 |
//! | `execute.rs` | TXN-EXEC-1/2, ERR-3 |
//! | `bounds.rs` | TXN-EXPIRE-1, TXN-BOUND-1/2 |
//! | `values.rs` | TXN-EXEC-3 |
//! | `commit.rs` | TXN-COMMIT-1/2/4 |
//! | `ending.rs` | TXN-COMMIT-3, TXN-ROLLBACK-1, TXN-UNKNOWN-1 |

mod begin;
mod bounds;
mod commit;
mod ending;
mod execute;
mod values;

use self::{
    begin::{begin_ids, begin_malformed, begin_missing, empty_requests},
    bounds::{expires, max_open, max_operations},
    commit::{
        all_or_nothing, applies_in_order, database_deleted_while_open, failure_names_index,
        several_executes,
    },
    ending::{End, ends, other_database, rollback_discards, unknown_id},
    execute::{
        Malformed, every_bad_field, invisible_before_commit, name_in_other_database,
        name_of_wrong_entity, rejected_keeps_open, thousand_bad_operations, unspecified_enums,
    },
    values::{BadValue, bad_value, description_optional, update_database},
};
use crate::{
    call::Reply,
    case::{Case, Need, Tag},
    check::Check,
    ctx::Ctx,
    req::{Kind, begin},
};

const TXN: &[Tag] = &[Tag::Transactions];

/// Cases about transactions.
pub fn cases() -> Vec<Case> {
    vec![
        Case::new(
            "txn-begin-returns-opaque-ids",
            "TXN-BEGIN-1",
            TXN,
            begin_ids,
        ),
        Case::new(
            "txn-begin-missing-database",
            "TXN-BEGIN-2",
            TXN,
            begin_missing,
        ),
        Case::new(
            "txn-begin-malformed-database-name",
            "TXN-BEGIN-2",
            TXN,
            begin_malformed,
        ),
        Case::new(
            "txn-empty-requests-are-invalid-argument",
            "ERR-1",
            TXN,
            empty_requests,
        ),
        Case::new(
            "txn-execute-invisible-before-commit",
            "TXN-EXEC-1",
            TXN,
            invisible_before_commit,
        ),
        Case::new(
            "txn-execute-rejects-unspecified-enums",
            "TXN-EXEC-2",
            TXN,
            unspecified_enums,
        ),
        Case::new(
            "txn-execute-reports-every-bad-field",
            "ERR-3",
            TXN,
            every_bad_field,
        ),
        Case::new(
            "txn-execute-thousand-bad-operations-answered",
            "ERR-3",
            TXN,
            |ctx| thousand_bad_operations(ctx, Malformed::MutationUnset),
        ),
        Case::new(
            "txn-execute-thousand-non-ascii-names-answered",
            "ERR-3",
            TXN,
            |ctx| thousand_bad_operations(ctx, Malformed::EmojiName),
        ),
        Case::new("txn-open-transaction-expires", "TXN-EXPIRE-1", TXN, expires).needs(Need::TxnTtl),
        Case::new(
            "txn-max-operations-resource-exhausted",
            "TXN-BOUND-1",
            TXN,
            max_operations,
        )
        .needs(Need::TxnMaxOperations),
        Case::new(
            "txn-max-open-resource-exhausted",
            "TXN-BOUND-2",
            TXN,
            max_open,
        )
        .needs(Need::TxnMaxOpen)
        .needs(Need::Exclusive),
        Case::new(
            "txn-execute-rejects-name-in-other-database",
            "TXN-EXEC-2",
            TXN,
            name_in_other_database,
        ),
        Case::new(
            "txn-execute-rejects-name-of-wrong-entity",
            "TXN-EXEC-2",
            TXN,
            name_of_wrong_entity,
        ),
        Case::new(
            "txn-rejected-execute-keeps-transaction-open",
            "TXN-EXEC-2",
            TXN,
            rejected_keeps_open,
        ),
        Case::new(
            "txn-value-document-must-be-object",
            "TXN-EXEC-3",
            TXN,
            |ctx| bad_value(ctx, BadValue::DocumentArray),
        ),
        Case::new(
            "txn-value-collection-must-be-object",
            "TXN-EXEC-3",
            TXN,
            |ctx| bad_value(ctx, BadValue::CollectionArray),
        ),
        Case::new(
            "txn-value-unknown-keys-rejected",
            "TXN-EXEC-3",
            TXN,
            |ctx| bad_value(ctx, BadValue::UnknownKey),
        ),
        Case::new("txn-value-delete-must-be-empty", "TXN-EXEC-3", TXN, |ctx| {
            bad_value(ctx, BadValue::DeleteWithValue)
        }),
        Case::new(
            "txn-value-collection-description-optional",
            "TXN-EXEC-3",
            TXN,
            description_optional,
        ),
        Case::new(
            "txn-update-database-display-name",
            "TXN-EXEC-3",
            TXN,
            update_database,
        ),
        Case::new(
            "txn-commit-applies-in-order",
            "TXN-COMMIT-1",
            TXN,
            applies_in_order,
        ),
        Case::new(
            "txn-commit-spans-several-executes",
            "TXN-COMMIT-1",
            TXN,
            several_executes,
        ),
        Case::new(
            "txn-commit-all-or-nothing",
            "TXN-COMMIT-2",
            TXN,
            all_or_nothing,
        ),
        Case::new(
            "txn-commit-failure-names-operation-index",
            "TXN-COMMIT-2",
            TXN,
            failure_names_index,
        ),
        Case::new("txn-commit-ends-transaction", "TXN-COMMIT-3", TXN, |ctx| {
            ends(ctx, End::Commit)
        }),
        Case::new(
            "txn-failed-commit-ends-transaction",
            "TXN-COMMIT-3",
            TXN,
            |ctx| ends(ctx, End::FailedCommit),
        ),
        Case::new(
            "txn-rollback-discards",
            "TXN-ROLLBACK-1",
            TXN,
            rollback_discards,
        ),
        Case::new(
            "txn-rollback-ends-transaction",
            "TXN-ROLLBACK-1",
            TXN,
            |ctx| ends(ctx, End::Rollback),
        ),
        Case::new("txn-unknown-id-not-found", "TXN-UNKNOWN-1", TXN, unknown_id),
        Case::new(
            "txn-id-of-other-database-not-found",
            "TXN-UNKNOWN-1",
            TXN,
            other_database,
        ),
        Case::new(
            "txn-database-deleted-while-open",
            "TXN-COMMIT-4",
            TXN,
            database_deleted_while_open,
        ),
    ]
}

/// Begins a transaction on `db`, which must succeed.
pub async fn begin_ok(ctx: &Ctx, db: &str) -> Check<String> {
    match ctx.send(begin(db)).await.ok()? {
        Reply::Begin(r) => Ok(r.transaction_id),
        other => Err(ctx.fail("a BeginResponse", format!("{other:?}"))),
    }
}

/// A database with collection `c` holding document `d` = `{"v": 0}`.
async fn fixture(ctx: &Ctx) -> Check<(String, String)> {
    let db = ctx
        .create(Kind::Database, "", &ctx.id(&ctx.unique("t")), "T")
        .await?;
    let coll = ctx.create(Kind::Collection, &db.name, "c", "").await?;
    ctx.create(Kind::Document, &coll.name, "d", "{\"v\": 0}")
        .await?;
    Ok((db.name, coll.name))
}
