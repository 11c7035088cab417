//! `distgo-request-id`: a retried write is applied once (REQ-1).
//!
//! A client whose write timed out cannot know whether it was applied; it
//! retries with the same request id and must get the first outcome back,
//! with nothing applied twice. The retry is sent exactly as the first
//! request, so a worker that ignores the header creates a second document
//! (the id is generated) and fails the case.

use crate::{
    case::{Case, Tag},
    check::{Check, eq},
    ctx::Ctx,
    req::{Kind, Res},
};

/// The request header that names a write for retries.
pub const REQUEST_ID: &str = "distgo-request-id";

/// Cases about request ids.
pub fn cases() -> Vec<Case> {
    vec![
        Case::new(
            "req-retried-create-applies-once",
            "REQ-1",
            &[Tag::Core],
            retried_create,
        ),
        Case::new(
            "req-retried-failure-answers-the-same",
            "REQ-1",
            &[Tag::Core],
            retried_failure,
        ),
    ]
}

async fn retried_create(ctx: Ctx) -> Check {
    let parent = ctx.parent_for(Kind::Document).await?;
    let id = format!("{}create", ctx.ns());
    // An empty document id: the server picks one, so a second application
    // would be a second document, not an ALREADY_EXISTS.
    let create = Kind::Document.create(&parent, "", "{\"n\": 1}");
    let first = Res::from_reply(
        ctx.send_with_header(create.clone(), REQUEST_ID, &id)
            .await
            .ok()?,
    )?;
    let again = Res::from_reply(
        ctx.send_with_header(create.clone(), REQUEST_ID, &id)
            .await
            .ok()?,
    )?;
    eq("the retry's answer (the first outcome)", &first, &again)?;
    // Another request id is another write.
    let other = format!("{}other", ctx.ns());
    let second = Res::from_reply(
        ctx.send_with_header(create, REQUEST_ID, &other)
            .await
            .ok()?,
    )?;
    crate::check::ensure(
        second.name != first.name,
        "another request id creates another document",
        format!("the same one: {}", second.name),
    )?;
    // Exactly two documents exist: read the two by name, and the retry's
    // value is the one stored.
    eq(
        "value read back",
        &first.field,
        &ctx.get(Kind::Document, &first.name).await?.field,
    )?;
    ctx.get(Kind::Document, &second.name).await?;
    Ok(())
}

async fn retried_failure(ctx: Ctx) -> Check {
    let (_, db) = ctx.fresh(Kind::Database, "First").await?;
    let id = format!("{}fail", ctx.ns());
    let local = db.id().to_owned();
    let create = Kind::Database.create("", &local, "Second");
    let refused = ctx
        .send_with_header(create.clone(), REQUEST_ID, &id)
        .await
        .already_exists(&db.name)?;
    // Meanwhile the database goes away: a retry must still get the first
    // answer, not apply the create now.
    ctx.send(Kind::Database.delete(&db.name)).await.ok()?;
    let retried = ctx
        .send_with_header(create, REQUEST_ID, &id)
        .await
        .already_exists(&db.name)?;
    eq("the retry's message", refused.message(), retried.message())?;
    ctx.send(Kind::Database.get(&db.name))
        .await
        .not_found(&db.name)?;
    Ok(())
}
