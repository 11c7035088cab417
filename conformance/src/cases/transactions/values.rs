//! TXN-EXEC-3: an operation's `value` is the JSON of what it writes, with
//! only the fields the entity has; a delete's is empty.

use super::{begin_ok, fixture};
use crate::{
    check::{Check, eq},
    ctx::Ctx,
    proto::database::MutationType as M,
    req::{Kind, commit, execute, op, rollback},
};

#[derive(Clone, Copy, Debug)]
pub(super) enum BadValue {
    DocumentArray,
    /// Found by `model-transactions`: a reader that turns a JSON array
    /// into the fields of a struct takes `["x"]` as a description.
    CollectionArray,
    UnknownKey,
    DeleteWithValue,
}

pub(super) async fn bad_value(ctx: Ctx, which: BadValue) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let bad = match which {
        BadValue::DocumentArray => op(
            M::Create,
            Kind::Document,
            &format!("{coll}/documents/a"),
            "[1]",
        ),
        BadValue::CollectionArray => op(
            M::Create,
            Kind::Collection,
            &format!("{db}/collections/k"),
            "[\"x\"]",
        ),
        BadValue::UnknownKey => op(
            M::Create,
            Kind::Collection,
            &format!("{db}/collections/k"),
            "{\"description\": \"x\", \"colour\": \"red\"}",
        ),
        BadValue::DeleteWithValue => op(
            M::Delete,
            Kind::Document,
            &format!("{coll}/documents/d"),
            "{}",
        ),
    };
    ctx.send(execute(&db, &txn, vec![bad]))
        .await
        .invalid(&["operations[0].value"])?;
    ctx.send(rollback(&db, &txn)).await.ok()?;
    Ok(())
}

pub(super) async fn description_optional(ctx: Ctx) -> Check {
    let (db, _) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let name = format!("{db}/collections/plain");
    ctx.send(execute(
        &db,
        &txn,
        vec![op(M::Create, Kind::Collection, &name, "{}")],
    ))
    .await
    .ok()?;
    ctx.send(commit(&db, &txn)).await.ok()?;
    eq(
        "description",
        "",
        &ctx.get(Kind::Collection, &name).await?.field,
    )?;
    Ok(())
}

pub(super) async fn update_database(ctx: Ctx) -> Check {
    let (db, _) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let ops = vec![op(
        M::Update,
        Kind::Database,
        &db,
        "{\"display_name\": \"Renamed\"}",
    )];
    ctx.send(execute(&db, &txn, ops)).await.ok()?;
    ctx.send(commit(&db, &txn)).await.ok()?;
    eq(
        "display_name",
        "Renamed",
        &ctx.get(Kind::Database, &db).await?.field,
    )?;
    Ok(())
}
