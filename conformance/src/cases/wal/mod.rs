//! WALService and restarts: one entry per changed resource, filters,
//! paging, truncation that keeps the state, durability across restarts.
//!
//! The log is shared by every client of the worker, so each case reads only
//! the entries of its own databases (by `database_id`) in a window that
//! starts at its first write.
//!
//! One file per group of sub-clauses (see `conformance/SPEC.md`); this file
//! keeps the registration, so the catalogue's order is the file's, and the
//! helpers that read a case's own entries:
//!
//! | file | clauses |
//! |---|---|
//! | `appends.rs` | WAL-1 |
//! | `entries.rs` | WAL-2, WAL-3 |
//! | `cascades.rs` | WAL-4, WAL-5 |
//! | `filters.rs` | WAL-6, WAL-7 |
//! | `paging.rs` | WAL-8 |
//! | `durability.rs` | WAL-9, WAL-10 |

use prost_types::Timestamp;
use serde_json::Value;

use crate::{
    call::{Reply, wal_payload as payload},
    case::{Case, Need, Tag},
    check::Check,
    ctx::Ctx,
    proto::database::{EntityType as E, MutationType as M, WalEntry},
    req::{Kind, Res, list_wal},
};

mod appends;
mod cascades;
mod durability;
mod entries;
mod filters;
mod paging;

use self::{
    appends::{commit_order, creates_append, failed_appends_nothing, one_entry},
    cascades::{Cascade, cascade_entries, transaction_timestamp},
    durability::{
        restart_keeps_resources, survives_restart, truncate_keeps_state, truncated_survives_restart,
    },
    entries::{data_is_json, delete_data_empty, ids_are_uuids, timestamp_is_commit_time},
    filters::{Filter, filter, reversed_window, time_window},
    paging::{page_size_out_of_range, paging, token_of_other_filter},
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
