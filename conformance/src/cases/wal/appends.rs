//! WAL-1: every successful write appends one entry per resource it
//! changed, in commit order, and a failed request appends nothing.

use tonic::Code;

use super::{fixture, json_mentions, ours, shape};
use crate::{
    call::wal_payload as payload,
    check::{Check, ensure, eq},
    ctx::Ctx,
    proto::database::{EntityType as E, MutationType as M},
    req::Kind,
};

pub(super) async fn creates_append(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let doc = ctx.create(Kind::Document, &coll, "d", "{\"a\": 1}").await?;
    let got: Vec<_> = ours(&ctx, db.created_at, &db.name)
        .await?
        .iter()
        .map(shape)
        .collect();
    let want = vec![
        (E::Database as i32, M::Create as i32, db.name.clone()),
        (E::Collection as i32, M::Create as i32, coll),
        (E::Document as i32, M::Create as i32, doc.name),
    ];
    eq("entries (entity, operation, name)", &want, &got)
}

pub(super) async fn one_entry(ctx: Ctx, m: M) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let doc = ctx.create(Kind::Document, &coll, "d", "{}").await?;
    let after = doc.created_at;
    match m {
        M::Update => drop(
            ctx.send(Kind::Document.update(&doc.name, "{\"b\": 2}", None))
                .await
                .ok()?,
        ),
        _ => drop(ctx.send(Kind::Document.delete(&doc.name)).await.ok()?),
    }
    let got: Vec<_> = ours(&ctx, after, &db.name)
        .await?
        .iter()
        .map(shape)
        .collect();
    let want = vec![
        (E::Document as i32, M::Create as i32, doc.name.clone()),
        (E::Document as i32, m as i32, doc.name),
    ];
    eq("entries since the create", &want, &got)
}

pub(super) async fn commit_order(ctx: Ctx) -> Check {
    let (_, coll) = fixture(&ctx).await?;
    let doc = ctx.create(Kind::Document, &coll, "d", "{\"n\": 0}").await?;
    for n in 1..=8 {
        ctx.send(Kind::Document.update(&doc.name, &format!("{{\"n\": {n}}}"), None))
            .await
            .ok()?;
    }
    let got = ours(&ctx, doc.created_at, &doc.name).await?;
    eq("entries", &9, &got.len())?;
    let mut last = i128::MIN;
    for (n, entry) in got.iter().enumerate() {
        let data = String::from_utf8_lossy(payload(entry).1).into_owned();
        ensure(
            json_mentions(&data, &format!("{{\"n\": {n}}}")),
            format!("entry {n} holds {{\"n\": {n}}}"),
            data,
        )?;
        let t = entry
            .timestamp
            .as_ref()
            .map(crate::req::nanos)
            .unwrap_or_default();
        ensure(
            t >= last,
            "timestamps that never decrease",
            format!("{t} after {last}"),
        )?;
        last = t;
    }
    Ok(())
}

pub(super) async fn failed_appends_nothing(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let before = ours(&ctx, db.created_at, &db.name).await?.len();
    ctx.send(Kind::Collection.create(&db.name, "c", "again"))
        .await
        .code(Code::AlreadyExists)?;
    ctx.send(Kind::Document.update(&format!("{coll}/documents/nope"), "{}", None))
        .await
        .code(Code::NotFound)?;
    ctx.send(Kind::Document.create(&coll, "x", "[]"))
        .await
        .code(Code::InvalidArgument)?;
    let after = ours(&ctx, db.created_at, &db.name).await?.len();
    eq("entries after three failed requests", &before, &after)
}
