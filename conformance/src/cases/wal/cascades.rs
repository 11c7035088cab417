//! WAL-4 and WAL-5: one write, many entries: a cascade delete logs every
//! resource it removed, and a transaction's entries share one timestamp.

use super::{entry_name, fixture, ours};
use crate::{
    check::{Check, eq},
    ctx::Ctx,
    proto::database::MutationType as M,
    report::time::rfc3339,
    req::{Kind, commit, execute, op},
};

/// How a cascade is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cascade {
    /// DeleteDatabase.
    Database,
    /// DeleteCollection.
    Collection,
    /// A transaction whose one operation deletes a collection.
    TransactionCollection,
}

/// Fills a database with two collections of two documents, deletes the
/// database or its first collection, and reads the delete entries: exactly
/// one per resource removed, whatever started the cascade.
pub(super) async fn cascade_entries(ctx: Ctx, how: Cascade) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let other = ctx.create(Kind::Collection, &db.name, "e", "").await?;
    for c in [&coll, &other.name] {
        for d in ["x", "y"] {
            ctx.create(Kind::Document, c, d, "{}").await?;
        }
    }
    let last = ctx
        .get(Kind::Document, &format!("{}/documents/y", other.name))
        .await?;
    let mut want = vec![coll.clone()];
    match how {
        Cascade::Database => {
            ctx.send(Kind::Database.delete(&db.name)).await.ok()?;
            ctx.forget(&db.name);
            want.extend([db.name.clone(), other.name.clone()]);
            for d in ["x", "y"] {
                want.push(format!("{}/documents/{d}", other.name));
            }
        }
        Cascade::Collection => {
            ctx.send(Kind::Collection.delete(&coll)).await.ok()?;
        }
        Cascade::TransactionCollection => {
            let txn = crate::cases::transactions::begin_ok(&ctx, &db.name).await?;
            let ops = vec![op(M::Delete, Kind::Collection, &coll, "")];
            ctx.send(execute(&db.name, &txn, ops)).await.ok()?;
            ctx.send(commit(&db.name, &txn)).await.ok()?;
        }
    }
    for d in ["x", "y"] {
        want.push(format!("{coll}/documents/{d}"));
    }
    want.sort();
    let got = ours(&ctx, last.created_at, &db.name).await?;
    let mut deleted: Vec<String> = got
        .iter()
        .filter(|e| e.operation_type == M::Delete as i32)
        .map(entry_name)
        .collect();
    deleted.sort();
    eq("one delete entry per resource", &want, &deleted)
}

pub(super) async fn transaction_timestamp(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let txn = crate::cases::transactions::begin_ok(&ctx, &db.name).await?;
    let ops = vec![
        op(
            M::Create,
            Kind::Document,
            &format!("{coll}/documents/a"),
            "{}",
        ),
        op(
            M::Create,
            Kind::Document,
            &format!("{coll}/documents/b"),
            "{}",
        ),
        op(
            M::Update,
            Kind::Collection,
            &coll,
            "{\"description\": \"t\"}",
        ),
    ];
    ctx.send(execute(&db.name, &txn, ops)).await.ok()?;
    ctx.send(commit(&db.name, &txn)).await.ok()?;
    let a = ctx
        .get(Kind::Document, &format!("{coll}/documents/a"))
        .await?;
    let got = ours(&ctx, a.created_at, &db.name).await?;
    eq("entries of the transaction", &3, &got.len())?;
    let times: Vec<_> = got.iter().map(|e| rfc3339(e.timestamp.as_ref())).collect();
    eq(
        "their timestamps",
        &vec![rfc3339(a.created_at.as_ref()); 3],
        &times,
    )
}
