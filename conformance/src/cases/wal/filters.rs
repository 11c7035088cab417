//! WAL-6 and WAL-7: reading a part of the log: a half-open time window,
//! and filters on entity and operation type.

use super::{entries, fixture};
use crate::{
    call::Reply,
    check::{Check, eq},
    ctx::Ctx,
    proto::database::{EntityType as E, MutationType as M},
    req::{Kind, Res, list_wal},
};

pub(super) async fn time_window(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let mut times = Vec::new();
    let doc = ctx.create(Kind::Document, &coll, "d", "{\"n\": 0}").await?;
    times.push(doc.created_at);
    for n in 1..=2 {
        let res = Res::from_reply(
            ctx.send(Kind::Document.update(&doc.name, &format!("{{\"n\": {n}}}"), None))
                .await
                .ok()?,
        )?;
        times.push(res.updated_at);
    }
    let window = entries(
        &ctx,
        times[1],
        times[2],
        E::Unspecified,
        M::Unspecified,
        &db.name,
    )
    .await?;
    let got: Vec<_> = window.iter().map(|e| e.timestamp).collect();
    eq("entries in [t1, t2)", &vec![times[1]], &got)?;
    let open_end = entries(
        &ctx,
        times[1],
        None,
        E::Unspecified,
        M::Unspecified,
        &db.name,
    )
    .await?;
    eq("entries from t1 on", &2, &open_end.len())?;
    let open_start = entries(
        &ctx,
        None,
        times[1],
        E::Unspecified,
        M::Unspecified,
        &db.name,
    )
    .await?;
    eq(
        "entries before t1 (db, collection, create)",
        &3,
        &open_start.len(),
    )
}

/// `[t, t)` is a window with nothing in it; a window that ends before it
/// starts is a mistake worth naming.
pub(super) async fn reversed_window(ctx: Ctx) -> Check {
    let (_, coll) = fixture(&ctx).await?;
    let doc = ctx.create(Kind::Document, &coll, "d", "{}").await?;
    let (Some(t), Some(mut later)) = (doc.created_at, doc.created_at) else {
        return Err(ctx.fail("a created_at", "none"));
    };
    later.seconds += 1;
    let empty = list_wal(Some(t), Some(t), E::Unspecified, M::Unspecified, 0, "");
    match ctx.send(empty).await.ok()? {
        Reply::WalEntries(r) => eq("entries in [t, t)", &0, &r.entries.len())?,
        other => return Err(ctx.fail("a ListWALEntriesResponse", format!("{other:?}"))),
    }
    let reversed = list_wal(Some(later), Some(t), E::Unspecified, M::Unspecified, 0, "");
    ctx.send(reversed).await.invalid(&["end_time"])?;
    Ok(())
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Filter {
    Entity,
    Operation,
}

pub(super) async fn filter(ctx: Ctx, which: Filter) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let doc = ctx.create(Kind::Document, &coll, "d", "{}").await?;
    ctx.send(Kind::Document.update(&doc.name, "{\"x\": 1}", None))
        .await
        .ok()?;
    ctx.send(Kind::Collection.update(&coll, "second", None))
        .await
        .ok()?;
    let (e, m, want) = match which {
        Filter::Entity => (
            E::Collection,
            M::Unspecified,
            vec![
                (E::Collection as i32, M::Create as i32),
                (E::Collection as i32, M::Update as i32),
            ],
        ),
        Filter::Operation => (
            E::Unspecified,
            M::Update,
            vec![
                (E::Document as i32, M::Update as i32),
                (E::Collection as i32, M::Update as i32),
            ],
        ),
    };
    let got: Vec<_> = entries(&ctx, db.created_at, None, e, m, &db.name)
        .await?
        .iter()
        .map(|x| (x.entity_type, x.operation_type))
        .collect();
    eq("filtered entries (entity, operation)", &want, &got)
}
