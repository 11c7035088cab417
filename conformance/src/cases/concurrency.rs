//! Several requests in flight at once: one winner per create, last write
//! wins, cascades that readers never see half done.

use tonic::Code;

use crate::{
    case::{Case, Tag},
    check::{Check, Failure, describe, ensure, eq},
    ctx::Ctx,
    req::{Kind, Page, Res, nanos},
};

const TAGS: &[Tag] = &[Tag::Core, Tag::Concurrency];

/// Cases about concurrency.
pub fn cases() -> Vec<Case> {
    vec![
        Case::new(
            "db-concurrent-creates-one-wins",
            "DB-CREATE-2",
            TAGS,
            |ctx| one_create_wins(ctx, Kind::Database),
        ),
        Case::new(
            "coll-concurrent-creates-one-wins",
            "COLL-CREATE-2",
            TAGS,
            |ctx| one_create_wins(ctx, Kind::Collection),
        ),
        Case::new(
            "doc-concurrent-creates-one-wins",
            "DOC-CREATE-5",
            TAGS,
            |ctx| one_create_wins(ctx, Kind::Document),
        ),
        Case::new(
            "coll-concurrent-deletes-one-wins",
            "COLL-DELETE-2",
            TAGS,
            one_delete_wins,
        ),
        Case::new(
            "doc-concurrent-updates-last-write-wins",
            "DOC-GET-1",
            TAGS,
            last_write_wins,
        ),
        Case::new(
            "coll-delete-atomic-for-readers",
            "COLL-DELETE-4",
            TAGS,
            |ctx| atomic_for_readers(ctx, Kind::Collection),
        ),
        Case::new("db-delete-atomic-for-readers", "DB-DELETE-4", TAGS, |ctx| {
            atomic_for_readers(ctx, Kind::Database)
        }),
    ]
}

async fn one_create_wins(ctx: Ctx, kind: Kind) -> Check {
    let parent = ctx.parent_for(kind).await?;
    let id = ctx.id_for(kind, "race");
    let calls = (0..8)
        .map(|n| kind.create(&parent, &id, &kind.sample(n)))
        .collect();
    let mut winners = Vec::new();
    for exchange in ctx.send_all(calls).await {
        match &exchange.outcome {
            Ok(reply) => winners.push(Res::from_reply(reply.clone())?),
            Err(status) if status.code() == Code::AlreadyExists => {}
            _ => {
                return Err(
                    Failure::new("OK or ALREADY_EXISTS", describe(&exchange.outcome))
                        .request(exchange.call.render()),
                );
            }
        }
    }
    eq("creates that succeeded", &1, &winners.len())?;
    let stored = ctx.get(kind, &winners[0].name).await?;
    eq("the stored resource is the winner's", &winners[0], &stored)
}

async fn one_delete_wins(ctx: Ctx) -> Check {
    let (_, coll) = ctx.fresh(Kind::Collection, "").await?;
    let calls = (0..6)
        .map(|_| Kind::Collection.delete(&coll.name))
        .collect();
    let mut ok = 0;
    for exchange in ctx.send_all(calls).await {
        match &exchange.outcome {
            Ok(_) => ok += 1,
            Err(status) if status.code() == Code::NotFound => {}
            _ => {
                return Err(Failure::new("OK or NOT_FOUND", describe(&exchange.outcome))
                    .request(exchange.call.render()));
            }
        }
    }
    eq("deletes that succeeded", &1, &ok)
}

async fn last_write_wins(ctx: Ctx) -> Check {
    let (_, doc) = ctx.fresh(Kind::Document, "{}").await?;
    let calls = (0..12)
        .map(|n| Kind::Document.update(&doc.name, &format!("{{\"writer\": {n}}}"), None))
        .collect();
    let mut last: Option<Res> = None;
    for exchange in ctx.send_all(calls).await {
        let res = Res::from_reply(exchange.ok()?)?;
        let newer = match &last {
            None => true,
            Some(l) => res.updated_at.as_ref().map(nanos) > l.updated_at.as_ref().map(nanos),
        };
        if newer {
            last = Some(res);
        }
    }
    let last = last.ok_or_else(|| Failure::new("twelve updates", "none"))?;
    let stored = ctx.get(Kind::Document, &doc.name).await?;
    eq("the stored document is the latest write", &last, &stored)
}

/// Readers list the children of a tree while it is deleted: each listing
/// shows everything or NOT_FOUND, never a part.
async fn atomic_for_readers(ctx: Ctx, kind: Kind) -> Check {
    let db = ctx
        .create(Kind::Database, "", &ctx.id("tree"), "Tree")
        .await?;
    let colls = ["c0", "c1", "c2", "c3"];
    for c in colls {
        let coll = ctx.create(Kind::Collection, &db.name, c, "").await?;
        let calls = (0..60)
            .map(|d| Kind::Document.create(&coll.name, &format!("d{d:02}"), "{}"))
            .collect();
        for exchange in ctx.send_all(calls).await {
            exchange.ok()?;
        }
    }
    let doomed = match kind {
        Kind::Database => db.name.clone(),
        _ => format!("{}/collections/c0", db.name),
    };
    // Every reader reads the whole tree once before the delete starts, so the
    // case can never pass without having raced.
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(5));
    let mut readers = tokio::task::JoinSet::new();
    for r in 0..4 {
        let (ctx, db, barrier) = (ctx.clone(), db.name.clone(), barrier.clone());
        readers.spawn(async move {
            let mut whole = 0;
            for i in 0..40 {
                if i == 1 {
                    barrier.wait().await;
                }
                let (list_kind, parent, want) = if kind == Kind::Database && (i + r) % 2 == 0 {
                    (Kind::Collection, db.clone(), 4)
                } else {
                    (Kind::Document, format!("{db}/collections/c0"), 60)
                };
                let exchange = ctx.send(list_kind.list(&parent, 1000, "")).await;
                match &exchange.outcome {
                    Ok(reply) => {
                        let n = Page::from_reply(reply.clone())?.items.len();
                        if n != want {
                            return Err(Failure::new(
                                format!("all {want} items or NOT_FOUND"),
                                format!("{n} items"),
                            )
                            .request(exchange.call.render()));
                        }
                        whole += 1;
                    }
                    Err(s) if s.code() == Code::NotFound && i > 0 => return Ok(whole),
                    _ => {
                        return Err(Failure::new("OK or NOT_FOUND", describe(&exchange.outcome))
                            .request(exchange.call.render()));
                    }
                }
            }
            Ok(whole)
        });
    }
    barrier.wait().await;
    ctx.send(kind.delete(&doomed)).await.ok()?;
    ctx.forget(&doomed);
    let mut saw_whole = 0;
    for result in readers.join_all().await {
        saw_whole += result?;
    }
    ensure(
        saw_whole >= 4,
        "every reader saw the whole tree first",
        format!("{saw_whole} whole reads"),
    )?;
    ctx.send(Kind::Document.list(&format!("{}/collections/c0", db.name), 0, ""))
        .await
        .code(Code::NotFound)?;
    Ok(())
}
