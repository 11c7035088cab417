//! The data a run works on: its own database, one collection, N documents.
//!
//! ```text
//! databases/bench-k3x9q2ab                 (random prefix: runs never collide)
//!  └─ collections/docs
//!      ├─ documents/d0000000 ... d0999999  (preloaded, ids sort in index order)
//!      └─ documents/n0-3-17 ...            (created: round 0, caller 3, 17th)
//! ```
//!
//! Preloaded ids are zero-padded indexes, so name order is index order and a
//! page token "90% deep" is simply the token after document 0.9 N. Created ids
//! start with `n`, which sorts after every preloaded id, so creating during a
//! run never moves a preloaded document's position.
//!
//! Preloading is a closed loop too: many CreateDocument calls in flight over
//! all connections, with a progress line, because 10^6 documents one by one
//! would take longer than the measurement itself. The database is deleted at
//! the end (one cascade delete), whatever happened in between.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use super::measured::Conn;
use anyhow::{Context, bail};
use rand::{Rng, RngCore};

use crate::proto::database::{
    self as pb, collection_service_client::CollectionServiceClient,
    database_service_client::DatabaseServiceClient, document_service_client::DocumentServiceClient,
};

use super::load::Progress;

/// The smallest `--value-bytes`: `{"v":""}` is 8 bytes.
pub const MIN_VALUE_BYTES: usize = 8;
/// The contract's largest document value.
pub const MAX_VALUE_BYTES: usize = 4096;
/// Pages fetched while looking for a deep token stay below this many bytes,
/// well under the 4 MiB gRPC message limit.
const PAGE_BYTES: usize = 1 << 20;

/// The database, collection and documents of one run.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// `databases/bench-...`
    pub database: String,
    /// `databases/bench-.../collections/docs`
    pub collection: String,
    /// Preloaded documents, ids `0..docs`.
    pub docs: u64,
    /// Characters of a preloaded id's number.
    pub id_width: usize,
    /// Every value written has exactly this many bytes.
    pub value_bytes: usize,
    /// The page token the `list` workload starts from (empty: first page).
    pub list_token: String,
}

impl Dataset {
    /// A dataset named with a fresh random prefix; nothing is created yet.
    pub fn new(rng: &mut impl RngCore, docs: u64, value_bytes: usize) -> Self {
        let database = format!("databases/{}", random_database_id(rng));
        let collection = format!("{database}/collections/docs");
        Dataset {
            database,
            collection,
            docs,
            id_width: docs.saturating_sub(1).to_string().len().max(6),
            value_bytes,
            list_token: String::new(),
        }
    }

    /// The id of preloaded document `index`.
    pub fn preloaded_id(&self, index: u64) -> String {
        format!("d{index:0width$}", width = self.id_width)
    }

    /// The full name of preloaded document `index`.
    pub fn preloaded_name(&self, index: u64) -> String {
        format!("{}/documents/{}", self.collection, self.preloaded_id(index))
    }

    /// The database id, without `databases/`.
    pub fn database_id(&self) -> &str {
        self.database.trim_start_matches("databases/")
    }
}

/// `bench-` and 8 random characters: a valid database id (1-64 of `[a-z0-9._-]`).
pub fn random_database_id(rng: &mut impl RngCore) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let suffix: String = (0..8)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("bench-{suffix}")
}

/// A JSON object of exactly `bytes` bytes (at least [`MIN_VALUE_BYTES`]);
/// `seed` varies the filler so values are not all identical.
pub fn json_value(bytes: usize, seed: u64) -> String {
    let filler = bytes.saturating_sub(MIN_VALUE_BYTES);
    let mut value = String::with_capacity(bytes.max(MIN_VALUE_BYTES));
    value.push_str("{\"v\":\"");
    let start = usize::try_from(seed % 26).unwrap_or(0);
    value.extend((0..filler).map(|i| char::from(b'a' + ((start + i) % 26) as u8)));
    value.push_str("\"}");
    value
}

/// Creates the database and its collection.
pub async fn create(channel: &Conn, dataset: &Dataset) -> anyhow::Result<()> {
    DatabaseServiceClient::new(channel.clone())
        .create_database(pb::CreateDatabaseRequest {
            database_id: dataset.database_id().to_owned(),
            database: Some(pb::Database {
                display_name: "distgo-conformance bench".into(),
                ..Default::default()
            }),
        })
        .await
        .with_context(|| format!("cannot create {}", dataset.database))?;
    CollectionServiceClient::new(channel.clone())
        .create_collection(pb::CreateCollectionRequest {
            parent: dataset.database.clone(),
            collection_id: "docs".into(),
            collection: Some(pb::Collection::default()),
        })
        .await
        .with_context(|| format!("cannot create {}", dataset.collection))?;
    Ok(())
}

/// Deletes the run's database with everything in it.
pub async fn delete(channel: &Conn, dataset: &Dataset) -> anyhow::Result<()> {
    DatabaseServiceClient::new(channel.clone())
        .delete_database(pb::DeleteDatabaseRequest {
            name: dataset.database.clone(),
        })
        .await
        .with_context(|| format!("cannot delete {}", dataset.database))?;
    Ok(())
}

/// Creates documents `0..dataset.docs` with `in_flight` calls at a time over
/// `channels`, printing progress under `label`.
pub async fn preload(
    channels: &[Conn],
    dataset: &Arc<Dataset>,
    in_flight: usize,
    label: &str,
) -> anyhow::Result<()> {
    let started = Instant::now();
    write_each(channels, dataset, in_flight, label, Write::Create).await?;
    eprintln!(
        "{label}: preloaded {} documents of {} bytes in {:.1?}",
        dataset.docs,
        dataset.value_bytes,
        started.elapsed()
    );
    Ok(())
}

/// What [`write_each`] does to document `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// Create documents `0..docs`.
    Create,
    /// `calls` updates, cycling through documents `0..docs`.
    Update {
        /// How many UpdateDocument calls in all.
        calls: u64,
    },
}

/// Runs the calls of `write` with `in_flight` at a time over `channels`,
/// printing progress under `label`; the first failure ends it.
pub async fn write_each(
    channels: &[Conn],
    dataset: &Arc<Dataset>,
    in_flight: usize,
    label: &str,
    write: Write,
) -> anyhow::Result<()> {
    let (total, verb) = match write {
        Write::Create => (dataset.docs, "preload"),
        Write::Update { calls } => (calls, "update"),
    };
    if total == 0 || dataset.docs == 0 {
        return Ok(());
    }
    let next = Arc::new(AtomicU64::new(0));
    let progress = Progress::start(format!("{label} {verb}"), Some(total));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..in_flight.max(1) {
        let mut client = DocumentServiceClient::new(channels[task % channels.len()].clone());
        let (dataset, next, progress) = (dataset.clone(), next.clone(), progress.clone());
        tasks.spawn(async move {
            loop {
                let call = next.fetch_add(1, Ordering::Relaxed);
                if call >= total {
                    return anyhow::Ok(());
                }
                let index = call % dataset.docs;
                let value = json_value(dataset.value_bytes, call);
                let answer = match write {
                    Write::Create => client
                        .create_document(pb::CreateDocumentRequest {
                            parent: dataset.collection.clone(),
                            document_id: dataset.preloaded_id(index),
                            document: Some(pb::Document {
                                value,
                                ..Default::default()
                            }),
                        })
                        .await
                        .map(drop),
                    Write::Update { .. } => client
                        .update_document(pb::UpdateDocumentRequest {
                            document: Some(pb::Document {
                                name: dataset.preloaded_name(index),
                                value,
                                ..Default::default()
                            }),
                            update_mask: None,
                        })
                        .await
                        .map(drop),
                };
                answer
                    .with_context(|| format!("cannot {verb} {}", dataset.preloaded_name(index)))?;
                progress.record_ok();
            }
        });
    }
    let outcome = join_all(tasks).await;
    progress.finish();
    outcome
}

async fn join_all(mut tasks: tokio::task::JoinSet<anyhow::Result<()>>) -> anyhow::Result<()> {
    while let Some(joined) = tasks.join_next().await {
        joined.context("a preload task panicked")??;
    }
    Ok(())
}

/// The page token that resumes the listing right after `depth` (0.0-1.0) of
/// the preloaded documents, found by paging: tokens are opaque, so this is
/// the only way that works against any worker.
pub async fn deep_token(channel: &Conn, dataset: &Dataset, depth: f64) -> anyhow::Result<String> {
    // Truncating is intended: the token after the floor of depth * N.
    let target = (dataset.docs as f64 * depth.clamp(0.0, 1.0)) as u64;
    let page_size = (PAGE_BYTES / (dataset.value_bytes + 200)).clamp(1, 1000) as u64;
    let mut client = DocumentServiceClient::new(channel.clone());
    let (mut skipped, mut token) = (0u64, String::new());
    while skipped < target {
        let size = page_size.min(target - skipped);
        let page = client
            .list_documents(pb::ListDocumentsRequest {
                parent: dataset.collection.clone(),
                page_size: i32::try_from(size).unwrap_or(1000),
                page_token: token,
            })
            .await
            .context("cannot page to the deep list position")?
            .into_inner();
        skipped += page.documents.len() as u64;
        token = page.next_page_token;
        if token.is_empty() {
            bail!("the listing ended after {skipped} documents, before {target}");
        }
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use rand::{SeedableRng, rngs::StdRng};

    use super::*;

    #[test]
    fn values_are_json_objects_of_the_exact_size() {
        for bytes in [MIN_VALUE_BYTES, 9, 100, 256, MAX_VALUE_BYTES] {
            let value = json_value(bytes, 5);
            assert_eq!(value.len(), bytes);
            let parsed: serde_json::Value = serde_json::from_str(&value).unwrap();
            assert!(parsed.is_object(), "{value}");
        }
        assert_ne!(json_value(64, 1), json_value(64, 2));
    }

    #[test]
    fn database_ids_are_valid_and_differ() {
        let mut rng = StdRng::seed_from_u64(9);
        let a = random_database_id(&mut rng);
        let b = random_database_id(&mut rng);
        assert_ne!(a, b);
        for id in [a, b] {
            assert!((1..=64).contains(&id.len()));
            assert!(
                id.bytes()
                    .all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
            );
        }
    }

    #[test]
    fn preloaded_ids_sort_in_index_order_and_before_created_ids() {
        let dataset = Dataset::new(&mut StdRng::seed_from_u64(0), 1_000_000, 64);
        let ids: Vec<String> = [0, 9, 10, 999_999]
            .iter()
            .map(|&i| dataset.preloaded_id(i))
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert!(ids.iter().all(|id| id.as_str() < "n"));
        assert_eq!(dataset.preloaded_id(7), "d000007");
        assert!(dataset.preloaded_name(3).starts_with("databases/bench-"));
        assert!(
            dataset
                .preloaded_name(3)
                .ends_with("/collections/docs/documents/d000003")
        );
    }
}
