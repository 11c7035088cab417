//! WAL-2 and WAL-3: what one entry holds: a UUID id, the commit time, and
//! the resource's JSON as data (empty for a delete).

use super::{fixture, json_mentions, ours};
use crate::{
    call::wal_payload as payload,
    check::{Check, ensure, eq},
    ctx::Ctx,
    proto::database::MutationType as M,
    req::{Kind, Res},
};

pub(super) async fn ids_are_uuids(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    ctx.create(Kind::Document, &coll, "d", "{}").await?;
    let got = ours(&ctx, db.created_at, &db.name).await?;
    ensure(got.len() == 3, "three entries", format!("{}", got.len()))?;
    let mut ids = Vec::new();
    for entry in &got {
        ensure(
            uuid::Uuid::parse_str(&entry.id).is_ok(),
            "a UUID",
            format!("{:?}", entry.id),
        )?;
        ids.push(entry.id.clone());
    }
    ids.sort();
    ids.dedup();
    eq("distinct ids", &3, &ids.len())
}

pub(super) async fn timestamp_is_commit_time(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let doc = ctx.create(Kind::Document, &coll, "d", "{}").await?;
    let updated = Res::from_reply(
        ctx.send(Kind::Document.update(&doc.name, "{\"u\": 1}", None))
            .await
            .ok()?,
    )?;
    let got = ours(&ctx, db.created_at, &doc.name).await?;
    let times: Vec<_> = got.iter().map(|e| e.timestamp).collect();
    eq(
        "entry timestamps (create, update)",
        &vec![doc.created_at, updated.updated_at],
        &times,
    )
}

pub(super) async fn data_is_json(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    ctx.create(Kind::Document, &coll, "d", "{\"k\": [1, 2]}")
        .await?;
    let got = ours(&ctx, db.created_at, &db.name).await?;
    let doc = format!("{coll}/documents/d");
    let want = [
        (db.name.as_str(), "W"),
        (coll.as_str(), "first"),
        (doc.as_str(), "{\"k\": [1, 2]}"),
    ];
    ensure(got.len() == 3, "three entries", format!("{}", got.len()))?;
    for (entry, (name, value)) in got.iter().zip(want) {
        let data = String::from_utf8_lossy(payload(entry).1).into_owned();
        ensure(
            json_mentions(&data, name) && json_mentions(&data, value),
            format!("a JSON object holding {name:?} and {value:?}"),
            data,
        )?;
    }
    Ok(())
}

pub(super) async fn delete_data_empty(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    ctx.send(Kind::Collection.delete(&coll)).await.ok()?;
    let got = ours(&ctx, db.created_at, &coll).await?;
    let delete = got
        .last()
        .ok_or_else(|| ctx.fail("a delete entry", "none"))?;
    eq("operation", &(M::Delete as i32), &delete.operation_type)?;
    eq("data of a delete", &0, &payload(delete).1.len())
}
