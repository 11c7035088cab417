//! The `service` fuzz target: arbitrary bytes as request messages, answered
//! by the real services of a memory-only worker.
//!
//! An input is a short script of calls, each one
//!
//! ```text
//! ┌─────────────┬────────────────┬─────────────────────────────────────┐
//! │ selector u8 │ length u16 LE  │ message bytes (protobuf, or garbage) │  one call
//! └─────────────┴────────────────┴─────────────────────────────────────┘
//!   selector % 128 picks the method (see METHODS); bit 7 attaches the
//!   request id `fuzz-N` (N = selector % 4), so retries meet the requests table
//! ```
//!
//! and every call of one input goes to the same fresh worker, so a
//! CreateDatabase early in the script gives a GetDocument later something
//! to find. Bytes that do not decode as the message are what tonic answers
//! INVALID_ARGUMENT for before a service sees them; here they are skipped.
//! The services are called through their tonic traits, without a network
//! or the edge layers, on one current-thread runtime; the clock is manual
//! and moves five seconds per call, so transactions expire within a script.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use prost::Message;
use tonic::{Request, metadata::MetadataValue};

use crate::{
    api::{
        cluster::ClusterApi, collection::CollectionApi, database::DatabaseApi,
        document::DocumentApi, transaction::TransactionApi, wal::WalApi,
    },
    clock::{ManualClock, Timestamp},
    config::WalConfig,
    proto::{
        cluster::cluster_service_server::ClusterService,
        database::{
            collection_service_server::CollectionService, database_service_server::DatabaseService,
            document_service_server::DocumentService,
            transaction_service_server::TransactionService, wal_service_server::WalService,
        },
    },
    replication::Replica,
    txn::{Limits, Transactions},
};

/// The most calls one input makes, so an input costs a bounded time.
const MAX_CALLS: usize = 32;

/// The services of one memory-only worker.
struct Services {
    clock: Arc<ManualClock>,
    databases: DatabaseApi,
    collections: CollectionApi,
    documents: DocumentApi,
    transactions: TransactionApi,
    wal: WalApi,
    cluster: ClusterApi,
}

impl Services {
    fn new(replica: Arc<Replica>, clock: Arc<ManualClock>) -> Self {
        let limits = Limits {
            ttl: Duration::from_secs(60),
            max_operations: 16,
            max_open: 4,
        };
        let transactions = Arc::new(Transactions::new(replica.clone(), clock.clone(), limits));
        Services {
            clock,
            databases: DatabaseApi::new(replica.clone()),
            collections: CollectionApi::new(replica.clone()),
            documents: DocumentApi::new(replica.clone()),
            transactions: TransactionApi::new(transactions),
            wal: WalApi::new(replica),
            cluster: ClusterApi,
        }
    }
}

/// `request` with the request id the selector asks for, if any.
fn with_id<T>(message: T, selector: u8) -> Request<T> {
    let mut request = Request::new(message);
    if selector & 0x80 != 0 {
        const IDS: [&str; 4] = ["fuzz-0", "fuzz-1", "fuzz-2", "fuzz-3"];
        let id = MetadataValue::from_static(IDS[usize::from(selector % 4)]);
        request.metadata_mut().insert("distgo-request-id", id);
    }
    request
}

/// Declares the method table and the dispatcher from one list, so the two
/// cannot disagree: `name => service.method(Message)`.
macro_rules! methods {
    ($($name:literal => $service:ident . $method:ident ($message:ty)),* $(,)?) => {
        /// The methods a selector picks from, in selector order.
        pub const METHODS: &[&str] = &[$($name),*];

        async fn call(services: &Services, index: usize, selector: u8, bytes: &[u8]) {
            let mut n = 0;
            $(
                if index == n {
                    if let Ok(message) = <$message>::decode(bytes) {
                        // Any status is a fine answer; only a panic or a
                        // call that never returns is a failure.
                        let _ = services.$service.$method(with_id(message, selector)).await;
                    }
                    return;
                }
                n += 1;
            )*
            let _ = n;
        }
    };
}

use crate::proto::{cluster as cl, database as pb};

methods! {
    "ListDatabases" => databases.list_databases(pb::ListDatabasesRequest),
    "GetDatabase" => databases.get_database(pb::GetDatabaseRequest),
    "CreateDatabase" => databases.create_database(pb::CreateDatabaseRequest),
    "UpdateDatabase" => databases.update_database(pb::UpdateDatabaseRequest),
    "DeleteDatabase" => databases.delete_database(pb::DeleteDatabaseRequest),
    "ListCollections" => collections.list_collections(pb::ListCollectionsRequest),
    "GetCollection" => collections.get_collection(pb::GetCollectionRequest),
    "CreateCollection" => collections.create_collection(pb::CreateCollectionRequest),
    "UpdateCollection" => collections.update_collection(pb::UpdateCollectionRequest),
    "DeleteCollection" => collections.delete_collection(pb::DeleteCollectionRequest),
    "ListDocuments" => documents.list_documents(pb::ListDocumentsRequest),
    "GetDocument" => documents.get_document(pb::GetDocumentRequest),
    "CreateDocument" => documents.create_document(pb::CreateDocumentRequest),
    "UpdateDocument" => documents.update_document(pb::UpdateDocumentRequest),
    "DeleteDocument" => documents.delete_document(pb::DeleteDocumentRequest),
    "Begin" => transactions.begin(pb::BeginRequest),
    "Execute" => transactions.execute(pb::ExecuteRequest),
    "Commit" => transactions.commit(pb::CommitRequest),
    "Rollback" => transactions.rollback(pb::RollbackRequest),
    "ListWALEntries" => wal.list_wal_entries(pb::ListWalEntriesRequest),
    "TruncateWAL" => wal.truncate_wal(pb::TruncateWalRequest),
    "ForgetConnection" => cluster.forget_connection(cl::ForgetConnectionRequest),
}

/// Splits `data` into calls (see the module docs) and makes them, in
/// order, against one fresh memory-only worker.
pub fn service(data: &[u8]) {
    static RUNTIME: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()
    });
    let Some(runtime) = runtime else {
        return;
    };
    let clock = Arc::new(ManualClock::new(START));
    let replica = Arc::new(Replica::memory(&WalConfig::default(), clock.clone()));
    runtime.block_on(run(replica, clock, data));
}

/// The clock of a fresh worker: 2023-11-14, any fixed time would do.
pub const START: Timestamp = Timestamp::from_nanos(1_700_000_000_000_000_000);

/// Makes the calls of `data` against `replica`, moving `clock` five
/// seconds after each: what [`service`] does with a memory-only replica,
/// and what the seed generator does with a durable one, to get real log
/// segments and snapshots.
pub async fn run(replica: Arc<Replica>, clock: Arc<ManualClock>, data: &[u8]) {
    let services = Services::new(replica, clock);
    for (selector, bytes) in calls(data).take(MAX_CALLS) {
        let index = usize::from(selector & 0x7f) % METHODS.len();
        call(&services, index, selector, bytes).await;
        services.clock.advance(Duration::from_secs(5));
    }
}

/// The `(selector, message bytes)` of each call in `data`; a length past
/// the end takes what is left.
pub fn calls(mut data: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let (&selector, rest) = data.split_first()?;
        let (len, rest) = match rest {
            [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
            _ => (0, &[][..]),
        };
        let (message, rest) = rest.split_at(len.min(rest.len()));
        data = rest;
        Some((selector, message))
    })
}

/// The bytes of one call, as [`calls`] reads them back: for seed corpora.
pub fn encode_call(selector: u8, message: &[u8], out: &mut Vec<u8>) {
    let len = u16::try_from(message.len()).unwrap_or(u16::MAX);
    out.push(selector);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&message[..usize::from(len)]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{clock::Clock, proto::database as pb};

    fn script(calls: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (method, message) in calls {
            let selector = METHODS.iter().position(|m| m == method).unwrap();
            encode_call(selector as u8, message, &mut out);
        }
        out
    }

    #[test]
    fn calls_reads_back_what_encode_call_wrote_and_cuts_at_the_end() {
        let mut bytes = Vec::new();
        encode_call(3, b"abc", &mut bytes);
        encode_call(0x85, b"", &mut bytes);
        bytes.extend_from_slice(&[7, 0xff, 0xff, 1, 2]);
        let read: Vec<_> = calls(&bytes).collect();
        assert_eq!(read, [(3, &b"abc"[..]), (0x85, &b""[..]), (7, &[1, 2][..])]);
        assert_eq!(calls(&[9]).collect::<Vec<_>>(), [(9, &b""[..])]);
    }

    /// The selector of each method must reach that method: a script that
    /// creates a database, then a collection in it, leaves both behind.
    #[tokio::test]
    async fn a_script_reaches_the_services_it_names() {
        let database = pb::CreateDatabaseRequest {
            database_id: "shop".into(),
            database: Some(pb::Database {
                display_name: "Shop".into(),
                ..Default::default()
            }),
        };
        let collection = pb::CreateCollectionRequest {
            parent: "databases/shop".into(),
            collection_id: "orders".into(),
            collection: Some(pb::Collection::default()),
        };
        let data = script(&[
            ("CreateDatabase", database.encode_to_vec()),
            ("CreateCollection", collection.encode_to_vec()),
            ("GetDocument", vec![0xff, 0xff]),
        ]);
        let clock = Arc::new(ManualClock::new(START));
        let replica = Arc::new(Replica::memory(&WalConfig::default(), clock.clone()));
        run(replica.clone(), clock.clone(), &data).await;
        assert_eq!(replica.store().counts(), (1, 1, 0));
        assert_eq!(clock.now(), START.plus(Duration::from_secs(15)));
    }
}
