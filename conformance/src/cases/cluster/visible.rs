//! CLUSTER-1: a write acknowledged by one member is visible through every
//! member at once.
//!
//! The acknowledgement is the promise: once a member said OK, a default
//! (linearizable) read anywhere must see the write. A follower that serves
//! reads from its own copy before that copy has caught up answers the old
//! value, or NOT_FOUND for a document just created, which is what this case
//! looks for. Each member in turn creates, updates and deletes a document,
//! and after each acknowledgement every member reads it straight away.

use super::Members;
use crate::{
    check::{Check, eq},
    ctx::Ctx,
    req::{Kind, Res},
};

pub(super) async fn write_visible_through_every_member(ctx: Ctx) -> Check {
    let members = Members::connect(&ctx).await?;
    let parent = ctx.parent_for(Kind::Document).await?;
    for writer in 0..members.len() {
        let id = format!("w{writer}");
        let name = Kind::Document.name(&parent, &id);
        let value = format!("{{\"created_by_member\": {writer}}}");
        let create = Kind::Document.create(&parent, &id, &value);
        let created = Res::from_reply(members.send(&ctx, writer, create).await.ok()?)?;
        read_everywhere(
            &ctx,
            &members,
            &name,
            Some(&created.field),
            writer,
            "create",
        )
        .await?;
        let value = format!("{{\"updated_by_member\": {writer}}}");
        let update = Kind::Document.update(&name, &value, None);
        let updated = Res::from_reply(members.send(&ctx, writer, update).await.ok()?)?;
        read_everywhere(
            &ctx,
            &members,
            &name,
            Some(&updated.field),
            writer,
            "update",
        )
        .await?;
        members
            .send(&ctx, writer, Kind::Document.delete(&name))
            .await
            .ok()?;
        read_everywhere(&ctx, &members, &name, None, writer, "delete").await?;
    }
    Ok(())
}

/// Reads `name` through every member: `want` is the value it must hold, or
/// `None` when it must be NOT_FOUND.
async fn read_everywhere(
    ctx: &Ctx,
    members: &Members,
    name: &str,
    want: Option<&str>,
    writer: usize,
    what: &str,
) -> Check {
    for reader in 0..members.len() {
        let exchange = members.send(ctx, reader, Kind::Document.get(name)).await;
        let when = format!(
            "read through {} right after {} acknowledged the {what}",
            members.who(reader),
            members.who(writer)
        );
        let seen = match want {
            Some(value) => exchange
                .ok()
                .and_then(Res::from_reply)
                .and_then(|got| eq("the value just written", value, got.field.as_str())),
            None => exchange.not_found(name).map(drop),
        };
        seen.map_err(|f| f.note(when))?;
    }
    Ok(())
}
