//! WAL-8: the log read page by page, in commit order; a page size out of
//! range and a token of another filter are refused.

use super::{entry_name, fixture, ours};
use crate::{
    call::Reply,
    check::{Check, ensure, eq},
    ctx::Ctx,
    proto::database::{EntityType as E, MutationType as M, WalEntry},
    req::{Kind, list_wal},
};

pub(super) async fn paging(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    for d in 0..5 {
        ctx.create(Kind::Document, &coll, &format!("d{d}"), "{}")
            .await?;
    }
    let all = ours(&ctx, db.created_at, &db.name).await?;
    let mut paged = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let reply = ctx
            .send(list_wal(
                db.created_at,
                None,
                E::Unspecified,
                M::Unspecified,
                2,
                &token,
            ))
            .await
            .ok()?;
        let Reply::WalEntries(page) = reply else {
            return Err(ctx.fail("entries", "another reply"));
        };
        ensure(
            page.entries.len() <= 2,
            "at most 2 entries per page",
            format!("{}", page.entries.len()),
        )?;
        pages += 1;
        paged.extend(
            page.entries
                .into_iter()
                .filter(|e| entry_name(e).starts_with(&db.name)),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        ctx.advances(&token, &page.next_page_token)?;
        token = page.next_page_token;
    }
    ensure(pages >= 4, "at least four pages of two", format!("{pages}"))?;
    let ids = |v: &[WalEntry]| v.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    eq("entries paged 2 at a time", &ids(&all), &ids(&paged))
}

pub(super) async fn page_size_out_of_range(ctx: Ctx) -> Check {
    for size in [-1, 1001] {
        ctx.send(list_wal(
            None,
            None,
            E::Unspecified,
            M::Unspecified,
            size,
            "",
        ))
        .await
        .invalid(&["page_size"])?;
    }
    ctx.send(list_wal(
        None,
        None,
        E::Unspecified,
        M::Unspecified,
        1,
        "garbage!",
    ))
    .await
    .invalid(&["page_token"])?;
    Ok(())
}

pub(super) async fn token_of_other_filter(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    ctx.create(Kind::Document, &coll, "a", "{}").await?;
    ctx.create(Kind::Document, &coll, "b", "{}").await?;
    let reply = ctx
        .send(list_wal(
            db.created_at,
            None,
            E::Document,
            M::Unspecified,
            1,
            "",
        ))
        .await
        .ok()?;
    let Reply::WalEntries(page) = reply else {
        return Err(ctx.fail("entries", "another reply"));
    };
    ensure(
        !page.next_page_token.is_empty(),
        "a next_page_token",
        "none",
    )?;
    let other = list_wal(
        db.created_at,
        None,
        E::Collection,
        M::Unspecified,
        1,
        &page.next_page_token,
    );
    ctx.send(other).await.invalid(&["page_token"])?;
    Ok(())
}
