//! TXN-COMMIT-3, TXN-ROLLBACK-1 and TXN-UNKNOWN-1: how a transaction id
//! ends (commit, failed commit, rollback), and that an ended, unknown or
//! other database's id answers NOT_FOUND.

use tonic::Code;

use super::{begin_ok, fixture};
use crate::{
    check::{Check, eq},
    ctx::Ctx,
    proto::database::MutationType as M,
    req::{Kind, commit, execute, op, rollback},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum End {
    Commit,
    FailedCommit,
    Rollback,
}

pub(super) async fn ends(ctx: Ctx, how: End) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let existing = format!("{coll}/documents/d");
    let ops = match how {
        // Creating a document that exists: the commit must fail. Its code is
        // TXN-COMMIT-2's business; this case only needs it to fail, so a
        // worker that answers another code is still judged on what it does
        // with the transaction afterwards.
        End::FailedCommit => vec![op(M::Create, Kind::Document, &existing, "{}")],
        _ => vec![op(M::Update, Kind::Document, &existing, "{\"v\": 1}")],
    };
    ctx.send(execute(&db, &txn, ops)).await.ok()?;
    match how {
        End::Commit => {
            ctx.send(commit(&db, &txn)).await.ok()?;
        }
        End::Rollback => {
            ctx.send(rollback(&db, &txn)).await.ok()?;
        }
        End::FailedCommit => {
            ctx.send(commit(&db, &txn)).await.err()?;
        }
    }
    finished(&ctx, &db, &coll, &txn).await
}

/// Execute, Commit and Rollback on `txn` are NOT_FOUND. The Execute carries
/// a valid operation, so a worker that refuses an empty Execute for its own
/// reasons is judged on the id, not on the shape (TXN-UNKNOWN-1 puts shape
/// errors first).
async fn finished(ctx: &Ctx, db: &str, coll: &str, txn: &str) -> Check {
    let valid = vec![op(
        M::Create,
        Kind::Document,
        &format!("{coll}/documents/after-the-end"),
        "{}",
    )];
    ctx.send(execute(db, txn, valid))
        .await
        .code(Code::NotFound)?;
    ctx.send(commit(db, txn)).await.code(Code::NotFound)?;
    ctx.send(rollback(db, txn)).await.code(Code::NotFound)?;
    Ok(())
}

pub(super) async fn rollback_discards(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let doc = format!("{coll}/documents/new");
    ctx.send(execute(
        &db,
        &txn,
        vec![op(M::Create, Kind::Document, &doc, "{}")],
    ))
    .await
    .ok()?;
    ctx.send(rollback(&db, &txn)).await.ok()?;
    ctx.send(Kind::Document.get(&doc)).await.not_found(&doc)?;
    Ok(())
}

pub(super) async fn unknown_id(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    finished(&ctx, &db, &coll, "no-such-transaction-4f1c").await?;
    let doc = format!("{coll}/documents/after-the-end");
    ctx.send(Kind::Document.get(&doc)).await.not_found(&doc)?;
    Ok(())
}

pub(super) async fn other_database(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let (other, _) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let doc = format!("{coll}/documents/d");
    ctx.send(execute(
        &db,
        &txn,
        vec![op(M::Update, Kind::Document, &doc, "{\"v\": 5}")],
    ))
    .await
    .ok()?;
    // A valid operation of the other database, under this transaction's id.
    let other_doc = format!("{other}/collections/c/documents/d");
    let foreign = vec![op(M::Update, Kind::Document, &other_doc, "{\"v\": 6}")];
    ctx.send(execute(&other, &txn, foreign))
        .await
        .code(Code::NotFound)?;
    ctx.send(commit(&other, &txn)).await.code(Code::NotFound)?;
    ctx.send(rollback(&other, &txn))
        .await
        .code(Code::NotFound)?;
    // Still open in its own database.
    ctx.send(commit(&db, &txn)).await.ok()?;
    let doc_now = ctx.get(Kind::Document, &doc).await?;
    eq("value", "{\"v\": 5}", &doc_now.field)?;
    Ok(())
}
