//! TXN-EXEC-1 and -2: Execute buffers operations that nobody sees before
//! Commit, and refuses an operation of the wrong shape (unspecified enums,
//! a name of another database or of the wrong entity) without ending the
//! transaction; ERR-3 on Execute, up to a thousand bad operations.

use tonic::Code;

use super::{begin_ok, fixture};
use crate::{
    check::{Check, ensure, eq},
    ctx::Ctx,
    proto::database::MutationType as M,
    req::{Kind, commit, execute, op, rollback},
};

pub(super) async fn invisible_before_commit(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let doc = format!("{coll}/documents/d");
    let new_coll = format!("{db}/collections/n");
    let ops = vec![
        op(
            M::Create,
            Kind::Collection,
            &new_coll,
            "{\"description\": \"new\"}",
        ),
        op(
            M::Create,
            Kind::Document,
            &format!("{new_coll}/documents/x"),
            "{\"x\": 1}",
        ),
        op(M::Update, Kind::Document, &doc, "{\"v\": 1}"),
    ];
    ctx.send(execute(&db, &txn, ops)).await.ok()?;
    ctx.send(Kind::Collection.get(&new_coll))
        .await
        .not_found(&new_coll)?;
    eq(
        "value before commit",
        "{\"v\": 0}",
        &ctx.get(Kind::Document, &doc).await?.field,
    )?;
    ctx.send(commit(&db, &txn)).await.ok()?;
    eq(
        "description after commit",
        "new",
        &ctx.get(Kind::Collection, &new_coll).await?.field,
    )?;
    eq(
        "value after commit",
        "{\"v\": 1}",
        &ctx.get(Kind::Document, &doc).await?.field,
    )?;
    Ok(())
}

pub(super) async fn unspecified_enums(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let doc = format!("{coll}/documents/e");
    let mut no_mutation = op(M::Create, Kind::Document, &doc, "{}");
    no_mutation.mutation_type = 0;
    let mut no_entity = op(M::Create, Kind::Document, &doc, "{}");
    no_entity.entity_type = 0;
    ctx.send(execute(&db, &txn, vec![no_mutation]))
        .await
        .invalid(&["operations[0].mutation_type"])?;
    ctx.send(execute(&db, &txn, vec![no_entity]))
        .await
        .invalid(&["operations[0].entity_type"])?;
    ctx.send(rollback(&db, &txn)).await.ok()?;
    Ok(())
}

/// A missing transaction id does not hide what is wrong with the
/// operations: the client fixes both in one round trip.
pub(super) async fn every_bad_field(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let doc = format!("{coll}/documents/e");
    let ops = vec![
        op(M::Create, Kind::Document, &doc, "{}"),
        op(M::Create, Kind::Document, &doc, "[1]"),
    ];
    ctx.send(execute(&db, "", ops))
        .await
        .invalid(&["transaction_id", "operations[1].value"])?;
    Ok(())
}

/// How each of a thousand operations is malformed.
#[derive(Clone, Copy)]
pub(super) enum Malformed {
    /// No mutation type: a short violation, plain ASCII.
    MutationUnset,
    /// A name of 150 emoji: a violation that quotes four-byte characters,
    /// so a server that cuts its message cuts inside text that is mostly
    /// multi-byte, and must cut on a character boundary.
    EmojiName,
}

/// A thousand malformed operations make a thousand violations, far more
/// than HTTP/2 trailers hold: the answer must still arrive, as
/// INVALID_ARGUMENT naming operations, and say how many it left out.
pub(super) async fn thousand_bad_operations(ctx: Ctx, malformed: Malformed) -> Check {
    const BAD: usize = 1000;
    let (db, coll) = fixture(&ctx).await?;
    let ops = (0..BAD)
        .map(|i| match malformed {
            Malformed::MutationUnset => {
                let mut bad = op(
                    M::Create,
                    Kind::Document,
                    &format!("{coll}/documents/é{i}"),
                    "{}",
                );
                bad.mutation_type = 0;
                bad
            }
            Malformed::EmojiName => op(
                M::Create,
                Kind::Document,
                &format!("{}{i}", "\u{1F600}".repeat(150)),
                "{}",
            ),
        })
        .collect();
    // Its own connection: a status too large for the trailers would reset
    // it, and must not take other cases' requests down with it.
    let exchange = ctx.send_alone(execute(&db, "", ops)).await;
    let status = exchange.clone().code(Code::InvalidArgument)?;
    let fields = crate::check::violation_fields(&status);
    let ops_reported = fields
        .iter()
        .filter(|f| f.starts_with("operations["))
        .count();
    ensure(
        ops_reported > 0 && fields.iter().any(|f| f == "transaction_id"),
        "violations on transaction_id and on operations[i]",
        format!("{fields:?}"),
    )?;
    let left_out = BAD - ops_reported;
    if left_out > 0 {
        let numbers: Vec<&str> = status
            .message()
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .collect();
        ensure(
            numbers.contains(&left_out.to_string().as_str()),
            format!("a message saying that {left_out} violations were left out"),
            format!("{:?}", status.message()),
        )?;
    }
    Ok(())
}

pub(super) async fn name_in_other_database(ctx: Ctx) -> Check {
    let (db, _) = fixture(&ctx).await?;
    let (_, other_coll) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let ops = vec![
        op(
            M::Create,
            Kind::Document,
            &format!("{db}/collections/c/documents/ok"),
            "{}",
        ),
        op(
            M::Create,
            Kind::Document,
            &format!("{other_coll}/documents/x"),
            "{}",
        ),
    ];
    ctx.send(execute(&db, &txn, ops))
        .await
        .invalid(&["operations[1].name"])?;
    ctx.send(rollback(&db, &txn)).await.ok()?;
    Ok(())
}

pub(super) async fn name_of_wrong_entity(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    for (kind, name) in [
        (Kind::Document, coll.clone()),
        (Kind::Collection, format!("{coll}/documents/d")),
        (Kind::Document, "not a name".to_owned()),
    ] {
        let ops = vec![op(M::Delete, kind, &name, "")];
        ctx.send(execute(&db, &txn, ops))
            .await
            .invalid(&["operations[0].name"])?;
    }
    ctx.send(rollback(&db, &txn)).await.ok()?;
    Ok(())
}

pub(super) async fn rejected_keeps_open(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let good = op(
        M::Create,
        Kind::Document,
        &format!("{coll}/documents/good"),
        "{\"g\": 1}",
    );
    let bad = op(
        M::Create,
        Kind::Document,
        &format!("{coll}/documents/bad"),
        "not json",
    );
    ctx.send(execute(&db, &txn, vec![bad]))
        .await
        .invalid(&["operations[0].value"])?;
    ctx.send(execute(&db, &txn, vec![good])).await.ok()?;
    ctx.send(commit(&db, &txn)).await.ok()?;
    ctx.get(Kind::Document, &format!("{coll}/documents/good"))
        .await?;
    let bad_name = format!("{coll}/documents/bad");
    ctx.send(Kind::Document.get(&bad_name))
        .await
        .not_found(&bad_name)?;
    Ok(())
}
