//! The registry: every case of the suite, in catalogue order.
//!
//! Each file holds the cases of one topic and exposes `cases()`. To add a
//! case: write an `async fn(Ctx) -> Check` next to its siblings, register it
//! with `Case::new(id, clause, tags, body)` in that file's `cases()`, then run
//! `distgo-conformance list > conformance/CATALOGUE.md`.

mod cascade;
mod cluster;
mod concurrency;
mod crud;
mod database_pages;
mod errors;
pub mod fields;
mod lists;
mod names;
mod request_ids;
mod timestamps;
pub mod transactions;
mod wal;

use crate::case::Case;

pub use self::crud::clause;

/// Every case, in catalogue order.
pub fn all() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(crud::cases());
    cases.extend(names::cases());
    cases.extend(timestamps::cases());
    cases.extend(fields::cases());
    cases.extend(cascade::cases());
    cases.extend(lists::cases());
    cases.extend(database_pages::cases());
    cases.extend(errors::cases());
    cases.extend(concurrency::cases());
    cases.extend(request_ids::cases());
    cases.extend(transactions::cases());
    cases.extend(wal::cases());
    cases.extend(cluster::cases());
    cases.extend(crate::model::cases());
    cases.extend(crate::scenario::cases());
    cases
}
