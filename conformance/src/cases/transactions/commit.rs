//! TXN-COMMIT-1, -2 and -4: a commit applies its operations in order,
//! across several Executes, all or nothing, and a failed one names the
//! operation that failed, also when the database went away under it.

use tonic::Code;

use super::{begin_ok, fixture};
use crate::{
    check::{Check, ensure, eq},
    ctx::Ctx,
    proto::database::MutationType as M,
    req::{Kind, commit, execute, op},
};

pub(super) async fn applies_in_order(ctx: Ctx) -> Check {
    let (db, _) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let coll = format!("{db}/collections/fresh");
    let doc = format!("{coll}/documents/x");
    let ops = vec![
        op(
            M::Create,
            Kind::Collection,
            &coll,
            "{\"description\": \"made in a transaction\"}",
        ),
        op(M::Create, Kind::Document, &doc, "{\"step\": 1}"),
        op(M::Update, Kind::Document, &doc, "{\"step\": 2}"),
    ];
    ctx.send(execute(&db, &txn, ops)).await.ok()?;
    ctx.send(commit(&db, &txn)).await.ok()?;
    eq(
        "value",
        "{\"step\": 2}",
        &ctx.get(Kind::Document, &doc).await?.field,
    )?;
    Ok(())
}

pub(super) async fn several_executes(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let doc = format!("{coll}/documents/d");
    for step in 1..=3 {
        let ops = vec![op(
            M::Update,
            Kind::Document,
            &doc,
            &format!("{{\"v\": {step}}}"),
        )];
        ctx.send(execute(&db, &txn, ops)).await.ok()?;
    }
    ctx.send(commit(&db, &txn)).await.ok()?;
    eq(
        "value",
        "{\"v\": 3}",
        &ctx.get(Kind::Document, &doc).await?.field,
    )?;
    Ok(())
}

/// Executes `create a`, `update d`, `create d` (exists): commit must fail.
async fn failing_commit(ctx: &Ctx) -> Check<(String, String, String, tonic::Status)> {
    let (db, coll) = fixture(ctx).await?;
    let txn = begin_ok(ctx, &db).await?;
    let existing = format!("{coll}/documents/d");
    let ops = vec![
        op(
            M::Create,
            Kind::Document,
            &format!("{coll}/documents/a"),
            "{}",
        ),
        op(M::Update, Kind::Document, &existing, "{\"v\": 9}"),
        op(M::Create, Kind::Document, &existing, "{}"),
    ];
    ctx.send(execute(&db, &txn, ops)).await.ok()?;
    let status = ctx
        .send(commit(&db, &txn))
        .await
        .code(Code::FailedPrecondition)?;
    Ok((db, coll, txn, status))
}

pub(super) async fn all_or_nothing(ctx: Ctx) -> Check {
    let (_, coll, _, _) = failing_commit(&ctx).await?;
    let a = format!("{coll}/documents/a");
    ctx.send(Kind::Document.get(&a)).await.not_found(&a)?;
    eq(
        "value of the updated document",
        "{\"v\": 0}",
        &ctx.get(Kind::Document, &format!("{coll}/documents/d"))
            .await?
            .field,
    )?;
    Ok(())
}

pub(super) async fn failure_names_index(ctx: Ctx) -> Check {
    let (_, coll, _, status) = failing_commit(&ctx).await?;
    let message = status.message();
    let numbers: Vec<&str> = message
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .collect();
    let existing = format!("{coll}/documents/d");
    ensure(
        numbers.contains(&"2") && message.contains(&existing),
        format!("a message naming operation 2 and {existing}"),
        format!("{message:?}"),
    )
}

/// The database goes away under an open transaction: Commit meets the
/// missing collection as any later write would, and nothing comes back.
pub(super) async fn database_deleted_while_open(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let doc = format!("{coll}/documents/late");
    let ops = vec![op(M::Create, Kind::Document, &doc, "{}")];
    ctx.send(execute(&db, &txn, ops)).await.ok()?;
    ctx.send(Kind::Database.delete(&db)).await.ok()?;
    ctx.forget(&db);
    let status = ctx
        .send(commit(&db, &txn))
        .await
        .code(Code::FailedPrecondition)?;
    ensure(
        status.message().contains('0') && status.message().contains(&coll),
        format!("a message naming operation 0 and {coll}"),
        format!("{:?}", status.message()),
    )?;
    ctx.send(Kind::Database.get(&db)).await.not_found(&db)?;
    Ok(())
}
