//! Errors: never INTERNAL for client mistakes, messages that name what is
//! wrong, every bad field at once, size limits and deadlines.

use std::time::Duration;

use prost_types::FieldMask;
use tonic::Code;

use crate::{
    call::{Call, Reply},
    case::{Case, Tag},
    check::{Check, Exchange, code_name, describe, ensure},
    ctx::Ctx,
    proto::database as pb,
    req::Kind,
};

const CORE: &[Tag] = &[Tag::Core];

/// Cases about errors.
pub fn cases() -> Vec<Case> {
    let mut cases = vec![
        Case::new(
            "err-empty-requests-are-invalid-argument",
            "ERR-1",
            CORE,
            empty_requests,
        ),
        Case::new(
            "err-hostile-inputs-never-internal",
            "ERR-1",
            CORE,
            hostile_inputs,
        ),
        Case::new(
            "err-invalid-argument-message-names-field",
            "ERR-2",
            CORE,
            message_names_field,
        ),
        Case::new(
            "err-not-found-and-already-exists-name-the-resource",
            "ERR-2",
            CORE,
            messages_name_resource,
        ),
        Case::new(
            "err-bad-update-mask-path-is-named",
            "ERR-2",
            CORE,
            bad_mask_path_named,
        ),
        Case::new(
            "err-create-document-reports-every-bad-field",
            "ERR-3",
            CORE,
            |ctx| together(ctx, Together::CreateDocument),
        ),
        Case::new(
            "err-create-database-reports-every-bad-field",
            "ERR-3",
            CORE,
            |ctx| together(ctx, Together::CreateDatabase),
        ),
        Case::new(
            "err-update-collection-reports-every-bad-field",
            "ERR-3",
            CORE,
            |ctx| together(ctx, Together::UpdateCollection),
        ),
        Case::new("err-list-reports-every-bad-field", "ERR-3", CORE, |ctx| {
            together(ctx, Together::List)
        }),
    ];
    cases.extend(Case::each(
        &Kind::ALL,
        "create-missing-message-reports-every-bad-field",
        "ERR-3",
        CORE,
        |ctx, kind| missing_message(ctx, kind, Missing::Create),
    ));
    cases.extend(Case::each(
        &Kind::ALL,
        "update-missing-message-reports-every-bad-field",
        "ERR-3",
        CORE,
        |ctx, kind| missing_message(ctx, kind, Missing::Update),
    ));
    cases.extend([
        Case::new(
            "err-oversized-request-resource-exhausted",
            "ERR-4",
            CORE,
            oversized,
        ),
        Case::new(
            "err-expired-client-deadline",
            "ERR-5",
            CORE,
            expired_deadline,
        ),
    ]);
    cases
}

/// Whether a code is one the server may use for a client's mistake.
fn client_fault_ok(code: Code) -> bool {
    !matches!(code, Code::Internal | Code::Unknown)
}

async fn empty_requests(ctx: Ctx) -> Check {
    let calls = vec![
        Call::GetDatabase(Default::default()),
        Call::CreateDatabase(Default::default()),
        Call::UpdateDatabase(Default::default()),
        Call::DeleteDatabase(Default::default()),
        Call::ListCollections(Default::default()),
        Call::GetCollection(Default::default()),
        Call::CreateCollection(Default::default()),
        Call::UpdateCollection(Default::default()),
        Call::DeleteCollection(Default::default()),
        Call::ListDocuments(Default::default()),
        Call::GetDocument(Default::default()),
        Call::CreateDocument(Default::default()),
        Call::UpdateDocument(Default::default()),
        Call::DeleteDocument(Default::default()),
    ];
    for call in calls {
        ctx.send(call).await.code(Code::InvalidArgument)?;
    }
    // The one request that is valid when empty: the first page of databases.
    ctx.send(Kind::Database.list("", 0, "")).await.ok()?;
    Ok(())
}

async fn hostile_inputs(ctx: Ctx) -> Check {
    let db = ctx.create(Kind::Database, "", &ctx.id("h"), "H").await?;
    let coll = ctx.create(Kind::Collection, &db.name, "c", "").await?;
    let long = "x".repeat(100_000);
    let deep = format!("{{\"deep\": {}{}}}", "[".repeat(2000), "]".repeat(2000));
    // (request, the violated field, whether a server may also accept it)
    let calls: Vec<(Call, &str, bool)> = vec![
        (
            Kind::Database.get(&format!("{}{long}", db.name)),
            "name",
            false,
        ),
        (
            Kind::Collection.get(&format!("{}/collections/{long}", db.name)),
            "name",
            false,
        ),
        (
            Kind::Document.get(&format!("{}/documents/a\u{0}b", coll.name)),
            "name",
            false,
        ),
        (
            Kind::Collection.list(&db.name, 1, &long),
            "page_token",
            false,
        ),
        (
            Kind::Collection.list(&db.name, 1, "\u{0}\u{1}\u{ff}"),
            "page_token",
            false,
        ),
        // RFC 8259 lets a parser limit nesting depth and refuse lone surrogates.
        (
            Kind::Document.create(&coll.name, "deep", &deep),
            "document.value",
            true,
        ),
        (
            Kind::Document.create(&coll.name, "surrogate", "{\"\\ud800\": 1}"),
            "document.value",
            true,
        ),
        (
            Call::UpdateDocument(pb::UpdateDocumentRequest {
                document: Some(pb::Document {
                    name: format!("{}/documents/d", coll.name),
                    value: "{}".into(),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec![String::new(), long.clone()],
                }),
            }),
            "update_mask",
            false,
        ),
    ];
    for (call, field, may_accept) in calls {
        // Each on its own connection: a server that breaks the connection
        // must not take other cases' requests down with it.
        let exchange = ctx.send_alone(call).await;
        if may_accept && exchange.outcome.is_ok() {
            continue;
        }
        if let Err(status) = &exchange.outcome {
            ensure(
                client_fault_ok(status.code()),
                "a client-fault code (never INTERNAL or UNKNOWN)",
                describe(&exchange.outcome),
            )
            .map_err(|f| f.request(exchange.call.render()))?;
        }
        exchange.invalid(&[field])?;
    }
    Ok(())
}

async fn message_names_field(ctx: Ctx) -> Check {
    let db = ctx.create(Kind::Database, "", &ctx.id("f"), "F").await?;
    let cases: Vec<(Call, &str)> = vec![
        (Kind::Collection.list(&db.name, -5, ""), "page_size"),
        (
            Kind::Database.update(&db.name, "", None),
            "database.display_name",
        ),
        (Kind::Collection.create("nope", "c", ""), "parent"),
    ];
    for (call, field) in cases {
        let status = ctx.send(call).await.invalid(&[field])?;
        ensure(
            status.message().contains(field),
            format!("a message naming {field}"),
            format!("{:?}", status.message()),
        )?;
    }
    Ok(())
}

async fn messages_name_resource(ctx: Ctx) -> Check {
    let (parent, doc) = ctx.fresh(Kind::Document, "{}").await?;
    ctx.send(Kind::Document.create(&parent, doc.id(), "{}"))
        .await
        .already_exists(&doc.name)?;
    let missing = Kind::Document.name(&parent, "nope");
    ctx.send(Kind::Document.update(&missing, "{}", None))
        .await
        .not_found(&missing)?;
    ctx.send(Kind::Document.delete(&missing))
        .await
        .not_found(&missing)?;
    let missing_parent = format!("{}/collections/nope", ctx.db("none"));
    let status = ctx
        .send(Kind::Document.list(&missing_parent, 0, ""))
        .await
        .code(Code::NotFound)?;
    ensure(
        status.message().contains(&ctx.db("none")),
        format!("a message naming {}", ctx.db("none")),
        format!("{:?}", status.message()),
    )
}

/// The message of a refused update mask names the path that was refused,
/// not only `update_mask`: the client needs to know which path to drop.
async fn bad_mask_path_named(ctx: Ctx) -> Check {
    let (_, db) = ctx.fresh(Kind::Database, "D").await?;
    let cases: [(&[&str], &str); 3] = [
        (&["colour"], "colour"),
        (&["*", "display_name"], "*"),
        (&["display_name", "created_at"], "created_at"),
    ];
    for (paths, culprit) in cases {
        let update = Kind::Database.update(&db.name, "E", Some(paths));
        let status = ctx.send(update).await.invalid(&["update_mask"])?;
        ensure(
            status.message().contains(culprit),
            format!("a message naming the refused path {culprit:?}"),
            format!("{:?}", status.message()),
        )?;
    }
    Ok(())
}

#[derive(Clone, Copy, Debug)]
enum Together {
    CreateDocument,
    CreateDatabase,
    UpdateCollection,
    List,
}

async fn together(ctx: Ctx, which: Together) -> Check {
    let (call, fields): (Call, &[&str]) = match which {
        Together::CreateDocument => (
            Call::CreateDocument(pb::CreateDocumentRequest {
                parent: "not/a/parent".into(),
                document_id: "bad id".into(),
                document: Some(pb::Document {
                    value: "[]".into(),
                    ..Default::default()
                }),
            }),
            &["parent", "document_id", "document.value"],
        ),
        Together::CreateDatabase => (
            Kind::Database.create("", &ctx.id("BAD"), ""),
            &["database_id", "database.display_name"],
        ),
        Together::UpdateCollection => (
            Kind::Collection.update("collections/x", &"d".repeat(1025), Some(&["name"])),
            &["collection.name", "collection.description", "update_mask"],
        ),
        Together::List => (
            Kind::Document.list("nope", -1, "bogus!"),
            &["parent", "page_size", "page_token"],
        ),
    };
    ctx.send(call).await.invalid(fields)?;
    Ok(())
}

#[derive(Clone, Copy, Debug)]
enum Missing {
    Create,
    Update,
}

/// A request without its resource message that is wrong elsewhere too: the
/// missing message is one violation among the others, not a reason to stop
/// looking (ERR-3). A create has a bad id (and, below databases, a bad
/// parent); an update has a refused mask path.
async fn missing_message(ctx: Ctx, kind: Kind, which: Missing) -> Check {
    let message = kind.message_field();
    let (call, fields): (Call, Vec<&str>) = match which {
        Missing::Create => {
            let mut fields = vec![message, kind.id_field()];
            if kind != Kind::Database {
                fields.push("parent");
            }
            (kind.create("not/a/parent", "BAD ID", ""), fields)
        }
        Missing::Update => (
            kind.update("", "", Some(&["created_at"])),
            vec![message, "update_mask"],
        ),
    };
    ctx.send(without_message(call)).await.invalid(&fields)?;
    Ok(())
}

/// `call` with its resource message (`database`, `collection`, `document`)
/// removed.
fn without_message(call: Call) -> Call {
    match call {
        Call::CreateDatabase(r) => Call::CreateDatabase(pb::CreateDatabaseRequest {
            database: None,
            ..r
        }),
        Call::CreateCollection(r) => Call::CreateCollection(pb::CreateCollectionRequest {
            collection: None,
            ..r
        }),
        Call::CreateDocument(r) => Call::CreateDocument(pb::CreateDocumentRequest {
            document: None,
            ..r
        }),
        Call::UpdateDatabase(r) => Call::UpdateDatabase(pb::UpdateDatabaseRequest {
            database: None,
            ..r
        }),
        Call::UpdateCollection(r) => Call::UpdateCollection(pb::UpdateCollectionRequest {
            collection: None,
            ..r
        }),
        Call::UpdateDocument(r) => Call::UpdateDocument(pb::UpdateDocumentRequest {
            document: None,
            ..r
        }),
        other => other,
    }
}

async fn oversized(ctx: Ctx) -> Check {
    let parent = ctx.parent_for(Kind::Document).await?;
    let huge = crate::cases::fields::sized_value(5 << 20, 'a');
    let exchange = ctx
        .send_alone(Kind::Document.create(&parent, "huge", &huge))
        .await;
    let status = exchange.clone().err()?;
    match status.code() {
        Code::ResourceExhausted => Ok(()),
        Code::InvalidArgument => exchange.invalid(&["document.value"]).map(drop),
        _ => Err(ctx.fail(
            "RESOURCE_EXHAUSTED (or INVALID_ARGUMENT on document.value)",
            code_name(status.code()),
        )),
    }
}

/// A 1 ns deadline has passed by the time the request arrives. Sent through
/// a client that waits for the target's answer
/// ([`TimerlessDocuments`](crate::target::TimerlessDocuments)) when
/// the target is plaintext; through tonic's channel otherwise, where the
/// client's own timer may answer first and such answers are skipped.
async fn expired_deadline(ctx: Ctx) -> Check {
    let (parent, _) = ctx.fresh(Kind::Document, "{}").await?;
    let timerless = ctx.target().timerless_documents();
    let deadline = Duration::from_nanos(1);
    for _ in 0..20 {
        let call = Kind::Document.list(&parent, 1000, "");
        let exchange = match (&timerless, &call) {
            (Some(client), Call::ListDocuments(request)) => {
                let request = ctx
                    .target()
                    .clients()
                    .with_timeout(deadline)
                    .wrap(request.clone());
                let outcome = client
                    .clone()
                    .list_documents(request)
                    .await
                    .map(|r| Reply::Documents(r.into_inner()));
                Exchange { call, outcome }
            }
            _ => ctx.send_with_timeout(call, deadline).await,
        };
        if let Err(status) = &exchange.outcome {
            if own_timer_fired(status) {
                // Says nothing about the target: no answer had arrived yet.
                continue;
            }
            ensure(
                status.code() == Code::DeadlineExceeded,
                "OK or DEADLINE_EXCEEDED",
                describe(&exchange.outcome),
            )
            .map_err(|f| f.request(exchange.call.render()))?;
        }
    }
    Ok(())
}

/// Whether `status` is the tonic client's own verdict on an expired deadline,
/// not the target's: tonic's channel runs a timer for the deadline it sends
/// and, when that fires before any answer, reports CANCELLED "Timeout
/// expired" itself. Such a status has no metadata at all, since no response
/// headers were received; a status from the target always has some
/// (`content-type` at least).
fn own_timer_fired(status: &tonic::Status) -> bool {
    status.code() == Code::Cancelled
        && status.message() == "Timeout expired"
        && status.metadata().is_empty()
}
