//! ListDatabases pages like the other lists (LIST-2, LIST-3, LIST-5, LIST-8)
//! on a worker that other clients use at the same time.
//!
//! The run cannot choose where a page of *all* databases starts, since other
//! clients' databases come before and between. Two facts make the cases
//! sound anyway: names sort byte-wise, so nothing foreign sorts between two
//! of this case's databases (their ids share the case's namespace, which no
//! one else uses); and a page that ends at one of ours can be asked for:
//! from the token of the page that holds it, with a page size that stops
//! right after it ([`token_ending_at`]).

use crate::{
    case::{Case, Tag},
    check::{Check, ensure, eq},
    ctx::Ctx,
    req::Kind,
};

const CORE: &[Tag] = &[Tag::Core];

/// Cases about paging through databases.
pub fn cases() -> Vec<Case> {
    vec![
        Case::new("db-list-default-page-size", "LIST-2", CORE, default_size),
        Case::new(
            "db-list-pages-are-full-until-the-end",
            "LIST-3",
            CORE,
            pages_are_full,
        ),
        Case::new(
            "db-list-token-survives-deleted-item",
            "LIST-5",
            CORE,
            token_survives_delete,
        ),
        Case::new(
            "db-list-no-token-after-exactly-full-page",
            "LIST-8",
            CORE,
            no_token_after_full_page,
        ),
    ]
}

/// Creates databases `{ns}i000`..; returns their names in order.
async fn populate(ctx: &Ctx, n: usize) -> Check<Vec<String>> {
    let ids: Vec<String> = (0..n).map(|i| ctx.id(&format!("i{i:03}"))).collect();
    let calls = ids
        .iter()
        .map(|id| Kind::Database.create("", id, "P"))
        .collect();
    for exchange in ctx.send_all(calls).await {
        exchange.ok()?;
    }
    Ok(ids.iter().map(|id| format!("databases/{id}")).collect())
}

/// With 101 of ours there are at least 101 databases: the first page of
/// the default size holds exactly 100 and promises more.
async fn default_size(ctx: Ctx) -> Check {
    populate(&ctx, 101).await?;
    let first = ctx.page(Kind::Database, "", 0, "").await?;
    eq("items on a default page", &100, &first.items.len())?;
    ensure(
        !first.next_page_token.is_empty(),
        "a next_page_token (at least 101 databases exist)",
        "none",
    )
}

async fn pages_are_full(ctx: Ctx) -> Check {
    populate(&ctx, 7).await?;
    let mut sizes = Vec::new();
    ctx.page_through(Kind::Database, "", 3, |page| {
        sizes.push(page.items.len());
        Ok(())
    })
    .await?;
    let (last, full) = sizes.split_last().unwrap_or((&0, &[]));
    ensure(
        // The last page may be empty: other clients may delete what
        // followed after the token was issued.
        full.iter().all(|&n| n == 3) && *last <= 3,
        "pages of exactly 3 while more remain, then at most 3",
        format!("page sizes {sizes:?}"),
    )?;
    ensure(
        sizes.len() >= 3,
        "at least three pages (7 databases of ours)",
        format!("{}", sizes.len()),
    )
}

/// The token of a page whose last item is `name`. Other clients' creates
/// and deletes before `name` move it between the two requests this takes,
/// so a cut that misses is tried again (up to 100 times, a little apart).
async fn token_ending_at(ctx: &Ctx, name: &str) -> Check<String> {
    for _ in 0..100 {
        if let Some(token) = try_token_ending_at(ctx, name).await? {
            return Ok(token);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Err(ctx.fail(
        format!("a page that ends at {name}"),
        "other clients' writes moved it 100 times",
    ))
}

async fn try_token_ending_at(ctx: &Ctx, name: &str) -> Check<Option<String>> {
    let mut token = String::new();
    for _ in 0..100_000 {
        let page = ctx.page(Kind::Database, "", 1000, &token).await?;
        let names = page.names();
        if let Some(i) = names.iter().position(|n| n == name) {
            // The same start, cut right after `name`.
            let size = i32::try_from(i + 1).unwrap_or(1000);
            let cut = ctx.page(Kind::Database, "", size, &token).await?;
            let ends_there = cut.names().last().is_some_and(|n| n == name);
            return Ok(ends_there.then_some(cut.next_page_token));
        }
        if page.next_page_token.is_empty() {
            break;
        }
        ctx.advances(&token, &page.next_page_token)?;
        token = page.next_page_token;
    }
    Err(ctx.fail(format!("{name} in the listing"), "not found"))
}

async fn token_survives_delete(ctx: Ctx) -> Check {
    let names = populate(&ctx, 4).await?;
    let token = token_ending_at(&ctx, &names[1]).await?;
    ctx.send(Kind::Database.delete(&names[1])).await.ok()?;
    ctx.forget(&names[1]);
    let next = ctx.page(Kind::Database, "", 2, &token).await?;
    eq(
        "the page after the deleted item",
        &names[2..4].to_vec(),
        &next.names(),
    )
}

/// Counts the databases, then asks for them all in one page of exactly that
/// size: it must carry no token, or, when other clients created databases
/// in between, a token that leads to more. Other clients' writes make most
/// observations inconclusive, so the case tries up to 50 times, a little
/// apart. On a worker with more than 1000 databases no single page can hold
/// them all, and the case checks nothing more.
async fn no_token_after_full_page(ctx: Ctx) -> Check {
    populate(&ctx, 2).await?;
    for _ in 0..50 {
        let total = count(&ctx).await?;
        let Ok(size) = i32::try_from(total) else {
            break;
        };
        if size > 1000 {
            return Ok(());
        }
        let all = ctx.page(Kind::Database, "", size, "").await?;
        if all.items.len() == total && all.next_page_token.is_empty() {
            return Ok(());
        }
        if all.items.len() == total {
            let next = ctx
                .page(Kind::Database, "", 1000, &all.next_page_token)
                .await?;
            if next.items.is_empty() && count(&ctx).await? == total {
                return Err(ctx
                    .fail(
                        "no next_page_token after an exactly full last page",
                        "a token, and an empty page after it",
                    )
                    .clause("LIST-8"));
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Err(ctx.fail(
        "a stable count of databases for one exactly full page",
        "other clients' writes changed it 50 times",
    ))
}

/// How many databases the worker holds now.
async fn count(ctx: &Ctx) -> Check<usize> {
    let mut total = 0;
    ctx.page_through(Kind::Database, "", 1000, |page| {
        total += page.items.len();
        Ok(())
    })
    .await?;
    Ok(total)
}
