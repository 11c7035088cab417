//! WAL-9 and WAL-10: truncating the log keeps the state, and the log and
//! the resources survive a restart of the worker.

use super::{fixture, ours, shape};
use crate::{
    check::{Check, eq},
    ctx::Ctx,
    proto::database::{EntityType as E, MutationType as M},
    req::{Kind, Res, truncate_wal},
};

pub(super) async fn truncate_keeps_state(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let doc = ctx.create(Kind::Document, &coll, "d", "{\"n\": 0}").await?;
    let updated = Res::from_reply(
        ctx.send(Kind::Document.update(&doc.name, "{\"n\": 1}", None))
            .await
            .ok()?,
    )?;
    ctx.send(truncate_wal(updated.updated_at)).await.ok()?;
    let left: Vec<_> = ours(&ctx, None, &db.name)
        .await?
        .iter()
        .map(shape)
        .collect();
    eq(
        "entries left",
        &vec![(E::Document as i32, M::Update as i32, doc.name.clone())],
        &left,
    )?;
    eq(
        "the document",
        &updated,
        &ctx.get(Kind::Document, &doc.name).await?,
    )?;
    eq(
        "the collection",
        &"first".to_owned(),
        &ctx.get(Kind::Collection, &coll).await?.field,
    )?;
    Ok(())
}

pub(super) async fn survives_restart(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    ctx.create(Kind::Document, &coll, "d", "{}").await?;
    let before = ours(&ctx, db.created_at, &db.name).await?;
    ctx.restart().await?;
    let after = ours(&ctx, db.created_at, &db.name).await?;
    eq("entries after a restart", &before, &after)
}

pub(super) async fn restart_keeps_resources(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let doc = ctx
        .create(Kind::Document, &coll, "d", "{\"kept\": true}")
        .await?;
    ctx.restart().await?;
    eq(
        "the database",
        &db,
        &ctx.get(Kind::Database, &db.name).await?,
    )?;
    eq(
        "the document",
        &doc,
        &ctx.get(Kind::Document, &doc.name).await?,
    )
}

pub(super) async fn truncated_survives_restart(ctx: Ctx) -> Check {
    let (_, coll) = fixture(&ctx).await?;
    let doc = ctx
        .create(Kind::Document, &coll, "d", "{\"kept\": true}")
        .await?;
    ctx.send(truncate_wal(None)).await.ok()?;
    ctx.restart().await?;
    eq(
        "the document",
        &doc,
        &ctx.get(Kind::Document, &doc.name).await?,
    )
}
