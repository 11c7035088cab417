//! Cascades: deleting a database or collection deletes what it holds, a
//! re-created one starts empty, and deleting a document leaves its siblings.

use tonic::Code;

use crate::{
    case::{Case, LISTING, Tag},
    check::{Check, eq},
    ctx::Ctx,
    req::{Kind, create_document},
};

const CORE: &[Tag] = &[Tag::Core];

/// Cases about cascades.
pub fn cases() -> Vec<Case> {
    vec![
        Case::new("db-delete-cascades", "DB-DELETE-3", CORE, |ctx| {
            cascade(ctx, Kind::Database)
        })
        .relies_on(LISTING),
        Case::new("coll-delete-cascades", "COLL-DELETE-3", CORE, |ctx| {
            cascade(ctx, Kind::Collection)
        })
        .relies_on(LISTING),
        Case::new("db-recreated-starts-empty", "DB-DELETE-3", CORE, |ctx| {
            recreated_starts_empty(ctx, Kind::Database)
        }),
        Case::new(
            "coll-recreated-starts-empty",
            "COLL-DELETE-3",
            CORE,
            |ctx| recreated_starts_empty(ctx, Kind::Collection),
        ),
        Case::new(
            "doc-delete-leaves-siblings",
            "DOC-DELETE-1",
            CORE,
            delete_leaves_siblings,
        ),
    ]
}

async fn cascade(ctx: Ctx, kind: Kind) -> Check {
    let db = ctx
        .create(Kind::Database, "", &ctx.id("tree"), "Tree")
        .await?;
    for c in ["c1", "c2"] {
        let coll = ctx.create(Kind::Collection, &db.name, c, "").await?;
        for d in ["d1", "d2", "d3"] {
            ctx.create(Kind::Document, &coll.name, d, "{}").await?;
        }
    }
    let doomed = match kind {
        Kind::Database => db.name.clone(),
        _ => format!("{}/collections/c1", db.name),
    };
    ctx.send(kind.delete(&doomed)).await.ok()?;
    ctx.forget(&doomed);
    // Children and grandchildren are gone.
    let doc = format!("{}/collections/c1/documents/d1", db.name);
    ctx.send(Kind::Document.get(&doc))
        .await
        .code(Code::NotFound)?;
    if kind == Kind::Database {
        ctx.send(Kind::Collection.get(&format!("{}/collections/c2", db.name)))
            .await
            .code(Code::NotFound)?;
    } else {
        eq(
            "documents of the sibling",
            &3,
            &ctx.list_all(Kind::Document, &format!("{}/collections/c2", db.name), 0)
                .await?
                .len(),
        )?;
    }
    // Re-created under the same name, it starts empty.
    match kind {
        Kind::Database => {
            ctx.create(Kind::Database, "", &ctx.id("tree"), "Tree again")
                .await?;
            ctx.create(Kind::Collection, &db.name, "c1", "").await?;
        }
        _ => {
            ctx.create(Kind::Collection, &db.name, "c1", "").await?;
        }
    }
    let coll = format!("{}/collections/c1", db.name);
    eq(
        "documents after re-creating",
        &0,
        &ctx.list_all(Kind::Document, &coll, 0).await?.len(),
    )?;
    if kind == Kind::Database {
        eq(
            "collections after re-creating",
            &1,
            &ctx.list_all(Kind::Collection, &db.name, 0).await?.len(),
        )?;
    }
    ctx.send(Kind::Document.get(&doc))
        .await
        .code(Code::NotFound)?;
    Ok(())
}

async fn delete_leaves_siblings(ctx: Ctx) -> Check {
    let parent = ctx.parent_for(Kind::Document).await?;
    for id in ["a", "b", "c"] {
        ctx.send(create_document(&parent, id, "{}")).await.ok()?;
    }
    ctx.send(Kind::Document.delete(&Kind::Document.name(&parent, "b")))
        .await
        .ok()?;
    // Read the siblings one by one rather than listing them: the clause is
    // about the delete, and a broken listing must not be blamed on it.
    for id in ["a", "c"] {
        ctx.get(Kind::Document, &Kind::Document.name(&parent, id))
            .await?;
    }
    let b = Kind::Document.name(&parent, "b");
    ctx.send(Kind::Document.get(&b)).await.not_found(&b)?;
    Ok(())
}

/// Deletes a filled tree, re-creates the deleted resource under the same
/// name, and reads what it held before by name: each must be NOT_FOUND. The
/// cascade case above checks the same end state after many other steps; this
/// one reaches it on its own, so an earlier deviation cannot hide it.
async fn recreated_starts_empty(ctx: Ctx, kind: Kind) -> Check {
    let db = ctx
        .create(Kind::Database, "", &ctx.id("again"), "Again")
        .await?;
    let coll = ctx.create(Kind::Collection, &db.name, "c", "").await?;
    let doc = ctx.create(Kind::Document, &coll.name, "d", "{}").await?;
    match kind {
        Kind::Database => {
            ctx.send(Kind::Database.delete(&db.name)).await.ok()?;
            ctx.create(Kind::Database, "", &ctx.id("again"), "Again")
                .await?;
            ctx.send(Kind::Collection.get(&coll.name))
                .await
                .not_found(&coll.name)?;
            ctx.create(Kind::Collection, &db.name, "c", "").await?;
        }
        _ => {
            ctx.send(Kind::Collection.delete(&coll.name)).await.ok()?;
            ctx.create(Kind::Collection, &db.name, "c", "").await?;
        }
    }
    ctx.send(Kind::Document.get(&doc.name))
        .await
        .not_found(&doc.name)?;
    Ok(())
}
