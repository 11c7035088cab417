//! Create, get, update and delete, stated once and checked on all three
//! kinds of resource (each with its own clause: `DB-GET-2`, `COLL-GET-2`, ...).

use prost_types::Timestamp;

use crate::{
    call::Call,
    case::{Case, Tag},
    check::{Check, ensure, eq, eq_time},
    ctx::Ctx,
    proto::database as pb,
    req::{Kind, Res, nanos},
};

const CORE: &[Tag] = &[Tag::Core];

/// The clause `{family}-{rest}` of `kind`: `clause(Kind::Document, "GET-2")`
/// is `DOC-GET-2`.
pub fn clause(kind: Kind, rest: &str) -> String {
    format!("{}-{rest}", kind.family())
}

/// Cases for every kind.
pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for kind in Kind::ALL {
        cases.extend(cases_of(kind));
    }
    cases
}

fn cases_of(kind: Kind) -> Vec<Case> {
    let k = kind.short();
    let message_clause = match kind {
        Kind::Document => "DOC-CREATE-6".to_owned(),
        _ => clause(kind, "CREATE-3"),
    };
    let existing_clause = match kind {
        Kind::Document => "DOC-CREATE-5".to_owned(),
        _ => clause(kind, "CREATE-2"),
    };
    let mut cases = vec![
        Case::new(
            format!("{k}-create-returns-stored"),
            clause(kind, "CREATE-1"),
            CORE,
            move |ctx| create_returns_stored(ctx, kind),
        ),
        Case::new(
            format!("{k}-create-existing-already-exists"),
            existing_clause,
            CORE,
            move |ctx| create_existing(ctx, kind),
        ),
        Case::new(
            format!("{k}-create-missing-message"),
            message_clause,
            CORE,
            move |ctx| create_missing_message(ctx, kind),
        ),
        Case::new(
            format!("{k}-get-returns-last-stored"),
            clause(kind, "GET-1"),
            CORE,
            move |ctx| get_returns_last_stored(ctx, kind),
        ),
        Case::new(
            format!("{k}-get-missing-not-found"),
            clause(kind, "GET-2"),
            CORE,
            move |ctx| get_missing(ctx, kind),
        ),
        Case::new(
            format!("{k}-update-missing-not-found"),
            clause(kind, "UPDATE-2"),
            CORE,
            move |ctx| update_missing(ctx, kind),
        ),
        Case::new(
            format!("{k}-update-missing-message"),
            clause(kind, "UPDATE-4"),
            CORE,
            move |ctx| update_missing_message(ctx, kind),
        ),
        Case::new(
            format!("{k}-delete-then-get-not-found"),
            clause(kind, "DELETE-1"),
            CORE,
            move |ctx| delete_then_get(ctx, kind),
        ),
        Case::new(
            format!("{k}-delete-missing-not-found"),
            clause(kind, "DELETE-2"),
            CORE,
            move |ctx| delete_missing(ctx, kind),
        ),
        Case::new(
            format!("{k}-create-ignores-output-only-fields"),
            "FIELD-8",
            CORE,
            move |ctx| ignores_output_only(ctx, kind),
        ),
        Case::new(
            format!("{k}-timestamps-move-forward"),
            "FIELD-6",
            CORE,
            move |ctx| timestamps_move_forward(ctx, kind),
        ),
        Case::new(
            format!("{k}-timestamps-are-utc-now"),
            "FIELD-7",
            CORE,
            move |ctx| timestamps_are_now(ctx, kind),
        ),
        Case::new(format!("{k}-generated-id"), "NAME-5", CORE, move |ctx| {
            generated_id(ctx, kind)
        }),
    ];
    let masks: [(&str, Option<&'static [&'static str]>); 4] = [
        ("absent", None),
        ("empty", Some(&[])),
        ("star", Some(&["*"])),
        ("field", Some(&[])),
    ];
    for (label, mask) in masks {
        let field_mask = label == "field";
        cases.push(Case::new(
            format!("{k}-update-mask-{label}-replaces-field"),
            clause(kind, "UPDATE-1"),
            CORE,
            move |ctx| update_with_mask(ctx, kind, mask, field_mask),
        ));
    }
    let bad_masks: [(&str, &'static [&'static str]); 5] = [
        ("name", &["name"]),
        ("created-at", &["created_at"]),
        ("updated-at", &["updated_at"]),
        ("unknown", &["colour"]),
        ("star-with-field", &["*", "MUTABLE"]),
    ];
    for (label, paths) in bad_masks {
        cases.push(Case::new(
            format!("{k}-update-mask-{label}-rejected"),
            clause(kind, "UPDATE-3"),
            CORE,
            move |ctx| update_bad_mask(ctx, kind, paths),
        ));
    }
    cases
}

/// The clause's basic promise: the response is the resource as stored.
async fn create_returns_stored(ctx: Ctx, kind: Kind) -> Check {
    let parent = ctx.parent_for(kind).await?;
    let id = ctx.id_for(kind, "first");
    let created = ctx.create(kind, &parent, &id, &kind.sample(1)).await?;
    eq("name", &kind.name(&parent, &id), &created.name)?;
    eq(kind.mutable_field(), &kind.sample(1), &created.field)?;
    ensure(
        created.created_at.is_some(),
        "created_at set",
        "created_at unset",
    )?;
    eq_time(
        "updated_at",
        created.created_at.as_ref(),
        created.updated_at.as_ref(),
    )?;
    let got = ctx.get(kind, &created.name).await?;
    eq("the resource read back", &created, &got)
}

async fn create_existing(ctx: Ctx, kind: Kind) -> Check {
    let (parent, first) = ctx.fresh(kind, &kind.sample(1)).await?;
    let id = first.id().to_owned();
    ctx.send(kind.create(&parent, &id, &kind.sample(2)))
        .await
        .already_exists(&first.name)?;
    let after = ctx.get(kind, &first.name).await?;
    eq("the existing resource", &first, &after)
}

async fn create_missing_message(ctx: Ctx, kind: Kind) -> Check {
    let parent = ctx.parent_for(kind).await?;
    let id = ctx.id_for(kind, "x");
    let call = match kind.create(&parent, &id, "") {
        Call::CreateDatabase(mut r) => {
            r.database = None;
            Call::CreateDatabase(r)
        }
        Call::CreateCollection(mut r) => {
            r.collection = None;
            Call::CreateCollection(r)
        }
        Call::CreateDocument(mut r) => {
            r.document = None;
            Call::CreateDocument(r)
        }
        other => other,
    };
    ctx.send(call).await.invalid(&[kind.message_field()])?;
    ctx.send(kind.get(&kind.name(&parent, &id)))
        .await
        .not_found(&kind.name(&parent, &id))?;
    Ok(())
}

async fn get_returns_last_stored(ctx: Ctx, kind: Kind) -> Check {
    let (_, res) = ctx.fresh(kind, &kind.sample(1)).await?;
    let updated = Res::from_reply(
        ctx.send(kind.update(&res.name, &kind.sample(2), None))
            .await
            .ok()?,
    )?;
    let got = ctx.get(kind, &res.name).await?;
    eq("the resource read back", &updated, &got)
}

async fn get_missing(ctx: Ctx, kind: Kind) -> Check {
    let parent = ctx.parent_for(kind).await?;
    let name = kind.name(&parent, &ctx.id_for(kind, "missing"));
    ctx.send(kind.get(&name)).await.not_found(&name)?;
    if kind != Kind::Database {
        // Under a database that does not exist either.
        let name = match kind {
            Kind::Collection => format!("{}/collections/c", ctx.db("nodb")),
            _ => format!("{}/collections/c/documents/d", ctx.db("nodb")),
        };
        ctx.send(kind.get(&name))
            .await
            .code(tonic::Code::NotFound)?;
    }
    Ok(())
}

async fn update_missing(ctx: Ctx, kind: Kind) -> Check {
    let parent = ctx.parent_for(kind).await?;
    let name = kind.name(&parent, &ctx.id_for(kind, "missing"));
    ctx.send(kind.update(&name, &kind.sample(1), None))
        .await
        .not_found(&name)?;
    // Update never creates.
    ctx.send(kind.get(&name)).await.not_found(&name)?;
    Ok(())
}

async fn update_missing_message(ctx: Ctx, kind: Kind) -> Check {
    let call = match kind.update("", "", None) {
        Call::UpdateDatabase(mut r) => {
            r.database = None;
            Call::UpdateDatabase(r)
        }
        Call::UpdateCollection(mut r) => {
            r.collection = None;
            Call::UpdateCollection(r)
        }
        Call::UpdateDocument(mut r) => {
            r.document = None;
            Call::UpdateDocument(r)
        }
        other => other,
    };
    ctx.send(call).await.invalid(&[kind.message_field()])?;
    Ok(())
}

async fn delete_then_get(ctx: Ctx, kind: Kind) -> Check {
    let (parent, res) = ctx.fresh(kind, &kind.sample(1)).await?;
    let reply = ctx.send(kind.delete(&res.name)).await.ok()?;
    eq("the reply", &crate::call::Reply::Empty, &reply)?;
    ctx.forget(&res.name);
    ctx.send(kind.get(&res.name)).await.not_found(&res.name)?;
    if kind == Kind::Collection {
        ctx.get(Kind::Database, &parent).await?;
    }
    Ok(())
}

async fn delete_missing(ctx: Ctx, kind: Kind) -> Check {
    let parent = ctx.parent_for(kind).await?;
    let name = kind.name(&parent, &ctx.id_for(kind, "missing"));
    ctx.send(kind.delete(&name)).await.not_found(&name)?;
    // Deleting twice: the second is NOT_FOUND too.
    let (_, res) = ctx.fresh(kind, &kind.sample(1)).await?;
    ctx.send(kind.delete(&res.name)).await.ok()?;
    ctx.forget(&res.name);
    ctx.send(kind.delete(&res.name))
        .await
        .not_found(&res.name)?;
    Ok(())
}

fn old_time() -> Option<Timestamp> {
    Some(Timestamp {
        seconds: 86_400,
        nanos: 0,
    })
}

async fn ignores_output_only(ctx: Ctx, kind: Kind) -> Check {
    let parent = ctx.parent_for(kind).await?;
    let id = ctx.id_for(kind, "out");
    let bogus_name = kind.name(&parent, &ctx.id_for(kind, "elsewhere"));
    let call = match kind.create(&parent, &id, &kind.sample(1)) {
        Call::CreateDatabase(mut r) => {
            r.database = Some(pb::Database {
                name: bogus_name.clone(),
                created_at: old_time(),
                updated_at: old_time(),
                ..r.database.unwrap_or_default()
            });
            Call::CreateDatabase(r)
        }
        Call::CreateCollection(mut r) => {
            r.collection = Some(pb::Collection {
                name: bogus_name.clone(),
                created_at: old_time(),
                updated_at: old_time(),
                ..r.collection.unwrap_or_default()
            });
            Call::CreateCollection(r)
        }
        Call::CreateDocument(mut r) => {
            r.document = Some(pb::Document {
                name: bogus_name.clone(),
                created_at: old_time(),
                updated_at: old_time(),
                ..r.document.unwrap_or_default()
            });
            Call::CreateDocument(r)
        }
        other => other,
    };
    let res = Res::from_reply(ctx.send(call).await.ok()?)?;
    eq("name", &kind.name(&parent, &id), &res.name)?;
    ensure(
        res.created_at != old_time() && res.updated_at != old_time(),
        "server-set timestamps",
        "the timestamps sent by the client",
    )?;
    ctx.send(kind.get(&bogus_name))
        .await
        .not_found(&bogus_name)?;
    Ok(())
}

async fn timestamps_move_forward(ctx: Ctx, kind: Kind) -> Check {
    let (_, first) = ctx.fresh(kind, &kind.sample(0)).await?;
    let created = first
        .created_at
        .ok_or_else(|| ctx.fail("created_at set", "unset"))?;
    eq_time(
        "updated_at at create",
        first.created_at.as_ref(),
        first.updated_at.as_ref(),
    )?;
    let mut last = nanos(&created);
    for n in 1..=3 {
        let res = Res::from_reply(
            ctx.send(kind.update(&first.name, &kind.sample(n), None))
                .await
                .ok()?,
        )?;
        eq(
            "created_at after an update",
            &first.created_at,
            &res.created_at,
        )?;
        let updated = res
            .updated_at
            .as_ref()
            .map(nanos)
            .ok_or_else(|| ctx.fail("updated_at set", "unset"))?;
        ensure(
            updated >= last,
            format!("updated_at >= {last}"),
            format!("updated_at = {updated}"),
        )?;
        last = updated;
    }
    Ok(())
}

async fn timestamps_are_now(ctx: Ctx, kind: Kind) -> Check {
    let (_, res) = ctx.fresh(kind, &kind.sample(0)).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or_default();
    let created = res.created_at.as_ref().map(nanos).unwrap_or_default();
    let skew = (created - now).abs() / 1_000_000_000;
    ensure(
        skew <= 600,
        "created_at within 10 minutes of the client's UTC clock",
        format!("{skew} s away"),
    )
    .map_err(|f| f.request(kind.get(&res.name).render()))
}

async fn generated_id(ctx: Ctx, kind: Kind) -> Check {
    let parent = ctx.parent_for(kind).await?;
    let res = ctx.create(kind, &parent, "", &kind.sample(1)).await?;
    let id = res.id().to_owned();
    let alphabet_ok = id.bytes().all(|b| match b {
        b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' => true,
        b'A'..=b'Z' => kind != Kind::Database,
        _ => false,
    });
    ensure(
        id.len() == 20 && alphabet_ok,
        "a generated id of 20 characters of the id alphabet",
        format!("{id:?}"),
    )?;
    eq("name", &kind.name(&parent, &id), &res.name)?;
    let got = ctx.get(kind, &res.name).await?;
    eq("the resource read back", &res, &got)?;
    if kind == Kind::Database {
        // Outside the run prefix: delete it at once.
        ctx.send(kind.delete(&res.name)).await.ok()?;
        ctx.forget(&res.name);
    }
    Ok(())
}

async fn update_with_mask(ctx: Ctx, kind: Kind, mask: Option<&[&str]>, field_mask: bool) -> Check {
    let (_, res) = ctx.fresh(kind, &kind.sample(1)).await?;
    let field_path = [kind.mutable_field()];
    let mask = if field_mask {
        Some(&field_path[..])
    } else {
        mask
    };
    let updated = Res::from_reply(
        ctx.send(kind.update(&res.name, &kind.sample(2), mask))
            .await
            .ok()?,
    )?;
    eq(kind.mutable_field(), &kind.sample(2), &updated.field)?;
    eq("name", &res.name, &updated.name)?;
    eq_time(
        "created_at",
        res.created_at.as_ref(),
        updated.created_at.as_ref(),
    )?;
    let got = ctx.get(kind, &res.name).await?;
    eq("the resource read back", &updated, &got)
}

async fn update_bad_mask(ctx: Ctx, kind: Kind, paths: &[&str]) -> Check {
    let (_, res) = ctx.fresh(kind, &kind.sample(1)).await?;
    let paths: Vec<&str> = paths
        .iter()
        .map(|p| {
            if *p == "MUTABLE" {
                kind.mutable_field()
            } else {
                p
            }
        })
        .collect();
    ctx.send(kind.update(&res.name, &kind.sample(2), Some(&paths)))
        .await
        .invalid(&["update_mask"])?;
    let got = ctx.get(kind, &res.name).await?;
    eq("the unchanged resource", &res, &got)
}
