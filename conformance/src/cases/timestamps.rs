//! `updated_at` moves strictly forward on every update (FIELD-6).
//!
//! `{k}-timestamps-move-forward` (in `crud.rs`) checks that timestamps never
//! go backwards; this case checks that each update moves `updated_at` past
//! the previous one, so a worker that leaves it frozen at `created_at`, or
//! keeps the old value when only the mutable field changes, is caught here
//! and not only by a golden transcript.

use crate::{
    case::{Case, Tag},
    check::{Check, ensure, eq_time},
    ctx::Ctx,
    req::{Kind, Res, nanos},
};

/// Cases about timestamps.
pub fn cases() -> Vec<Case> {
    Case::each(
        &Kind::ALL,
        "every-update-moves-updated-at",
        "FIELD-6",
        &[Tag::Core],
        moves_forward,
    )
}

async fn moves_forward(ctx: Ctx, kind: Kind) -> Check {
    let (_, first) = ctx.fresh(kind, &kind.sample(0)).await?;
    let mut last = first
        .updated_at
        .as_ref()
        .map(nanos)
        .ok_or_else(|| ctx.fail("updated_at set at create", "unset"))?;
    for n in 1..=3 {
        let update = kind.update(&first.name, &kind.sample(n), None);
        let res = Res::from_reply(ctx.send(update).await.ok()?)?;
        let updated = res
            .updated_at
            .as_ref()
            .map(nanos)
            .ok_or_else(|| ctx.fail("updated_at set after an update", "unset"))?;
        ensure(
            updated > last,
            format!("update {n}: updated_at later than {last} (the previous one)"),
            format!("updated_at = {updated}"),
        )?;
        let read = ctx.get(kind, &first.name).await?;
        eq_time(
            "updated_at read back",
            res.updated_at.as_ref(),
            read.updated_at.as_ref(),
        )?;
        last = updated;
    }
    Ok(())
}
