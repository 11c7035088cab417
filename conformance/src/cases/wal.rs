//! WALService and restarts: one entry per changed resource, filters,
//! paging, truncation that keeps the state, durability across restarts.
//!
//! The log is shared by every client of the worker, so each case reads only
//! the entries of its own databases (by `database_id`) in a window that
//! starts at its first write.

use prost_types::Timestamp;
use serde_json::Value;
use tonic::Code;

use crate::{
    call::{Reply, wal_payload as payload},
    case::{Case, Need, Tag},
    check::{Check, ensure, eq},
    ctx::Ctx,
    proto::database::{EntityType as E, MutationType as M, WalEntry},
    report::time::rfc3339,
    req::{Kind, Res, commit, execute, list_wal, op, truncate_wal},
};

const WAL: &[Tag] = &[Tag::Wal];

/// Cases about the log and restarts.
pub fn cases() -> Vec<Case> {
    vec![
        Case::new(
            "wal-create-appends-one-entry-per-resource",
            "WAL-1",
            WAL,
            creates_append,
        ),
        Case::new("wal-update-appends-one-entry", "WAL-1", WAL, |ctx| {
            one_entry(ctx, M::Update)
        }),
        Case::new("wal-delete-appends-one-entry", "WAL-1", WAL, |ctx| {
            one_entry(ctx, M::Delete)
        }),
        Case::new("wal-entries-in-commit-order", "WAL-1", WAL, commit_order),
        Case::new(
            "wal-failed-request-appends-nothing",
            "WAL-1",
            WAL,
            failed_appends_nothing,
        ),
        Case::new("wal-entry-id-is-uuid", "WAL-2", WAL, ids_are_uuids),
        Case::new(
            "wal-entry-timestamp-is-commit-time",
            "WAL-2",
            WAL,
            timestamp_is_commit_time,
        ),
        Case::new("wal-data-is-resource-json", "WAL-3", WAL, data_is_json),
        Case::new("wal-delete-data-empty", "WAL-3", WAL, delete_data_empty),
        Case::new("wal-cascade-one-entry-per-resource", "WAL-4", WAL, |ctx| {
            cascade_entries(ctx, Cascade::Database)
        }),
        Case::new(
            "wal-collection-cascade-one-entry-per-resource",
            "WAL-4",
            WAL,
            |ctx| cascade_entries(ctx, Cascade::Collection),
        ),
        Case::new(
            "wal-transaction-cascade-one-entry-per-resource",
            "WAL-4",
            &[Tag::Wal, Tag::Transactions],
            |ctx| cascade_entries(ctx, Cascade::TransactionCollection),
        ),
        Case::new(
            "wal-transaction-entries-share-timestamp",
            "WAL-5",
            &[Tag::Wal, Tag::Transactions],
            transaction_timestamp,
        ),
        Case::new("wal-time-window-half-open", "WAL-6", WAL, time_window),
        Case::new("wal-reversed-window-invalid", "WAL-6", WAL, reversed_window),
        Case::new("wal-entity-type-filter", "WAL-7", WAL, |ctx| {
            filter(ctx, Filter::Entity)
        }),
        Case::new("wal-operation-type-filter", "WAL-7", WAL, |ctx| {
            filter(ctx, Filter::Operation)
        }),
        Case::new("wal-pages-in-commit-order", "WAL-8", WAL, paging),
        Case::new(
            "wal-page-size-out-of-range",
            "WAL-8",
            WAL,
            page_size_out_of_range,
        ),
        Case::new(
            "wal-token-of-other-filter-rejected",
            "WAL-8",
            WAL,
            token_of_other_filter,
        ),
        Case::new(
            "wal-truncate-keeps-state",
            "WAL-9",
            WAL,
            truncate_keeps_state,
        )
        .needs(Need::Exclusive),
        Case::new(
            "wal-survives-restart",
            "WAL-10",
            &[Tag::Wal, Tag::Restart],
            survives_restart,
        ),
        Case::new(
            "restart-keeps-resources",
            "WAL-10",
            &[Tag::Restart],
            restart_keeps_resources,
        ),
        Case::new(
            "wal-truncated-state-survives-restart",
            "WAL-9",
            &[Tag::Wal, Tag::Restart],
            truncated_survives_restart,
        )
        .needs(Need::Exclusive),
    ]
}

/// The resource name an entry is about.
fn entry_name(entry: &WalEntry) -> String {
    let (ids, _) = payload(entry);
    match ids.as_slice() {
        [db] => format!("databases/{db}"),
        [db, c] => format!("databases/{db}/collections/{c}"),
        [db, c, d] => format!("databases/{db}/collections/{c}/documents/{d}"),
        _ => String::new(),
    }
}

/// A compact form for comparisons: (entity, operation, name).
fn shape(entry: &WalEntry) -> (i32, i32, String) {
    (entry.entity_type, entry.operation_type, entry_name(entry))
}

/// Every entry from `start` on (with filters), of databases whose name
/// starts with `db`.
async fn entries(
    ctx: &Ctx,
    start: Option<Timestamp>,
    end: Option<Timestamp>,
    e: E,
    m: M,
    db: &str,
) -> Check<Vec<WalEntry>> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let reply = ctx
            .send(list_wal(start, end, e, m, 1000, &token))
            .await
            .ok()?;
        let Reply::WalEntries(page) = reply else {
            return Err(ctx.fail("a ListWALEntriesResponse", format!("{reply:?}")));
        };
        out.extend(
            page.entries
                .into_iter()
                .filter(|x| entry_name(x).starts_with(db)),
        );
        if page.next_page_token.is_empty() {
            return Ok(out);
        }
        ctx.advances(&token, &page.next_page_token)?;
        token = page.next_page_token;
    }
}

async fn ours(ctx: &Ctx, start: Option<Timestamp>, db: &str) -> Check<Vec<WalEntry>> {
    entries(ctx, start, None, E::Unspecified, M::Unspecified, db).await
}

/// A database (its name and creation time) holding collection `c`.
async fn fixture(ctx: &Ctx) -> Check<(Res, String)> {
    let db = ctx
        .create(Kind::Database, "", &ctx.id(&ctx.unique("w")), "W")
        .await?;
    let coll = ctx.create(Kind::Collection, &db.name, "c", "first").await?;
    Ok((db, coll.name))
}

async fn creates_append(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let doc = ctx.create(Kind::Document, &coll, "d", "{\"a\": 1}").await?;
    let got: Vec<_> = ours(&ctx, db.created_at, &db.name)
        .await?
        .iter()
        .map(shape)
        .collect();
    let want = vec![
        (E::Database as i32, M::Create as i32, db.name.clone()),
        (E::Collection as i32, M::Create as i32, coll),
        (E::Document as i32, M::Create as i32, doc.name),
    ];
    eq("entries (entity, operation, name)", &want, &got)
}

async fn one_entry(ctx: Ctx, m: M) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let doc = ctx.create(Kind::Document, &coll, "d", "{}").await?;
    let after = doc.created_at;
    match m {
        M::Update => drop(
            ctx.send(Kind::Document.update(&doc.name, "{\"b\": 2}", None))
                .await
                .ok()?,
        ),
        _ => drop(ctx.send(Kind::Document.delete(&doc.name)).await.ok()?),
    }
    let got: Vec<_> = ours(&ctx, after, &db.name)
        .await?
        .iter()
        .map(shape)
        .collect();
    let want = vec![
        (E::Document as i32, M::Create as i32, doc.name.clone()),
        (E::Document as i32, m as i32, doc.name),
    ];
    eq("entries since the create", &want, &got)
}

async fn commit_order(ctx: Ctx) -> Check {
    let (_, coll) = fixture(&ctx).await?;
    let doc = ctx.create(Kind::Document, &coll, "d", "{\"n\": 0}").await?;
    for n in 1..=8 {
        ctx.send(Kind::Document.update(&doc.name, &format!("{{\"n\": {n}}}"), None))
            .await
            .ok()?;
    }
    let got = ours(&ctx, doc.created_at, &doc.name).await?;
    eq("entries", &9, &got.len())?;
    let mut last = i128::MIN;
    for (n, entry) in got.iter().enumerate() {
        let data = String::from_utf8_lossy(payload(entry).1).into_owned();
        ensure(
            json_mentions(&data, &format!("{{\"n\": {n}}}")),
            format!("entry {n} holds {{\"n\": {n}}}"),
            data,
        )?;
        let t = entry
            .timestamp
            .as_ref()
            .map(crate::req::nanos)
            .unwrap_or_default();
        ensure(
            t >= last,
            "timestamps that never decrease",
            format!("{t} after {last}"),
        )?;
        last = t;
    }
    Ok(())
}

async fn failed_appends_nothing(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let before = ours(&ctx, db.created_at, &db.name).await?.len();
    ctx.send(Kind::Collection.create(&db.name, "c", "again"))
        .await
        .code(Code::AlreadyExists)?;
    ctx.send(Kind::Document.update(&format!("{coll}/documents/nope"), "{}", None))
        .await
        .code(Code::NotFound)?;
    ctx.send(Kind::Document.create(&coll, "x", "[]"))
        .await
        .code(Code::InvalidArgument)?;
    let after = ours(&ctx, db.created_at, &db.name).await?.len();
    eq("entries after three failed requests", &before, &after)
}

async fn ids_are_uuids(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    ctx.create(Kind::Document, &coll, "d", "{}").await?;
    let got = ours(&ctx, db.created_at, &db.name).await?;
    ensure(got.len() == 3, "three entries", format!("{}", got.len()))?;
    let mut ids = Vec::new();
    for entry in &got {
        ensure(
            uuid::Uuid::parse_str(&entry.id).is_ok(),
            "a UUID",
            format!("{:?}", entry.id),
        )?;
        ids.push(entry.id.clone());
    }
    ids.sort();
    ids.dedup();
    eq("distinct ids", &3, &ids.len())
}

async fn timestamp_is_commit_time(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let doc = ctx.create(Kind::Document, &coll, "d", "{}").await?;
    let updated = Res::from_reply(
        ctx.send(Kind::Document.update(&doc.name, "{\"u\": 1}", None))
            .await
            .ok()?,
    )?;
    let got = ours(&ctx, db.created_at, &doc.name).await?;
    let times: Vec<_> = got.iter().map(|e| e.timestamp).collect();
    eq(
        "entry timestamps (create, update)",
        &vec![doc.created_at, updated.updated_at],
        &times,
    )
}

/// Whether the JSON text `data` holds `value` somewhere: as a string equal
/// to it, or (for JSON values) as an equal nested value.
pub fn json_mentions(data: &str, value: &str) -> bool {
    let Ok(tree) = serde_json::from_str::<Value>(data) else {
        return false;
    };
    let parsed = serde_json::from_str::<Value>(value).ok();
    fn walk(v: &Value, text: &str, parsed: Option<&Value>) -> bool {
        if v.as_str() == Some(text) || Some(v) == parsed {
            return true;
        }
        match v {
            Value::Object(m) => m.values().any(|x| walk(x, text, parsed)),
            Value::Array(a) => a.iter().any(|x| walk(x, text, parsed)),
            _ => false,
        }
    }
    tree.is_object() && walk(&tree, value, parsed.as_ref())
}

async fn data_is_json(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    ctx.create(Kind::Document, &coll, "d", "{\"k\": [1, 2]}")
        .await?;
    let got = ours(&ctx, db.created_at, &db.name).await?;
    let doc = format!("{coll}/documents/d");
    let want = [
        (db.name.as_str(), "W"),
        (coll.as_str(), "first"),
        (doc.as_str(), "{\"k\": [1, 2]}"),
    ];
    ensure(got.len() == 3, "three entries", format!("{}", got.len()))?;
    for (entry, (name, value)) in got.iter().zip(want) {
        let data = String::from_utf8_lossy(payload(entry).1).into_owned();
        ensure(
            json_mentions(&data, name) && json_mentions(&data, value),
            format!("a JSON object holding {name:?} and {value:?}"),
            data,
        )?;
    }
    Ok(())
}

async fn delete_data_empty(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    ctx.send(Kind::Collection.delete(&coll)).await.ok()?;
    let got = ours(&ctx, db.created_at, &coll).await?;
    let delete = got
        .last()
        .ok_or_else(|| ctx.fail("a delete entry", "none"))?;
    eq("operation", &(M::Delete as i32), &delete.operation_type)?;
    eq("data of a delete", &0, &payload(delete).1.len())
}

/// How a cascade is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cascade {
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
async fn cascade_entries(ctx: Ctx, how: Cascade) -> Check {
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
            let txn = super::transactions::begin_ok(&ctx, &db.name).await?;
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

async fn transaction_timestamp(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let txn = super::transactions::begin_ok(&ctx, &db.name).await?;
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

async fn time_window(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let mut times = Vec::new();
    let doc = ctx.create(Kind::Document, &coll, "d", "{\"n\": 0}").await?;
    times.push(doc.created_at);
    for n in 1..=2 {
        let res = Res::from_reply(
            ctx.send(Kind::Document.update(&doc.name, &format!("{{\"n\": {n}}}"), None))
                .await
                .ok()?,
        )?;
        times.push(res.updated_at);
    }
    let window = entries(
        &ctx,
        times[1],
        times[2],
        E::Unspecified,
        M::Unspecified,
        &db.name,
    )
    .await?;
    let got: Vec<_> = window.iter().map(|e| e.timestamp).collect();
    eq("entries in [t1, t2)", &vec![times[1]], &got)?;
    let open_end = entries(
        &ctx,
        times[1],
        None,
        E::Unspecified,
        M::Unspecified,
        &db.name,
    )
    .await?;
    eq("entries from t1 on", &2, &open_end.len())?;
    let open_start = entries(
        &ctx,
        None,
        times[1],
        E::Unspecified,
        M::Unspecified,
        &db.name,
    )
    .await?;
    eq(
        "entries before t1 (db, collection, create)",
        &3,
        &open_start.len(),
    )
}

/// `[t, t)` is a window with nothing in it; a window that ends before it
/// starts is a mistake worth naming.
async fn reversed_window(ctx: Ctx) -> Check {
    let (_, coll) = fixture(&ctx).await?;
    let doc = ctx.create(Kind::Document, &coll, "d", "{}").await?;
    let (Some(t), Some(mut later)) = (doc.created_at, doc.created_at) else {
        return Err(ctx.fail("a created_at", "none"));
    };
    later.seconds += 1;
    let empty = list_wal(Some(t), Some(t), E::Unspecified, M::Unspecified, 0, "");
    match ctx.send(empty).await.ok()? {
        Reply::WalEntries(r) => eq("entries in [t, t)", &0, &r.entries.len())?,
        other => return Err(ctx.fail("a ListWALEntriesResponse", format!("{other:?}"))),
    }
    let reversed = list_wal(Some(later), Some(t), E::Unspecified, M::Unspecified, 0, "");
    ctx.send(reversed).await.invalid(&["end_time"])?;
    Ok(())
}

#[derive(Clone, Copy, Debug)]
enum Filter {
    Entity,
    Operation,
}

async fn filter(ctx: Ctx, which: Filter) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let doc = ctx.create(Kind::Document, &coll, "d", "{}").await?;
    ctx.send(Kind::Document.update(&doc.name, "{\"x\": 1}", None))
        .await
        .ok()?;
    ctx.send(Kind::Collection.update(&coll, "second", None))
        .await
        .ok()?;
    let (e, m, want) = match which {
        Filter::Entity => (
            E::Collection,
            M::Unspecified,
            vec![
                (E::Collection as i32, M::Create as i32),
                (E::Collection as i32, M::Update as i32),
            ],
        ),
        Filter::Operation => (
            E::Unspecified,
            M::Update,
            vec![
                (E::Document as i32, M::Update as i32),
                (E::Collection as i32, M::Update as i32),
            ],
        ),
    };
    let got: Vec<_> = entries(&ctx, db.created_at, None, e, m, &db.name)
        .await?
        .iter()
        .map(|x| (x.entity_type, x.operation_type))
        .collect();
    eq("filtered entries (entity, operation)", &want, &got)
}

async fn paging(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    for d in 0..5 {
        ctx.create(Kind::Document, &coll, &format!("d{d}"), "{}")
            .await?;
    }
    let all = ours(&ctx, db.created_at, &db.name).await?;
    let mut paged = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let reply = ctx
            .send(list_wal(
                db.created_at,
                None,
                E::Unspecified,
                M::Unspecified,
                2,
                &token,
            ))
            .await
            .ok()?;
        let Reply::WalEntries(page) = reply else {
            return Err(ctx.fail("entries", "another reply"));
        };
        ensure(
            page.entries.len() <= 2,
            "at most 2 entries per page",
            format!("{}", page.entries.len()),
        )?;
        pages += 1;
        paged.extend(
            page.entries
                .into_iter()
                .filter(|e| entry_name(e).starts_with(&db.name)),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        ctx.advances(&token, &page.next_page_token)?;
        token = page.next_page_token;
    }
    ensure(pages >= 4, "at least four pages of two", format!("{pages}"))?;
    let ids = |v: &[WalEntry]| v.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    eq("entries paged 2 at a time", &ids(&all), &ids(&paged))
}

async fn page_size_out_of_range(ctx: Ctx) -> Check {
    for size in [-1, 1001] {
        ctx.send(list_wal(
            None,
            None,
            E::Unspecified,
            M::Unspecified,
            size,
            "",
        ))
        .await
        .invalid(&["page_size"])?;
    }
    ctx.send(list_wal(
        None,
        None,
        E::Unspecified,
        M::Unspecified,
        1,
        "garbage!",
    ))
    .await
    .invalid(&["page_token"])?;
    Ok(())
}

async fn token_of_other_filter(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    ctx.create(Kind::Document, &coll, "a", "{}").await?;
    ctx.create(Kind::Document, &coll, "b", "{}").await?;
    let reply = ctx
        .send(list_wal(
            db.created_at,
            None,
            E::Document,
            M::Unspecified,
            1,
            "",
        ))
        .await
        .ok()?;
    let Reply::WalEntries(page) = reply else {
        return Err(ctx.fail("entries", "another reply"));
    };
    ensure(
        !page.next_page_token.is_empty(),
        "a next_page_token",
        "none",
    )?;
    let other = list_wal(
        db.created_at,
        None,
        E::Collection,
        M::Unspecified,
        1,
        &page.next_page_token,
    );
    ctx.send(other).await.invalid(&["page_token"])?;
    Ok(())
}

async fn truncate_keeps_state(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let doc = ctx.create(Kind::Document, &coll, "d", "{\"n\": 0}").await?;
    let updated = Res::from_reply(
        ctx.send(Kind::Document.update(&doc.name, "{\"n\": 1}", None))
            .await
            .ok()?,
    )?;
    ctx.send(truncate_wal(updated.updated_at)).await.ok()?;
    let left: Vec<_> = ours(&ctx, None, &db.name)
        .await?
        .iter()
        .map(shape)
        .collect();
    eq(
        "entries left",
        &vec![(E::Document as i32, M::Update as i32, doc.name.clone())],
        &left,
    )?;
    eq(
        "the document",
        &updated,
        &ctx.get(Kind::Document, &doc.name).await?,
    )?;
    eq(
        "the collection",
        &"first".to_owned(),
        &ctx.get(Kind::Collection, &coll).await?.field,
    )?;
    Ok(())
}

async fn survives_restart(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    ctx.create(Kind::Document, &coll, "d", "{}").await?;
    let before = ours(&ctx, db.created_at, &db.name).await?;
    ctx.restart().await?;
    let after = ours(&ctx, db.created_at, &db.name).await?;
    eq("entries after a restart", &before, &after)
}

async fn restart_keeps_resources(ctx: Ctx) -> Check {
    let (db, coll) = fixture(&ctx).await?;
    let doc = ctx
        .create(Kind::Document, &coll, "d", "{\"kept\": true}")
        .await?;
    ctx.restart().await?;
    eq(
        "the database",
        &db,
        &ctx.get(Kind::Database, &db.name).await?,
    )?;
    eq(
        "the document",
        &doc,
        &ctx.get(Kind::Document, &doc.name).await?,
    )
}

async fn truncated_survives_restart(ctx: Ctx) -> Check {
    let (_, coll) = fixture(&ctx).await?;
    let doc = ctx
        .create(Kind::Document, &coll, "d", "{\"kept\": true}")
        .await?;
    ctx.send(truncate_wal(None)).await.ok()?;
    ctx.restart().await?;
    eq(
        "the document",
        &doc,
        &ctx.get(Kind::Document, &doc.name).await?,
    )
}
