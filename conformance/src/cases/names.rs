//! Names and ids: strict patterns, alphabets, lengths, `.` and `..`, case.

use tonic::Code;

use crate::{
    call::Call,
    case::{Case, Tag},
    check::{Check, eq},
    ctx::Ctx,
    proto::database as pb,
    req::{Kind, create_document},
};

const CORE: &[Tag] = &[Tag::Core];

/// Cases about names and ids.
pub fn cases() -> Vec<Case> {
    const ALL: &[Kind] = &Kind::ALL;
    const CHILDREN: &[Kind] = &[Kind::Collection, Kind::Document];
    let mut cases = Vec::new();
    for (name, site) in [
        ("get-malformed-names", Use::Get),
        ("update-malformed-names", Use::Update),
        ("delete-malformed-names", Use::Delete),
    ] {
        cases.extend(Case::each(ALL, name, "NAME-1", CORE, move |ctx, kind| {
            malformed(ctx, kind, site)
        }));
    }
    for (name, site) in [
        ("create-malformed-parent", Use::CreateParent),
        ("list-malformed-parent", Use::ListParent),
    ] {
        cases.extend(Case::each(
            CHILDREN,
            name,
            "NAME-1",
            CORE,
            move |ctx, kind| malformed(ctx, kind, site),
        ));
    }
    cases.extend(Case::each(
        CHILDREN,
        "create-invalid-ids",
        "NAME-3",
        CORE,
        invalid_ids,
    ));
    cases.extend(Case::each(
        CHILDREN,
        "id-of-64-characters",
        "NAME-3",
        CORE,
        id_of_64,
    ));
    cases.extend(Case::each(
        CHILDREN,
        "dot-and-dot-dot-ids",
        "NAME-4",
        CORE,
        dot_ids,
    ));
    cases.extend(Case::each(
        CHILDREN,
        "ids-are-case-sensitive",
        "NAME-6",
        CORE,
        case_sensitive,
    ));
    cases.extend(Case::each(
        &[Kind::Database],
        "create-invalid-ids",
        "NAME-2",
        CORE,
        invalid_ids,
    ));
    cases.extend(Case::each(
        &[Kind::Database],
        "id-of-64-characters",
        "NAME-2",
        CORE,
        id_of_64,
    ));
    cases.push(Case::new(
        "db-id-with-dots-and-dashes",
        "NAME-2",
        CORE,
        db_id_punctuation,
    ));
    cases.push(Case::new(
        "doc-generated-ids-differ",
        "NAME-5",
        CORE,
        generated_ids_differ,
    ));
    cases
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Use {
    Get,
    Update,
    Delete,
    CreateParent,
    ListParent,
}

/// Names that miss their pattern by one detail. All mention the case's
/// namespace, so a lenient server would at worst touch the run's own data.
fn malformed_names(ctx: &Ctx, kind: Kind) -> Vec<String> {
    let db = ctx.db("m");
    let upper = format!("databases/{}", ctx.id("m").to_uppercase());
    match kind {
        Kind::Database => vec![
            String::new(),
            "databases/".into(),
            "databases".into(),
            db.replacen("databases/", "database/", 1),
            db.replacen("databases/", "Databases/", 1),
            format!("/{db}"),
            format!("{db}/"),
            format!("{db} "),
            upper,
            format!("{db}/collections/c"),
            format!("{db}é"),
        ],
        Kind::Collection => vec![
            db.clone(),
            format!("{db}/collections"),
            format!("{db}/collections/"),
            format!("{db}/collection/c"),
            format!("{db}/collections/c/"),
            format!("{db}/collections/c d"),
            format!("{db}/collections/c/documents/d"),
            format!("{upper}/collections/c"),
            "databases//collections/c".into(),
            format!("{db}/collections/c%2Fd"),
        ],
        Kind::Document => vec![
            format!("{db}/collections/c"),
            format!("{db}/collections/c/documents"),
            format!("{db}/collections/c/documents/"),
            format!("{db}/collections/c/document/d"),
            format!("{db}/collections/c/documents/d/"),
            format!("{db}/collections/c/documents/d/e"),
            format!("{db}/collections/c/documents/d d"),
            format!("{db}/collections//documents/d"),
            format!("{upper}/collections/c/documents/d"),
        ],
    }
}

async fn malformed(ctx: Ctx, kind: Kind, site: Use) -> Check {
    // The database exists, so a lenient parser would find something.
    ctx.create(Kind::Database, "", &ctx.id("m"), "M").await?;
    ctx.create(Kind::Collection, &ctx.db("m"), "c", "").await?;
    let (names, target_kind) = match site {
        Use::CreateParent | Use::ListParent => {
            // Malformed parents of `kind` are malformed names of its parent kind.
            let parent_kind = if kind == Kind::Document {
                Kind::Collection
            } else {
                Kind::Database
            };
            (malformed_names(&ctx, parent_kind), kind)
        }
        _ => (malformed_names(&ctx, kind), kind),
    };
    for name in names {
        let (call, field) = match site {
            Use::Get => (target_kind.get(&name), "name".to_owned()),
            Use::Delete => (target_kind.delete(&name), "name".to_owned()),
            Use::Update => (
                target_kind.update(&name, &target_kind.sample(1), None),
                format!("{}.name", target_kind.message_field()),
            ),
            Use::CreateParent => (
                target_kind.create(&name, "x", &target_kind.sample(1)),
                "parent".to_owned(),
            ),
            Use::ListParent => (target_kind.list(&name, 0, ""), "parent".to_owned()),
        };
        ctx.send(call).await.invalid(&[&field])?;
    }
    Ok(())
}

async fn invalid_ids(ctx: Ctx, kind: Kind) -> Check {
    let parent = ctx.parent_for(kind).await?;
    let mut ids: Vec<String> = ["a b", "a/b", "é", "a:b", "a\u{0}b", "a%b", "tab\t"]
        .into_iter()
        .map(String::from)
        .collect();
    match kind {
        Kind::Database => {
            ids.push("Upper".into());
            ids.push("x".repeat(65 - ctx.ns().len()));
        }
        _ => ids.push("x".repeat(65)),
    }
    for local in ids {
        let id = ctx.id_for(kind, &local);
        ctx.send(kind.create(&parent, &id, &kind.sample(1)))
            .await
            .invalid(&[kind.id_field()])?;
    }
    // The document id in the body is checked the same way.
    if kind == Kind::Document {
        let call = Call::CreateDocument(pb::CreateDocumentRequest {
            parent: parent.clone(),
            document_id: String::new(),
            document: Some(pb::Document {
                id: "a b".into(),
                value: "{}".into(),
                ..Default::default()
            }),
        });
        ctx.send(call).await.invalid(&["document.id"])?;
    }
    let listed = ctx.list_all(kind, &parent, 0).await?;
    if kind != Kind::Database {
        eq("items after rejected creates", &0, &listed.len())?;
    }
    Ok(())
}

async fn id_of_64(ctx: Ctx, kind: Kind) -> Check {
    let parent = ctx.parent_for(kind).await?;
    let id = match kind {
        Kind::Database => ctx.id(&"x".repeat(64 - ctx.ns().len())),
        _ => "X".repeat(63) + "y",
    };
    let res = ctx.create(kind, &parent, &id, &kind.sample(1)).await?;
    eq("name", &kind.name(&parent, &id), &res.name)?;
    ctx.get(kind, &res.name).await?;
    Ok(())
}

async fn dot_ids(ctx: Ctx, kind: Kind) -> Check {
    let parent = ctx.parent_for(kind).await?;
    for id in [".", "..", "...", "-", "_"] {
        let res = ctx.create(kind, &parent, id, &kind.sample(1)).await?;
        eq("name", &kind.name(&parent, id), &res.name)?;
    }
    let got = ctx.get(kind, &kind.name(&parent, "..")).await?;
    eq("name", &kind.name(&parent, ".."), &got.name)?;
    // `..` did not climb: the parent still lists exactly these five.
    let listed = ctx.list_all(kind, &parent, 0).await?;
    eq("items", &5, &listed.len())?;
    ctx.send(kind.delete(&kind.name(&parent, "..")))
        .await
        .ok()?;
    ctx.get(kind, &kind.name(&parent, ".")).await?;
    Ok(())
}

async fn case_sensitive(ctx: Ctx, kind: Kind) -> Check {
    let parent = ctx.parent_for(kind).await?;
    let lower = ctx.create(kind, &parent, "orders", &kind.sample(1)).await?;
    let upper = ctx.create(kind, &parent, "Orders", &kind.sample(2)).await?;
    eq(
        "the lower-case one",
        &lower,
        &ctx.get(kind, &lower.name).await?,
    )?;
    eq(
        "the upper-case one",
        &upper,
        &ctx.get(kind, &upper.name).await?,
    )?;
    ctx.send(kind.get(&kind.name(&parent, "ORDERS")))
        .await
        .code(Code::NotFound)?;
    Ok(())
}

async fn db_id_punctuation(ctx: Ctx) -> Check {
    for local in ["a.b", "a_b", "a-b", "9", "..x"] {
        let id = ctx.id(local);
        let db = ctx.create(Kind::Database, "", &id, "Punctuated").await?;
        eq("name", &format!("databases/{id}"), &db.name)?;
    }
    Ok(())
}

async fn generated_ids_differ(ctx: Ctx) -> Check {
    let parent = ctx.parent_for(Kind::Document).await?;
    let calls = (0..16)
        .map(|n| create_document(&parent, "", &format!("{{\"n\":{n}}}")))
        .collect();
    let mut names = Vec::new();
    for exchange in ctx.send_all(calls).await {
        let doc = crate::req::Res::from_reply(exchange.ok()?)?;
        names.push(doc.name);
    }
    names.sort();
    names.dedup();
    eq("distinct generated names", &16, &names.len())?;
    Ok(())
}
