//! Field limits and document specifics: display names, descriptions, JSON
//! values stored verbatim, ids in the body, `id` input only.

use tonic::Code;

use crate::{
    call::Call,
    case::{Case, Tag},
    check::{Check, ensure, eq},
    ctx::Ctx,
    proto::database as pb,
    req::{Kind, Res},
};

const CORE: &[Tag] = &[Tag::Core];

/// Cases about fields and documents.
pub fn cases() -> Vec<Case> {
    vec![
        Case::new("db-display-name-empty-rejected", "FIELD-1", CORE, |ctx| {
            field_rejected(ctx, Kind::Database, String::new(), Op::Create)
        }),
        Case::new(
            "db-display-name-256-characters-rejected",
            "FIELD-1",
            CORE,
            |ctx| field_rejected(ctx, Kind::Database, "n".repeat(256), Op::Create),
        ),
        Case::new(
            "db-update-display-name-empty-rejected",
            "FIELD-1",
            CORE,
            |ctx| field_rejected(ctx, Kind::Database, String::new(), Op::Update),
        ),
        Case::new(
            "db-display-name-255-wide-characters-accepted",
            "FIELD-1",
            CORE,
            |ctx| field_accepted(ctx, Kind::Database, "é".repeat(254) + "😀"),
        ),
        Case::new(
            "coll-description-1025-characters-rejected",
            "FIELD-2",
            CORE,
            |ctx| field_rejected(ctx, Kind::Collection, "d".repeat(1025), Op::Create),
        ),
        Case::new(
            "coll-update-description-too-long-rejected",
            "FIELD-2",
            CORE,
            |ctx| field_rejected(ctx, Kind::Collection, "d".repeat(1025), Op::Update),
        ),
        Case::new(
            "coll-description-1024-wide-characters-accepted",
            "FIELD-2",
            CORE,
            |ctx| field_accepted(ctx, Kind::Collection, "ü".repeat(1024)),
        ),
        Case::new(
            "coll-description-may-be-empty",
            "COLL-CREATE-1",
            CORE,
            |ctx| field_accepted(ctx, Kind::Collection, String::new()),
        ),
        Case::new("doc-value-must-be-an-object", "FIELD-3", CORE, |ctx| {
            values_rejected(ctx, NOT_OBJECTS, Op::Create)
        }),
        Case::new("doc-value-must-be-well-formed", "FIELD-3", CORE, |ctx| {
            values_rejected(ctx, MALFORMED, Op::Create)
        }),
        Case::new(
            "doc-update-value-must-be-an-object",
            "FIELD-3",
            CORE,
            |ctx| values_rejected(ctx, NOT_OBJECTS, Op::Update),
        ),
        Case::new(
            "doc-update-value-must-be-well-formed",
            "FIELD-3",
            CORE,
            |ctx| values_rejected(ctx, MALFORMED, Op::Update),
        ),
        Case::new(
            "doc-value-any-object-accepted",
            "FIELD-3",
            CORE,
            any_object_accepted,
        ),
        Case::new("doc-value-empty-rejected", "FIELD-4", CORE, |ctx| {
            field_rejected(ctx, Kind::Document, String::new(), Op::Create)
        }),
        Case::new(
            "doc-value-4097-characters-rejected",
            "FIELD-4",
            CORE,
            |ctx| field_rejected(ctx, Kind::Document, sized_value(4097, 'a'), Op::Create),
        ),
        Case::new(
            "doc-value-4096-wide-characters-accepted",
            "FIELD-4",
            CORE,
            |ctx| field_accepted(ctx, Kind::Document, sized_value(4096, 'é')),
        ),
        Case::new(
            "doc-update-value-too-long-rejected",
            "FIELD-4",
            CORE,
            |ctx| field_rejected(ctx, Kind::Document, sized_value(4097, 'a'), Op::Update),
        ),
        Case::new("doc-id-is-input-only", "FIELD-5", CORE, id_is_input_only),
        Case::new(
            "doc-create-id-from-document-id",
            "DOC-CREATE-2",
            CORE,
            |ctx| id_choice(ctx, "a", "", Ok("a")),
        ),
        Case::new("doc-create-id-from-body-id", "DOC-CREATE-2", CORE, |ctx| {
            id_choice(ctx, "", "b", Ok("b"))
        }),
        Case::new(
            "doc-create-same-ids-accepted",
            "DOC-CREATE-2",
            CORE,
            |ctx| id_choice(ctx, "c", "c", Ok("c")),
        ),
        Case::new(
            "doc-create-conflicting-ids-rejected",
            "DOC-CREATE-2",
            CORE,
            |ctx| id_choice(ctx, "a", "b", Err("document.id")),
        ),
        Case::new("doc-create-verbatim-value", "DOC-CREATE-3", CORE, |ctx| {
            verbatim(ctx, Op::Create)
        }),
        Case::new("doc-update-verbatim-value", "DOC-UPDATE-1", CORE, |ctx| {
            verbatim(ctx, Op::Update)
        }),
        Case::new("coll-create-parent-missing", "COLL-CREATE-4", CORE, |ctx| {
            parent_missing(ctx, Kind::Collection, false)
        }),
        Case::new(
            "doc-create-collection-missing",
            "DOC-CREATE-4",
            CORE,
            |ctx| parent_missing(ctx, Kind::Document, false),
        ),
        Case::new("doc-create-database-missing", "DOC-CREATE-4", CORE, |ctx| {
            parent_missing(ctx, Kind::Document, true)
        }),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Create,
    Update,
}

const NOT_OBJECTS: &[&str] = &["[]", "[{}]", "1", "\"text\"", "null", "true", "  "];
const MALFORMED: &[&str] = &[
    "{",
    "{} {}",
    "{'a': 1}",
    "{\"a\": 1,}",
    "{\"a\": 01}",
    "{a: 1}",
    "{\"a\": \"\u{1}\"}",
    "{\"a\": NaN}",
    "{\"a\": 1}x",
];

/// A JSON object of exactly `chars` characters, filled with `fill`.
pub fn sized_value(chars: usize, fill: char) -> String {
    let body: String = std::iter::repeat_n(fill, chars - 9).collect();
    format!("{{\"k\": \"{body}\"}}")
}

async fn field_rejected(ctx: Ctx, kind: Kind, value: String, op: Op) -> Check {
    let field = format!("{}.{}", kind.message_field(), kind.mutable_field());
    match op {
        Op::Create => {
            let parent = ctx.parent_for(kind).await?;
            let id = ctx.id_for(kind, "x");
            ctx.send(kind.create(&parent, &id, &value))
                .await
                .invalid(&[&field])?;
            ctx.send(kind.get(&kind.name(&parent, &id)))
                .await
                .code(Code::NotFound)?;
        }
        Op::Update => {
            let (_, res) = ctx.fresh(kind, &kind.sample(1)).await?;
            ctx.send(kind.update(&res.name, &value, None))
                .await
                .invalid(&[&field])?;
            eq(
                "the unchanged resource",
                &res,
                &ctx.get(kind, &res.name).await?,
            )?;
        }
    }
    Ok(())
}

async fn field_accepted(ctx: Ctx, kind: Kind, value: String) -> Check {
    let (_, res) = ctx.fresh(kind, &value).await?;
    eq(kind.mutable_field(), &value, &res.field)?;
    let got = ctx.get(kind, &res.name).await?;
    eq(kind.mutable_field(), &value, &got.field)?;
    let updated = Res::from_reply(ctx.send(kind.update(&res.name, &value, None)).await.ok()?)?;
    eq(kind.mutable_field(), &value, &updated.field)
}

async fn values_rejected(ctx: Ctx, values: &'static [&'static str], op: Op) -> Check {
    for value in values {
        field_rejected(ctx.clone(), Kind::Document, (*value).to_owned(), op).await?;
    }
    Ok(())
}

async fn any_object_accepted(ctx: Ctx) -> Check {
    let parent = ctx.parent_for(Kind::Document).await?;
    let values = [
        "{}",
        "{\"nested\": {\"a\": [1, 2.5, -0, 1e999, null, true, false, \"s\"]}}",
        "{\"dup\": 1, \"dup\": 2}",
        "\t{\"lead\": \"and trail\"}\n ",
        "{\"\\u00e9\\ud83d\\ude00\": \"\\\"quoted\\\" \\\\ \\/\"}",
        "{\"k\":\"ключ 🔑\"}",
    ];
    for (i, value) in values.iter().enumerate() {
        let doc = ctx
            .create(Kind::Document, &parent, &format!("v{i}"), value)
            .await?;
        eq("value", &(*value).to_owned(), &doc.field)?;
    }
    Ok(())
}

async fn id_is_input_only(ctx: Ctx) -> Check {
    let parent = ctx.parent_for(Kind::Document).await?;
    let call = Call::CreateDocument(pb::CreateDocumentRequest {
        parent: parent.clone(),
        document_id: "d".into(),
        document: Some(pb::Document {
            id: "d".into(),
            value: "{}".into(),
            ..Default::default()
        }),
    });
    let created = Res::from_reply(ctx.send(call).await.ok()?)?;
    eq("id in the Create response", "", &created.id)?;
    eq(
        "id in the Get response",
        "",
        &ctx.get(Kind::Document, &created.name).await?.id,
    )?;
    let updated = Res::from_reply(
        ctx.send(Kind::Document.update(&created.name, "{\"x\":1}", None))
            .await
            .ok()?,
    )?;
    eq("id in the Update response", "", &updated.id)?;
    let page = ctx.page(Kind::Document, &parent, 0, "").await?;
    ensure(
        !page.items.is_empty(),
        "a non-empty listing",
        "an empty one",
    )?;
    for item in page.items {
        eq("id in the List response", "", &item.id)?;
    }
    Ok(())
}

async fn id_choice(ctx: Ctx, document_id: &str, body_id: &str, want: Result<&str, &str>) -> Check {
    let parent = ctx.parent_for(Kind::Document).await?;
    let call = Call::CreateDocument(pb::CreateDocumentRequest {
        parent: parent.clone(),
        document_id: document_id.into(),
        document: Some(pb::Document {
            id: body_id.into(),
            value: "{\"id\": \"choice\"}".into(),
            ..Default::default()
        }),
    });
    match want {
        Ok(id) => {
            let doc = Res::from_reply(ctx.send(call).await.ok()?)?;
            eq("name", &Kind::Document.name(&parent, id), &doc.name)?;
        }
        Err(field) => {
            ctx.send(call).await.invalid(&[field])?;
            eq(
                "documents",
                &0,
                &ctx.list_all(Kind::Document, &parent, 0).await?.len(),
            )?;
        }
    }
    Ok(())
}

/// JSON that a re-serialising server would change.
const VERBATIM: &[&str] = &[
    "{\"b\": 1,  \"a\": 2}",
    "{\n  \"pretty\": [\n    1,\n    2\n  ]\n}\n",
    "{\"n\": 1.0e+2, \"m\": -0.000, \"big\": 123456789012345678901234567890}",
    "{\"dup\": 1, \"dup\": 2}",
    "{\"esc\": \"\\u00e9\\/\\t\", \"raw\": \"é\"}",
    "  {}  ",
];

async fn verbatim(ctx: Ctx, op: Op) -> Check {
    let parent = ctx.parent_for(Kind::Document).await?;
    for (i, value) in VERBATIM.iter().enumerate() {
        let id = format!("v{i}");
        let written = match op {
            Op::Create => ctx.create(Kind::Document, &parent, &id, value).await?,
            Op::Update => {
                let doc = ctx.create(Kind::Document, &parent, &id, "{}").await?;
                Res::from_reply(
                    ctx.send(Kind::Document.update(&doc.name, value, None))
                        .await
                        .ok()?,
                )?
            }
        };
        eq(
            "value in the response",
            &(*value).to_owned(),
            &written.field,
        )?;
        let got = ctx.get(Kind::Document, &written.name).await?;
        eq("value read back", &(*value).to_owned(), &got.field)?;
    }
    let listed = ctx.list_all(Kind::Document, &parent, 0).await?;
    for (item, value) in listed.iter().zip(VERBATIM) {
        eq("value in the listing", &(*value).to_owned(), &item.field)?;
    }
    Ok(())
}

async fn parent_missing(ctx: Ctx, kind: Kind, database_missing: bool) -> Check {
    let parent = match (kind, database_missing) {
        (Kind::Collection, _) => ctx.db("absent"),
        (_, true) => format!("{}/collections/c", ctx.db("absent")),
        _ => {
            let db = ctx.create(Kind::Database, "", &ctx.id("p"), "P").await?;
            format!("{}/collections/absent", db.name)
        }
    };
    ctx.send(kind.create(&parent, "x", &kind.sample(1)))
        .await
        .code(Code::NotFound)?;
    // No implicit parent was created.
    let parent_kind = if kind == Kind::Collection {
        Kind::Database
    } else {
        Kind::Collection
    };
    ctx.send(parent_kind.get(&parent))
        .await
        .not_found(&parent)?;
    Ok(())
}
