//! TXN-EXPIRE-1 and TXN-BOUND-1/2: the configured bounds of a worker's
//! transactions (how long one lives, how many operations it holds, how many
//! are open at once), checked at exactly the declared values.

use std::time::Duration;

use tonic::Code;

use super::{begin_ok, fixture};
use crate::{
    call::Reply,
    check::Check,
    ctx::Ctx,
    proto::database::MutationType as M,
    req::{Kind, begin, commit, execute, op, rollback},
};

/// A transaction left open past `transactions.ttl` is gone: its buffered
/// operations never apply, and its id answers like an unknown one.
pub(super) async fn expires(ctx: Ctx) -> Check {
    let Some(ttl) = ctx.target().txn_limits().ttl else {
        return Err(ctx.fail("a known transactions.ttl", "none declared"));
    };
    let (db, coll) = fixture(&ctx).await?;
    let doc = format!("{coll}/documents/late");
    let txn = begin_ok(&ctx, &db).await?;
    let ops = vec![op(M::Create, Kind::Document, &doc, "{}")];
    ctx.send(execute(&db, &txn, ops.clone())).await.ok()?;
    // Past the ttl by a margin for clocks that tick coarsely.
    tokio::time::sleep(ttl + (ttl / 5).max(Duration::from_millis(300))).await;
    ctx.send(execute(&db, &txn, ops))
        .await
        .code(Code::NotFound)?;
    ctx.send(commit(&db, &txn)).await.code(Code::NotFound)?;
    ctx.send(Kind::Document.get(&doc)).await.not_found(&doc)?;
    Ok(())
}

/// Exactly `max_operations` operations fit; one more is RESOURCE_EXHAUSTED
/// and buffers nothing of that call, and the transaction stays usable.
pub(super) async fn max_operations(ctx: Ctx) -> Check {
    let Some(max) = ctx.target().txn_limits().max_operations else {
        return Err(ctx.fail("a known transactions.max_operations", "none declared"));
    };
    let (db, coll) = fixture(&ctx).await?;
    let doc = |i: u32| format!("{coll}/documents/n{i}");
    let create = |i: u32| op(M::Create, Kind::Document, &doc(i), "{}");
    let txn = begin_ok(&ctx, &db).await?;
    let first = max / 2;
    ctx.send(execute(&db, &txn, (0..first).map(create).collect()))
        .await
        .ok()?;
    ctx.send(execute(&db, &txn, (first..=max).map(create).collect()))
        .await
        .code(Code::ResourceExhausted)?;
    ctx.send(execute(&db, &txn, (first..max).map(create).collect()))
        .await
        .ok()?;
    ctx.send(execute(&db, &txn, vec![create(max)]))
        .await
        .code(Code::ResourceExhausted)?;
    ctx.send(commit(&db, &txn)).await.ok()?;
    ctx.get(Kind::Document, &doc(max - 1)).await?;
    ctx.send(Kind::Document.get(&doc(max)))
        .await
        .not_found(&doc(max))?;
    Ok(())
}

/// `max_open` transactions may be open at once on the whole worker; one
/// more Begin is RESOURCE_EXHAUSTED until one of them ends.
pub(super) async fn max_open(ctx: Ctx) -> Check {
    let Some(max) = ctx.target().txn_limits().max_open else {
        return Err(ctx.fail("a known transactions.max_open", "none declared"));
    };
    let (db, _) = fixture(&ctx).await?;
    let mut open = Vec::with_capacity(max as usize);
    let mut outcome = Ok(());
    while open.len() < max as usize {
        let batch = (max as usize - open.len()).min(64);
        for exchange in ctx.send_all(vec![begin(&db); batch]).await {
            match exchange.ok() {
                Ok(Reply::Begin(r)) => open.push(r.transaction_id),
                Ok(other) => outcome = Err(ctx.fail("a BeginResponse", format!("{other:?}"))),
                Err(failure) => outcome = Err(failure),
            }
        }
        if let Err(failure) = &mut outcome
            && failure.actual.starts_with("RESOURCE_EXHAUSTED")
        {
            failure.note = Some(format!(
                "only {} transactions could be opened of the declared max_open {max}: other \
                 transactions are open on the worker (another client's, or a failed case's), \
                 or its bound is lower than declared",
                open.len()
            ));
        }
        if outcome.is_err() {
            break;
        }
    }
    if outcome.is_ok() {
        outcome = async {
            ctx.send(begin(&db)).await.code(Code::ResourceExhausted)?;
            let last = open.pop().unwrap_or_default();
            ctx.send(rollback(&db, &last)).await.ok()?;
            open.push(begin_ok(&ctx, &db).await?);
            Ok(())
        }
        .await;
    }
    // Whatever happened, free the worker for other clients.
    let rollbacks = open.iter().map(|txn| rollback(&db, txn)).collect();
    for exchange in ctx.send_all(rollbacks).await {
        exchange.ok()?;
    }
    outcome
}
