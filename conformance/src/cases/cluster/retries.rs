//! CLUSTER-4: a write retried through another member with the same
//! `distgo-request-id` is applied once.
//!
//! A client whose write timed out retries it, and behind a load balancer the
//! retry usually reaches another member. REQ-1 makes a retry safe on one
//! worker; in a deployment the request window must be shared (replicated
//! with the writes), or the retry is applied a second time. The create has
//! no document id, so a second application is a second document, not an
//! ALREADY_EXISTS; the update is retried after a later write, so a second
//! application would bring back the older value.

use super::{super::request_ids::REQUEST_ID, Members};
use crate::{
    call::Call,
    check::{Check, Exchange, eq},
    ctx::Ctx,
    req::{Kind, Page, Res},
};

pub(super) async fn retry_through_another_member_applies_once(ctx: Ctx) -> Check {
    let members = Members::connect(&ctx).await?;
    let parent = ctx.parent_for(Kind::Document).await?;
    let last = members.len() - 1;
    let create = Kind::Document.create(&parent, "", "{\"n\": 1}");
    let create_id = format!("{}create", ctx.ns());
    let first = Res::from_reply(
        with_id(&ctx, &members, 0, create.clone(), &create_id)
            .await
            .ok()?,
    )?;
    let again = Res::from_reply(
        with_id(&ctx, &members, last, create, &create_id)
            .await
            .ok()?,
    )?;
    eq("the retry's answer (the first outcome)", &first, &again)?;
    for member in 0..members.len() {
        let list = Kind::Document.list(&parent, 100, "");
        let page = Page::from_reply(members.send(&ctx, member, list).await.ok()?)?;
        eq(
            &format!("the documents listed through {}", members.who(member)),
            &vec![first.name.clone()],
            &page.names(),
        )?;
    }

    let update_id = format!("{}update", ctx.ns());
    let update = Kind::Document.update(&first.name, "{\"n\": 2}", None);
    let updated = Res::from_reply(
        with_id(&ctx, &members, 0, update.clone(), &update_id)
            .await
            .ok()?,
    )?;
    let later = Kind::Document.update(&first.name, "{\"n\": 3}", None);
    members.send(&ctx, 0, later).await.ok()?;
    let retried = Res::from_reply(
        with_id(&ctx, &members, last, update, &update_id)
            .await
            .ok()?,
    )?;
    eq(
        "the retried update's answer (the first outcome)",
        &updated,
        &retried,
    )?;
    // Read back through the member the writes went to: whether the others
    // see it at once is CLUSTER-1's question, not this one's.
    let read = Kind::Document.get(&first.name);
    let stored = Res::from_reply(members.send(&ctx, 0, read).await.ok()?)?;
    eq(
        "the value stored (the later write, not the retry)",
        "{\"n\": 3}",
        stored.field.as_str(),
    )?;
    Ok(())
}

/// Sends `call` through member `i` with the request id `id`.
async fn with_id(ctx: &Ctx, members: &Members, i: usize, call: Call, id: &str) -> Exchange {
    let Some(clients) = members.at(i).with_header(REQUEST_ID, id) else {
        let status = tonic::Status::aborted(format!("harness: {id:?} is not a valid request id"));
        return Exchange {
            call,
            outcome: Err(status),
        };
    };
    let note = format!(" (at {}, {REQUEST_ID}: {id})", members.who(i));
    ctx.send_on(call, &clients, &note).await
}
