//! The four List methods: order, page sizes, cursor tokens, parents.
//!
//! Vacuity guards: every listing case checks that it saw items, and every
//! paging case that it crossed at least two pages, so an empty or one-page
//! answer can never pass by accident.

use std::collections::BTreeMap;

use crate::{
    case::{Case, Tag},
    check::{Check, ensure, eq},
    ctx::Ctx,
    req::{Kind, Page},
};

const CORE: &[Tag] = &[Tag::Core];

/// Cases about listing.
pub fn cases() -> Vec<Case> {
    const ALL: &[Kind] = &Kind::ALL;
    const CHILDREN: &[Kind] = &[Kind::Collection, Kind::Document];
    const RACING: &[Tag] = &[Tag::Core, Tag::Concurrency];
    let mut cases = Vec::new();
    cases.extend(Case::each(
        ALL,
        "list-in-name-order",
        "LIST-1",
        CORE,
        in_name_order,
    ));
    cases.extend(Case::each(
        ALL,
        "list-page-size-out-of-range",
        "LIST-4",
        CORE,
        page_size_out_of_range,
    ));
    cases.extend(Case::each(
        ALL,
        "list-foreign-token-rejected",
        "LIST-6",
        CORE,
        foreign_token,
    ));
    cases.extend(Case::each(
        CHILDREN,
        "list-default-page-size",
        "LIST-2",
        CORE,
        default_page_size,
    ));
    cases.extend(Case::each(
        CHILDREN,
        "list-pages-are-full-until-the-end",
        "LIST-3",
        CORE,
        pages_are_full,
    ));
    cases.extend(Case::each(
        CHILDREN,
        "list-token-survives-deleted-item",
        "LIST-5",
        CORE,
        token_survives_delete,
    ));
    cases.extend(Case::each(
        CHILDREN,
        "list-token-of-other-parent-rejected",
        "LIST-7",
        CORE,
        token_of_other_parent,
    ));
    cases.extend(Case::each(
        CHILDREN,
        "list-no-token-after-exactly-full-page",
        "LIST-8",
        CORE,
        no_token_after_full_page,
    ));
    cases.extend(Case::each(
        CHILDREN,
        "list-paging-under-writes",
        "LIST-9",
        RACING,
        paging_under_writes,
    ));
    cases.extend(Case::each(
        CHILDREN,
        "list-parent-missing",
        "LIST-10",
        CORE,
        parent_missing,
    ));
    cases.push(Case::new(
        "doc-list-token-continues-after-inserts",
        "LIST-5",
        CORE,
        token_after_inserts,
    ));
    cases.push(Case::new(
        "doc-list-token-of-collection-listing-rejected",
        "LIST-7",
        CORE,
        token_of_other_method,
    ));
    cases.push(Case::new(
        "doc-list-empty-has-no-token",
        "LIST-8",
        CORE,
        empty_has_no_token,
    ));
    cases.push(Case::new(
        "db-list-pages-through-the-run",
        "LIST-9",
        CORE,
        databases_page_through,
    ));
    cases
}

/// Creates `ids` under a fresh parent of `kind` (concurrently) and returns
/// the parent's name.
async fn populate(ctx: &Ctx, kind: Kind, ids: &[String]) -> Check<String> {
    let parent = ctx.parent_for(kind).await?;
    let calls = ids
        .iter()
        .map(|id| kind.create(&parent, &ctx.id_for(kind, id), &kind.sample(1)))
        .collect();
    for exchange in ctx.send_all(calls).await {
        exchange.ok()?;
    }
    Ok(parent)
}

fn numbered(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("i{i:03}")).collect()
}

async fn in_name_order(ctx: Ctx, kind: Kind) -> Check {
    let ids: Vec<String> = ["b", "a", "a-", "a.", "a_", "0", "9z", "z", "aa"]
        .into_iter()
        .map(String::from)
        .chain(if kind == Kind::Database {
            None
        } else {
            Some("B".to_owned())
        })
        .collect();
    let parent = populate(&ctx, kind, &ids).await?;
    let listed: Vec<String> = ctx
        .list_all(kind, &parent, 4)
        .await?
        .into_iter()
        .map(|r| r.name)
        .filter(|n| kind != Kind::Database || n.starts_with(&ctx.db("")))
        .collect();
    let mut want: Vec<String> = ids
        .iter()
        .map(|id| kind.name(&parent, &ctx.id_for(kind, id)))
        .collect();
    want.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    eq("names in order", &want, &listed)
}

async fn page_size_out_of_range(ctx: Ctx, kind: Kind) -> Check {
    let parent = populate(&ctx, kind, &numbered(2)).await?;
    for size in [-1, 1001, i32::MIN, i32::MAX] {
        ctx.send(kind.list(&parent, size, ""))
            .await
            .invalid(&["page_size"])?;
    }
    let page = ctx.page(kind, &parent, 1000, "").await?;
    ensure(
        !page.items.is_empty(),
        "a non-empty page for page_size 1000",
        "an empty page",
    )
}

async fn foreign_token(ctx: Ctx, kind: Kind) -> Check {
    let parent = populate(&ctx, kind, &numbered(3)).await?;
    let page = ctx.page(kind, &parent, 1, "").await?;
    let token = page.next_page_token.clone();
    ensure(
        !token.is_empty(),
        "a next_page_token after one of three items",
        "none",
    )?;
    let mut altered = token.clone().into_bytes();
    altered[0] = if altered[0] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap_or_default();
    for bogus in [
        "garbage!",
        "AAAA",
        "0",
        &format!("{token}x"),
        &token[..token.len() - 1],
        &altered,
    ] {
        ctx.send(kind.list(&parent, 1, bogus))
            .await
            .invalid(&["page_token"])?;
    }
    // The real token still works.
    ctx.page(kind, &parent, 1, &token).await?;
    Ok(())
}

async fn default_page_size(ctx: Ctx, kind: Kind) -> Check {
    let parent = populate(&ctx, kind, &numbered(101)).await?;
    let first = ctx.page(kind, &parent, 0, "").await?;
    eq("items on the first page", &100, &first.items.len())?;
    ensure(
        !first.next_page_token.is_empty(),
        "a next_page_token",
        "none",
    )?;
    let second = ctx.page(kind, &parent, 0, &first.next_page_token).await?;
    eq("items on the second page", &1, &second.items.len())?;
    eq("next_page_token", "", &second.next_page_token)
}

async fn pages_are_full(ctx: Ctx, kind: Kind) -> Check {
    let parent = populate(&ctx, kind, &numbered(7)).await?;
    let mut sizes = Vec::new();
    ctx.page_through(kind, &parent, 3, |page| {
        sizes.push(page.items.len());
        ensure(sizes.len() <= 10, "the listing ends", "more than 10 pages")
    })
    .await?;
    eq("page sizes for 7 items, 3 per page", &vec![3, 3, 1], &sizes)
}

async fn token_survives_delete(ctx: Ctx, kind: Kind) -> Check {
    let parent = populate(&ctx, kind, &numbered(5)).await?;
    let first = ctx.page(kind, &parent, 2, "").await?;
    let last = first
        .items
        .last()
        .map(|r| r.name.clone())
        .unwrap_or_default();
    ctx.send(kind.delete(&last)).await.ok()?;
    let second = ctx.page(kind, &parent, 2, &first.next_page_token).await?;
    let want = vec![
        kind.name(&parent, &ctx.id_for(kind, "i002")),
        kind.name(&parent, &ctx.id_for(kind, "i003")),
    ];
    eq("the page after the deleted item", &want, &second.names())
}

async fn token_after_inserts(ctx: Ctx) -> Check {
    let kind = Kind::Document;
    let ids: Vec<String> = ["b", "d", "f"].into_iter().map(String::from).collect();
    let parent = populate(&ctx, kind, &ids).await?;
    let first = ctx.page(kind, &parent, 2, "").await?;
    eq(
        "first page",
        &vec![kind.name(&parent, "b"), kind.name(&parent, "d")],
        &first.names(),
    )?;
    for id in ["a", "c", "e"] {
        ctx.create(kind, &parent, id, "{}").await?;
    }
    let rest = ctx.page(kind, &parent, 10, &first.next_page_token).await?;
    let want = vec![kind.name(&parent, "e"), kind.name(&parent, "f")];
    eq("the page after the cursor", &want, &rest.names())
}

async fn token_of_other_parent(ctx: Ctx, kind: Kind) -> Check {
    let one = populate(&ctx, kind, &numbered(3)).await?;
    let other = populate(&ctx, kind, &numbered(3)).await?;
    let page = ctx.page(kind, &one, 1, "").await?;
    ensure(
        !page.next_page_token.is_empty(),
        "a next_page_token",
        "none",
    )?;
    ctx.send(kind.list(&other, 1, &page.next_page_token))
        .await
        .invalid(&["page_token"])?;
    Ok(())
}

async fn token_of_other_method(ctx: Ctx) -> Check {
    let db = populate(&ctx, Kind::Collection, &numbered(3)).await?;
    let page = ctx.page(Kind::Collection, &db, 1, "").await?;
    ensure(
        !page.next_page_token.is_empty(),
        "a next_page_token",
        "none",
    )?;
    let coll = format!("{db}/collections/i000");
    ctx.send(Kind::Document.list(&coll, 1, &page.next_page_token))
        .await
        .invalid(&["page_token"])?;
    ctx.send(Kind::Database.list("", 1, &page.next_page_token))
        .await
        .invalid(&["page_token"])?;
    Ok(())
}

async fn no_token_after_full_page(ctx: Ctx, kind: Kind) -> Check {
    let parent = populate(&ctx, kind, &numbered(4)).await?;
    let first = ctx.page(kind, &parent, 2, "").await?;
    ensure(
        !first.next_page_token.is_empty(),
        "a token after 2 of 4",
        "none",
    )?;
    let second = ctx.page(kind, &parent, 2, &first.next_page_token).await?;
    eq("items on the last page", &2, &second.items.len())?;
    eq(
        "next_page_token after the last item",
        "",
        &second.next_page_token,
    )?;
    let all = ctx.page(kind, &parent, 4, "").await?;
    eq("items", &4, &all.items.len())?;
    eq(
        "next_page_token when one page holds everything",
        "",
        &all.next_page_token,
    )
}

async fn empty_has_no_token(ctx: Ctx) -> Check {
    let parent = ctx.parent_for(Kind::Document).await?;
    let page = ctx.page(Kind::Document, &parent, 0, "").await?;
    eq(
        "an empty listing",
        &Page {
            items: vec![],
            next_page_token: String::new(),
        },
        &page,
    )
}

async fn paging_under_writes(ctx: Ctx, kind: Kind) -> Check {
    let stable = numbered(30);
    let parent = populate(&ctx, kind, &stable).await?;
    let writer = {
        let (ctx, parent) = (ctx.clone(), parent.clone());
        tokio::spawn(async move {
            for round in 0..40 {
                // Volatile items sort between the stable ones.
                let id = ctx.id_for(kind, &format!("i{:03}v{round}", (round * 7) % 30));
                let name = kind.name(&parent, &id);
                let _ = ctx
                    .send(kind.create(&parent, &id, &kind.sample(round)))
                    .await;
                if round % 2 == 0 {
                    let _ = ctx.send(kind.delete(&name)).await;
                }
            }
        })
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let pages = ctx
        .page_through(kind, &parent, 4, |page| {
            for name in page.names() {
                *seen.entry(name).or_default() += 1;
            }
            Ok(())
        })
        .await?;
    let _ = writer.await;
    ensure(
        pages >= 2,
        "paging across at least two pages",
        format!("{pages} page"),
    )?;
    let twice: Vec<&String> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| k)
        .collect();
    ensure(
        twice.is_empty(),
        "no item returned twice",
        format!("returned twice: {twice:?}"),
    )?;
    let missing: Vec<String> = stable
        .iter()
        .map(|id| kind.name(&parent, &ctx.id_for(kind, id)))
        .filter(|name| !seen.contains_key(name))
        .collect();
    ensure(
        missing.is_empty(),
        "every stable item returned once",
        format!("missing: {missing:?}"),
    )
}

async fn parent_missing(ctx: Ctx, kind: Kind) -> Check {
    let parent = match kind {
        Kind::Collection => ctx.db("absent"),
        _ => {
            let db = ctx.create(Kind::Database, "", &ctx.id("p"), "P").await?;
            format!("{}/collections/absent", db.name)
        }
    };
    ctx.send(kind.list(&parent, 0, ""))
        .await
        .not_found(&parent)?;
    if kind == Kind::Document {
        let deeper = format!("{}/collections/c", ctx.db("absent"));
        ctx.send(kind.list(&deeper, 0, ""))
            .await
            .code(tonic::Code::NotFound)?;
    }
    Ok(())
}

async fn databases_page_through(ctx: Ctx) -> Check {
    let ids = numbered(5);
    populate(&ctx, Kind::Database, &ids).await?;
    let mut names = Vec::new();
    let ours = ctx.db("");
    let pages = ctx
        .page_through(Kind::Database, "", 2, |page| {
            // Other clients' databases interleave; only ours are compared.
            names.extend(page.names().into_iter().filter(|n| n.starts_with(&ours)));
            Ok(())
        })
        .await?;
    ensure(
        pages >= 3,
        "at least three pages of two",
        format!("{pages}"),
    )?;
    let want: Vec<String> = ids.iter().map(|id| ctx.db(id)).collect();
    eq("the run's databases, each once, in order", &want, &names)
}
