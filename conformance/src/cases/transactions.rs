//! TransactionService: buffered operations, all-or-nothing commits, and the
//! life cycle of a transaction id.

use tonic::Code;

use std::time::Duration;

use crate::{
    call::{Call, Reply},
    case::{Case, Need, Tag},
    check::{Check, ensure, eq},
    ctx::Ctx,
    proto::database::MutationType as M,
    req::{Kind, begin, commit, execute, op, rollback},
};

const TXN: &[Tag] = &[Tag::Transactions];

/// Cases about transactions.
pub fn cases() -> Vec<Case> {
    vec![
        Case::new(
            "txn-begin-returns-opaque-ids",
            "TXN-BEGIN-1",
            TXN,
            begin_ids,
        ),
        Case::new(
            "txn-begin-missing-database",
            "TXN-BEGIN-2",
            TXN,
            begin_missing,
        ),
        Case::new(
            "txn-begin-malformed-database-name",
            "TXN-BEGIN-2",
            TXN,
            begin_malformed,
        ),
        Case::new(
            "txn-empty-requests-are-invalid-argument",
            "ERR-1",
            TXN,
            empty_requests,
        ),
        Case::new(
            "txn-execute-invisible-before-commit",
            "TXN-EXEC-1",
            TXN,
            invisible_before_commit,
        ),
        Case::new(
            "txn-execute-rejects-unspecified-enums",
            "TXN-EXEC-2",
            TXN,
            unspecified_enums,
        ),
        Case::new(
            "txn-execute-reports-every-bad-field",
            "ERR-3",
            TXN,
            every_bad_field,
        ),
        Case::new(
            "txn-execute-thousand-bad-operations-answered",
            "ERR-3",
            TXN,
            |ctx| thousand_bad_operations(ctx, Malformed::MutationUnset),
        ),
        Case::new(
            "txn-execute-thousand-non-ascii-names-answered",
            "ERR-3",
            TXN,
            |ctx| thousand_bad_operations(ctx, Malformed::EmojiName),
        ),
        Case::new("txn-open-transaction-expires", "TXN-EXPIRE-1", TXN, expires).needs(Need::TxnTtl),
        Case::new(
            "txn-max-operations-resource-exhausted",
            "TXN-BOUND-1",
            TXN,
            max_operations,
        )
        .needs(Need::TxnMaxOperations),
        Case::new(
            "txn-max-open-resource-exhausted",
            "TXN-BOUND-2",
            TXN,
            max_open,
        )
        .needs(Need::TxnMaxOpen)
        .needs(Need::Exclusive),
        Case::new(
            "txn-execute-rejects-name-in-other-database",
            "TXN-EXEC-2",
            TXN,
            name_in_other_database,
        ),
        Case::new(
            "txn-execute-rejects-name-of-wrong-entity",
            "TXN-EXEC-2",
            TXN,
            name_of_wrong_entity,
        ),
        Case::new(
            "txn-rejected-execute-keeps-transaction-open",
            "TXN-EXEC-2",
            TXN,
            rejected_keeps_open,
        ),
        Case::new(
            "txn-value-document-must-be-object",
            "TXN-EXEC-3",
            TXN,
            |ctx| bad_value(ctx, BadValue::DocumentArray),
        ),
        Case::new(
            "txn-value-collection-must-be-object",
            "TXN-EXEC-3",
            TXN,
            |ctx| bad_value(ctx, BadValue::CollectionArray),
        ),
        Case::new(
            "txn-value-unknown-keys-rejected",
            "TXN-EXEC-3",
            TXN,
            |ctx| bad_value(ctx, BadValue::UnknownKey),
        ),
        Case::new("txn-value-delete-must-be-empty", "TXN-EXEC-3", TXN, |ctx| {
            bad_value(ctx, BadValue::DeleteWithValue)
        }),
        Case::new(
            "txn-value-collection-description-optional",
            "TXN-EXEC-3",
            TXN,
            description_optional,
        ),
        Case::new(
            "txn-update-database-display-name",
            "TXN-EXEC-3",
            TXN,
            update_database,
        ),
        Case::new(
            "txn-commit-applies-in-order",
            "TXN-COMMIT-1",
            TXN,
            applies_in_order,
        ),
        Case::new(
            "txn-commit-spans-several-executes",
            "TXN-COMMIT-1",
            TXN,
            several_executes,
        ),
        Case::new(
            "txn-commit-all-or-nothing",
            "TXN-COMMIT-2",
            TXN,
            all_or_nothing,
        ),
        Case::new(
            "txn-commit-failure-names-operation-index",
            "TXN-COMMIT-2",
            TXN,
            failure_names_index,
        ),
        Case::new("txn-commit-ends-transaction", "TXN-COMMIT-3", TXN, |ctx| {
            ends(ctx, End::Commit)
        }),
        Case::new(
            "txn-failed-commit-ends-transaction",
            "TXN-COMMIT-3",
            TXN,
            |ctx| ends(ctx, End::FailedCommit),
        ),
        Case::new(
            "txn-rollback-discards",
            "TXN-ROLLBACK-1",
            TXN,
            rollback_discards,
        ),
        Case::new(
            "txn-rollback-ends-transaction",
            "TXN-ROLLBACK-1",
            TXN,
            |ctx| ends(ctx, End::Rollback),
        ),
        Case::new("txn-unknown-id-not-found", "TXN-UNKNOWN-1", TXN, unknown_id),
        Case::new(
            "txn-id-of-other-database-not-found",
            "TXN-UNKNOWN-1",
            TXN,
            other_database,
        ),
        Case::new(
            "txn-database-deleted-while-open",
            "TXN-COMMIT-4",
            TXN,
            database_deleted_while_open,
        ),
    ]
}

/// Begins a transaction on `db`, which must succeed.
pub async fn begin_ok(ctx: &Ctx, db: &str) -> Check<String> {
    match ctx.send(begin(db)).await.ok()? {
        Reply::Begin(r) => Ok(r.transaction_id),
        other => Err(ctx.fail("a BeginResponse", format!("{other:?}"))),
    }
}

/// A database with collection `c` holding document `d` = `{"v": 0}`.
async fn fixture(ctx: &Ctx) -> Check<(String, String)> {
    let db = ctx
        .create(Kind::Database, "", &ctx.id(&ctx.unique("t")), "T")
        .await?;
    let coll = ctx.create(Kind::Collection, &db.name, "c", "").await?;
    ctx.create(Kind::Document, &coll.name, "d", "{\"v\": 0}")
        .await?;
    Ok((db.name, coll.name))
}

async fn begin_ids(ctx: Ctx) -> Check {
    let (db, _) = fixture(&ctx).await?;
    let one = begin_ok(&ctx, &db).await?;
    let two = begin_ok(&ctx, &db).await?;
    ensure(
        !one.is_empty() && one != two,
        "two different, non-empty ids",
        format!("{one:?} and {two:?}"),
    )?;
    for id in [one, two] {
        ctx.send(rollback(&db, &id)).await.ok()?;
    }
    Ok(())
}

async fn begin_missing(ctx: Ctx) -> Check {
    let name = ctx.db("absent");
    ctx.send(begin(&name)).await.not_found(&name)?;
    Ok(())
}

async fn begin_malformed(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    for name in [ctx.id("x"), "databases/".into(), coll, format!("{db}/")] {
        ctx.send(begin(&name)).await.invalid(&["database_name"])?;
    }
    Ok(())
}

async fn empty_requests(ctx: Ctx) -> Check {
    for call in [
        Call::Begin(Default::default()),
        Call::Execute(Default::default()),
        Call::Commit(Default::default()),
        Call::Rollback(Default::default()),
    ] {
        ctx.send(call).await.code(Code::InvalidArgument)?;
    }
    Ok(())
}

async fn invisible_before_commit(ctx: Ctx) -> Check {
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

async fn unspecified_enums(ctx: Ctx) -> Check {
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
async fn every_bad_field(ctx: Ctx) -> Check {
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
enum Malformed {
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
async fn thousand_bad_operations(ctx: Ctx, malformed: Malformed) -> Check {
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

/// A transaction left open past `transactions.ttl` is gone: its buffered
/// operations never apply, and its id answers like an unknown one.
async fn expires(ctx: Ctx) -> Check {
    let Some(ttl) = ctx.target().txn_limits().ttl else {
        return Err(ctx.fail("a known transactions.ttl", "none declared"));
    };
    let (db, coll) = fixture(&ctx).await?;
    let doc = format!("{coll}/documents/late");
    let txn = begin_ok(&ctx, &db).await?;
    let ops = vec![op(M::Create, Kind::Document, &doc, "{}")];
    ctx.send(execute(&db, &txn, ops.clone())).await.ok()?;
    // Past the ttl by a margin for clocks that tick coarsely.
    tokio::time::sleep(ttl + (ttl / 5).max(Duration::from_millis(300))).await;
    ctx.send(execute(&db, &txn, ops))
        .await
        .code(Code::NotFound)?;
    ctx.send(commit(&db, &txn)).await.code(Code::NotFound)?;
    ctx.send(Kind::Document.get(&doc)).await.not_found(&doc)?;
    Ok(())
}

/// Exactly `max_operations` operations fit; one more is RESOURCE_EXHAUSTED
/// and buffers nothing of that call, and the transaction stays usable.
async fn max_operations(ctx: Ctx) -> Check {
    let Some(max) = ctx.target().txn_limits().max_operations else {
        return Err(ctx.fail("a known transactions.max_operations", "none declared"));
    };
    let (db, coll) = fixture(&ctx).await?;
    let doc = |i: u32| format!("{coll}/documents/n{i}");
    let create = |i: u32| op(M::Create, Kind::Document, &doc(i), "{}");
    let txn = begin_ok(&ctx, &db).await?;
    let first = max / 2;
    ctx.send(execute(&db, &txn, (0..first).map(create).collect()))
        .await
        .ok()?;
    ctx.send(execute(&db, &txn, (first..=max).map(create).collect()))
        .await
        .code(Code::ResourceExhausted)?;
    ctx.send(execute(&db, &txn, (first..max).map(create).collect()))
        .await
        .ok()?;
    ctx.send(execute(&db, &txn, vec![create(max)]))
        .await
        .code(Code::ResourceExhausted)?;
    ctx.send(commit(&db, &txn)).await.ok()?;
    ctx.get(Kind::Document, &doc(max - 1)).await?;
    ctx.send(Kind::Document.get(&doc(max)))
        .await
        .not_found(&doc(max))?;
    Ok(())
}

/// `max_open` transactions may be open at once on the whole worker; one
/// more Begin is RESOURCE_EXHAUSTED until one of them ends.
async fn max_open(ctx: Ctx) -> Check {
    let Some(max) = ctx.target().txn_limits().max_open else {
        return Err(ctx.fail("a known transactions.max_open", "none declared"));
    };
    let (db, _) = fixture(&ctx).await?;
    let mut open = Vec::with_capacity(max as usize);
    let mut outcome = Ok(());
    while open.len() < max as usize {
        let batch = (max as usize - open.len()).min(64);
        for exchange in ctx.send_all(vec![begin(&db); batch]).await {
            match exchange.ok() {
                Ok(Reply::Begin(r)) => open.push(r.transaction_id),
                Ok(other) => outcome = Err(ctx.fail("a BeginResponse", format!("{other:?}"))),
                Err(failure) => outcome = Err(failure),
            }
        }
        if let Err(failure) = &mut outcome
            && failure.actual.starts_with("RESOURCE_EXHAUSTED")
        {
            failure.note = Some(format!(
                "only {} transactions could be opened of the declared max_open {max}: other \
                 transactions are open on the worker (another client's, or a failed case's), \
                 or its bound is lower than declared",
                open.len()
            ));
        }
        if outcome.is_err() {
            break;
        }
    }
    if outcome.is_ok() {
        outcome = async {
            ctx.send(begin(&db)).await.code(Code::ResourceExhausted)?;
            let last = open.pop().unwrap_or_default();
            ctx.send(rollback(&db, &last)).await.ok()?;
            open.push(begin_ok(&ctx, &db).await?);
            Ok(())
        }
        .await;
    }
    // Whatever happened, free the worker for other clients.
    let rollbacks = open.iter().map(|txn| rollback(&db, txn)).collect();
    for exchange in ctx.send_all(rollbacks).await {
        exchange.ok()?;
    }
    outcome
}

async fn name_in_other_database(ctx: Ctx) -> Check {
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

async fn name_of_wrong_entity(ctx: Ctx) -> Check {
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

async fn rejected_keeps_open(ctx: Ctx) -> Check {
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

#[derive(Clone, Copy, Debug)]
enum BadValue {
    DocumentArray,
    /// Found by `model-transactions`: a reader that turns a JSON array
    /// into the fields of a struct takes `["x"]` as a description.
    CollectionArray,
    UnknownKey,
    DeleteWithValue,
}

async fn bad_value(ctx: Ctx, which: BadValue) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let bad = match which {
        BadValue::DocumentArray => op(
            M::Create,
            Kind::Document,
            &format!("{coll}/documents/a"),
            "[1]",
        ),
        BadValue::CollectionArray => op(
            M::Create,
            Kind::Collection,
            &format!("{db}/collections/k"),
            "[\"x\"]",
        ),
        BadValue::UnknownKey => op(
            M::Create,
            Kind::Collection,
            &format!("{db}/collections/k"),
            "{\"description\": \"x\", \"colour\": \"red\"}",
        ),
        BadValue::DeleteWithValue => op(
            M::Delete,
            Kind::Document,
            &format!("{coll}/documents/d"),
            "{}",
        ),
    };
    ctx.send(execute(&db, &txn, vec![bad]))
        .await
        .invalid(&["operations[0].value"])?;
    ctx.send(rollback(&db, &txn)).await.ok()?;
    Ok(())
}

async fn description_optional(ctx: Ctx) -> Check {
    let (db, _) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let name = format!("{db}/collections/plain");
    ctx.send(execute(
        &db,
        &txn,
        vec![op(M::Create, Kind::Collection, &name, "{}")],
    ))
    .await
    .ok()?;
    ctx.send(commit(&db, &txn)).await.ok()?;
    eq(
        "description",
        "",
        &ctx.get(Kind::Collection, &name).await?.field,
    )?;
    Ok(())
}

async fn update_database(ctx: Ctx) -> Check {
    let (db, _) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let ops = vec![op(
        M::Update,
        Kind::Database,
        &db,
        "{\"display_name\": \"Renamed\"}",
    )];
    ctx.send(execute(&db, &txn, ops)).await.ok()?;
    ctx.send(commit(&db, &txn)).await.ok()?;
    eq(
        "display_name",
        "Renamed",
        &ctx.get(Kind::Database, &db).await?.field,
    )?;
    Ok(())
}

async fn applies_in_order(ctx: Ctx) -> Check {
    let (db, _) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let coll = format!("{db}/collections/fresh");
    let doc = format!("{coll}/documents/x");
    let ops = vec![
        op(
            M::Create,
            Kind::Collection,
            &coll,
            "{\"description\": \"made in a transaction\"}",
        ),
        op(M::Create, Kind::Document, &doc, "{\"step\": 1}"),
        op(M::Update, Kind::Document, &doc, "{\"step\": 2}"),
    ];
    ctx.send(execute(&db, &txn, ops)).await.ok()?;
    ctx.send(commit(&db, &txn)).await.ok()?;
    eq(
        "value",
        "{\"step\": 2}",
        &ctx.get(Kind::Document, &doc).await?.field,
    )?;
    Ok(())
}

async fn several_executes(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let doc = format!("{coll}/documents/d");
    for step in 1..=3 {
        let ops = vec![op(
            M::Update,
            Kind::Document,
            &doc,
            &format!("{{\"v\": {step}}}"),
        )];
        ctx.send(execute(&db, &txn, ops)).await.ok()?;
    }
    ctx.send(commit(&db, &txn)).await.ok()?;
    eq(
        "value",
        "{\"v\": 3}",
        &ctx.get(Kind::Document, &doc).await?.field,
    )?;
    Ok(())
}

/// Executes `create a`, `update d`, `create d` (exists): commit must fail.
async fn failing_commit(ctx: &Ctx) -> Check<(String, String, String, tonic::Status)> {
    let (db, coll) = fixture(ctx).await?;
    let txn = begin_ok(ctx, &db).await?;
    let existing = format!("{coll}/documents/d");
    let ops = vec![
        op(
            M::Create,
            Kind::Document,
            &format!("{coll}/documents/a"),
            "{}",
        ),
        op(M::Update, Kind::Document, &existing, "{\"v\": 9}"),
        op(M::Create, Kind::Document, &existing, "{}"),
    ];
    ctx.send(execute(&db, &txn, ops)).await.ok()?;
    let status = ctx
        .send(commit(&db, &txn))
        .await
        .code(Code::FailedPrecondition)?;
    Ok((db, coll, txn, status))
}

async fn all_or_nothing(ctx: Ctx) -> Check {
    let (_, coll, _, _) = failing_commit(&ctx).await?;
    let a = format!("{coll}/documents/a");
    ctx.send(Kind::Document.get(&a)).await.not_found(&a)?;
    eq(
        "value of the updated document",
        "{\"v\": 0}",
        &ctx.get(Kind::Document, &format!("{coll}/documents/d"))
            .await?
            .field,
    )?;
    Ok(())
}

async fn failure_names_index(ctx: Ctx) -> Check {
    let (_, coll, _, status) = failing_commit(&ctx).await?;
    let message = status.message();
    let numbers: Vec<&str> = message
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .collect();
    let existing = format!("{coll}/documents/d");
    ensure(
        numbers.contains(&"2") && message.contains(&existing),
        format!("a message naming operation 2 and {existing}"),
        format!("{message:?}"),
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Commit,
    FailedCommit,
    Rollback,
}

async fn ends(ctx: Ctx, how: End) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let existing = format!("{coll}/documents/d");
    let ops = match how {
        // Creating a document that exists: the commit must fail. Its code is
        // TXN-COMMIT-2's business; this case only needs it to fail, so a
        // worker that answers another code is still judged on what it does
        // with the transaction afterwards.
        End::FailedCommit => vec![op(M::Create, Kind::Document, &existing, "{}")],
        _ => vec![op(M::Update, Kind::Document, &existing, "{\"v\": 1}")],
    };
    ctx.send(execute(&db, &txn, ops)).await.ok()?;
    match how {
        End::Commit => {
            ctx.send(commit(&db, &txn)).await.ok()?;
        }
        End::Rollback => {
            ctx.send(rollback(&db, &txn)).await.ok()?;
        }
        End::FailedCommit => {
            ctx.send(commit(&db, &txn)).await.err()?;
        }
    }
    finished(&ctx, &db, &coll, &txn).await
}

/// Execute, Commit and Rollback on `txn` are NOT_FOUND. The Execute carries
/// a valid operation, so a worker that refuses an empty Execute for its own
/// reasons is judged on the id, not on the shape (TXN-UNKNOWN-1 puts shape
/// errors first).
async fn finished(ctx: &Ctx, db: &str, coll: &str, txn: &str) -> Check {
    let valid = vec![op(
        M::Create,
        Kind::Document,
        &format!("{coll}/documents/after-the-end"),
        "{}",
    )];
    ctx.send(execute(db, txn, valid))
        .await
        .code(Code::NotFound)?;
    ctx.send(commit(db, txn)).await.code(Code::NotFound)?;
    ctx.send(rollback(db, txn)).await.code(Code::NotFound)?;
    Ok(())
}

async fn rollback_discards(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let doc = format!("{coll}/documents/new");
    ctx.send(execute(
        &db,
        &txn,
        vec![op(M::Create, Kind::Document, &doc, "{}")],
    ))
    .await
    .ok()?;
    ctx.send(rollback(&db, &txn)).await.ok()?;
    ctx.send(Kind::Document.get(&doc)).await.not_found(&doc)?;
    Ok(())
}

async fn unknown_id(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    finished(&ctx, &db, &coll, "no-such-transaction-4f1c").await?;
    let doc = format!("{coll}/documents/after-the-end");
    ctx.send(Kind::Document.get(&doc)).await.not_found(&doc)?;
    Ok(())
}

async fn other_database(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let (other, _) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let doc = format!("{coll}/documents/d");
    ctx.send(execute(
        &db,
        &txn,
        vec![op(M::Update, Kind::Document, &doc, "{\"v\": 5}")],
    ))
    .await
    .ok()?;
    // A valid operation of the other database, under this transaction's id.
    let other_doc = format!("{other}/collections/c/documents/d");
    let foreign = vec![op(M::Update, Kind::Document, &other_doc, "{\"v\": 6}")];
    ctx.send(execute(&other, &txn, foreign))
        .await
        .code(Code::NotFound)?;
    ctx.send(commit(&other, &txn)).await.code(Code::NotFound)?;
    ctx.send(rollback(&other, &txn))
        .await
        .code(Code::NotFound)?;
    // Still open in its own database.
    ctx.send(commit(&db, &txn)).await.ok()?;
    let doc_now = ctx.get(Kind::Document, &doc).await?;
    eq("value", "{\"v\": 5}", &doc_now.field)?;
    Ok(())
}

/// The database goes away under an open transaction: Commit meets the
/// missing collection as any later write would, and nothing comes back.
async fn database_deleted_while_open(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let txn = begin_ok(&ctx, &db).await?;
    let doc = format!("{coll}/documents/late");
    let ops = vec![op(M::Create, Kind::Document, &doc, "{}")];
    ctx.send(execute(&db, &txn, ops)).await.ok()?;
    ctx.send(Kind::Database.delete(&db)).await.ok()?;
    ctx.forget(&db);
    let status = ctx
        .send(commit(&db, &txn))
        .await
        .code(Code::FailedPrecondition)?;
    ensure(
        status.message().contains('0') && status.message().contains(&coll),
        format!("a message naming operation 0 and {coll}"),
        format!("{:?}", status.message()),
    )?;
    ctx.send(Kind::Database.get(&db)).await.not_found(&db)?;
    Ok(())
}
