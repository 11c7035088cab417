//! CLUSTER-2: read-your-writes and monotonic reads across members.
//!
//! The session guarantees a client relies on when a load balancer sends
//! each of its requests to another member: after writing, it reads its
//! write wherever it reads next (read-your-writes); and the values it reads
//! never go back in time, even while another client writes (monotonic
//! reads). Each value carries a counter `n` that only grows, so "older" is
//! a smaller `n`.

use std::time::Duration;

use super::Members;
use crate::{
    check::{Check, Failure},
    ctx::Ctx,
    req::{Kind, Res},
};

/// Writes of the read-your-writes session, and of the writer while a reader
/// hops between members.
const WRITES: u64 = 12;

/// Reads of the monotonic-reads session.
const READS: usize = 40;

/// The longest the concurrent part may take.
const BOUND: Duration = Duration::from_secs(30);

pub(super) async fn read_your_writes_and_monotonic_reads(ctx: Ctx) -> Check {
    let members = Members::connect(&ctx).await?;
    let (_, doc) = ctx.fresh(Kind::Document, "{\"n\": 0}").await?;
    read_your_writes(&ctx, &members, &doc.name).await?;
    let session = monotonic_reads(&ctx, &members, &doc.name);
    tokio::time::timeout(BOUND, session)
        .await
        .map_err(|_| Failure::new(format!("the session ends within {BOUND:?}"), "it did not"))?
}

/// Writes `n` at member k, then reads at member k + 1: the read must be `n`.
async fn read_your_writes(ctx: &Ctx, members: &Members, name: &str) -> Check {
    for n in 1..=WRITES {
        let writer = n as usize;
        let update = Kind::Document.update(name, &format!("{{\"n\": {n}}}"), None);
        members.send(ctx, writer, update).await.ok()?;
        let reader = writer + 1;
        let seen = read_n(ctx, members, reader, name).await?;
        if seen != n {
            return Err(Failure::new(
                format!("n = {n}, the session's own last write"),
                format!("n = {seen}"),
            )
            .request(format!("GetDocument {name}"))
            .note(format!(
                "written through {}, then read through {}",
                members.who(writer),
                members.who(reader)
            )));
        }
    }
    Ok(())
}

/// One client writes larger and larger `n` at rotating members while
/// another reads at rotating members: the reader's `n` never decreases.
async fn monotonic_reads(ctx: &Ctx, members: &Members, name: &str) -> Check {
    let writer = {
        let (ctx, members, name) = (ctx.clone(), members.clone(), name.to_owned());
        tokio::spawn(async move {
            for n in WRITES + 1..=WRITES * 3 {
                let update = Kind::Document.update(&name, &format!("{{\"n\": {n}}}"), None);
                members.send(&ctx, n as usize, update).await.ok()?;
            }
            Ok::<(), Failure>(())
        })
    };
    let mut last: Option<(u64, usize)> = None;
    for read in 0..READS {
        let reader = read + 1;
        let n = read_n(ctx, members, reader, name).await?;
        if let Some((before, at)) = last
            && n < before
        {
            writer.abort();
            return Err(Failure::new(
                format!("n ≥ {before}, the value read before"),
                format!("n = {n}: an older value"),
            )
            .request(format!("GetDocument {name}"))
            .note(format!(
                "n = {before} was read through {}, then n = {n} through {}",
                members.who(at),
                members.who(reader)
            )));
        }
        last = Some((n, reader));
    }
    writer
        .await
        .map_err(|e| Failure::new("the writer finishes", e.to_string()))?
}

/// Reads the document through member `i` and returns its counter.
async fn read_n(ctx: &Ctx, members: &Members, i: usize, name: &str) -> Check<u64> {
    let exchange = members.send(ctx, i, Kind::Document.get(name)).await;
    let res = Res::from_reply(exchange.ok()?)?;
    serde_json::from_str::<serde_json::Value>(&res.field)
        .ok()
        .and_then(|v| v.get("n").and_then(serde_json::Value::as_u64))
        .ok_or_else(|| Failure::new("a value {\"n\": N} as written", res.field.clone()))
}
