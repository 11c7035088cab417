//! TXN-BEGIN-1 and -2: Begin hands out opaque, distinct ids on an existing
//! database and refuses a missing or malformed one; and ERR-1 for the
//! four transaction requests sent empty.

use tonic::Code;

use super::{begin_ok, fixture};
use crate::{
    call::Call,
    check::{Check, ensure},
    ctx::Ctx,
    req::{begin, rollback},
};

pub(super) async fn begin_ids(ctx: Ctx) -> Check {
    let (db, _) = fixture(&ctx).await?;
    let one = begin_ok(&ctx, &db).await?;
    let two = begin_ok(&ctx, &db).await?;
    ensure(
        !one.is_empty() && one != two,
        "two different, non-empty ids",
        format!("{one:?} and {two:?}"),
    )?;
    for id in [one, two] {
        ctx.send(rollback(&db, &id)).await.ok()?;
    }
    Ok(())
}

pub(super) async fn begin_missing(ctx: Ctx) -> Check {
    let name = ctx.db("absent");
    ctx.send(begin(&name)).await.not_found(&name)?;
    Ok(())
}

pub(super) async fn begin_malformed(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    for name in [ctx.id("x"), "databases/".into(), coll, format!("{db}/")] {
        ctx.send(begin(&name)).await.invalid(&["database_name"])?;
    }
    Ok(())
}

pub(super) async fn empty_requests(ctx: Ctx) -> Check {
    for call in [
        Call::Begin(Default::default()),
        Call::Execute(Default::default()),
        Call::Commit(Default::default()),
        Call::Rollback(Default::default()),
    ] {
        ctx.send(call).await.code(Code::InvalidArgument)?;
    }
    Ok(())
}
