//! Concurrent clients on a few documents, recording a [`History`].
//!
//! A linearizability check is only as strong as the contention in its
//! history: many clients on few documents, reads between writes, creates
//! racing deletes. [`Load`] runs `clients` tasks, each a loop of random
//! operations (a seeded mix of Get, Create, Update and Delete) on a small
//! set of documents, one operation at a time per client, and records each
//! with its invoke and return times.
//!
//! A client that gets no definite answer backs off ([`Load::backoff`])
//! before its next operation, as an application would.
//!
//! Every value written is unique (`{"client":3,"seq":17}`), so a read that
//! returns it names the write it saw. Every loop is bounded twice, by a
//! duration and by a count of operations, and every operation by the
//! client's deadline (see `client`), so a load against a frozen cluster
//! still ends on time, with unknown outcomes.

use std::time::{Duration, Instant};

use distgo_db::proto::database::{
    Collection, CreateCollectionRequest, CreateDatabaseRequest, CreateDocumentRequest, Database,
    DeleteDocumentRequest, Document, GetDocumentRequest, UpdateDocumentRequest,
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use tonic::{Code, metadata::MetadataValue};

use super::{
    HarnessError, POLL,
    client::{Clients, outcome_of},
    history::{Event, History, Op, Outcome},
};

/// The header that makes a retried write one operation.
pub const REQUEST_ID: &str = "distgo-request-id";

/// The weights of each operation kind (relative, not percentages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mix {
    /// GetDocument.
    pub get: u32,
    /// CreateDocument.
    pub create: u32,
    /// UpdateDocument.
    pub update: u32,
    /// DeleteDocument.
    pub delete: u32,
}

impl Mix {
    /// Reads half the time; creates and updates often, deletes rarely
    /// enough that documents mostly exist.
    pub const DEFAULT: Mix = Mix {
        get: 10,
        create: 3,
        update: 5,
        delete: 2,
    };

    /// Only writes (a kill test's load).
    pub const WRITES: Mix = Mix {
        get: 0,
        create: 3,
        update: 5,
        delete: 2,
    };
}

/// A load: who, on what, for how long.
#[derive(Clone, Debug)]
pub struct Load {
    /// How many concurrent clients.
    pub clients: usize,
    /// The documents' full names (their database and collection must
    /// exist: see [`ensure_collection`]).
    pub documents: Vec<String>,
    /// Stop invoking after this long.
    pub duration: Duration,
    /// Stop after this many operations per client.
    pub max_ops: usize,
    /// The operation mix.
    pub mix: Mix,
    /// The seed; client `k` draws from `seed + k`.
    pub seed: u64,
    /// How long a client waits after an unknown outcome before its next
    /// operation, as a real client backs off before trying again. Without
    /// it, a broken connection fails calls in microseconds and floods the
    /// history with unknown operations, each of which a checker must keep
    /// open to the end of the history.
    pub backoff: Duration,
    /// How long a write with no definite answer is retried, with the same
    /// `distgo-request-id`, on the next member ([`retrying`]); zero: never.
    /// A retried write is one event, from its first invocation to its last
    /// answer: the request id makes the attempts one operation.
    pub retry: Duration,
    /// Whether reads ask for `distgo-read: local` (possibly stale).
    pub local_reads: bool,
    /// The number of this load's first client, so that loads run side
    /// by side number their clients apart.
    pub first_client: usize,
}

impl Load {
    /// `clients` clients on `documents` (full names) for `duration`.
    pub fn new(clients: usize, documents: Vec<String>, duration: Duration, seed: u64) -> Load {
        Load {
            clients,
            documents,
            duration,
            max_ops: 100_000,
            mix: Mix::DEFAULT,
            seed,
            backoff: Duration::from_millis(100),
            retry: Duration::ZERO,
            local_reads: false,
            first_client: 0,
        }
    }

    /// Runs the load: client `k` talks to `targets[k % targets.len()]`
    /// (and retries on the following ones, see [`Load::retry`]).
    /// Returns when every client stopped; spawn it to inject faults meanwhile.
    pub async fn run(self, targets: Vec<Clients>) -> History {
        self.run_from(targets, Instant::now()).await
    }

    /// [`Load::run`] on a clock that starts at `start`, so that the
    /// histories of loads run side by side can be merged.
    pub async fn run_from(self, targets: Vec<Clients>, start: Instant) -> History {
        let mut history = History {
            start,
            events: Vec::new(),
        };
        if targets.is_empty() || self.documents.is_empty() {
            return history;
        }
        let start = history.start;
        let tasks: Vec<_> = (0..self.clients)
            .map(|client| {
                let mut mine = targets.clone();
                mine.rotate_left(client % targets.len());
                let load = self.clone();
                tokio::spawn(async move { load.client(client, mine, start).await })
            })
            .collect();
        for task in tasks {
            // A panicking client is a harness bug: surface it.
            match task.await {
                Ok(events) => history.extend(events),
                Err(err) => panic!("a load client failed: {err}"),
            }
        }
        history
    }

    /// One client's loop.
    async fn client(&self, client: usize, targets: Vec<Clients>, start: Instant) -> Vec<Event> {
        let mut rng = StdRng::seed_from_u64(self.seed.wrapping_add(client as u64));
        let mut events = Vec::new();
        for seq in 0..self.max_ops {
            if start.elapsed() >= self.duration {
                break;
            }
            let client = client + self.first_client;
            let name = &self.documents[rng.random_range(0..self.documents.len())];
            let value = format!(r#"{{"client":{client},"seq":{seq}}}"#);
            let op = self.pick(&mut rng, name.clone(), value);
            let invoke = start.elapsed();
            let outcome = if self.retry.is_zero() || matches!(op, Op::Get { .. }) {
                outcome_of_answer(send(&targets[0], &op, None, self.local_reads).await)
            } else {
                let id = format!("load-{}-{client}-{seq}", self.seed);
                retrying(&targets, &op, &id, self.retry, self.backoff)
                    .await
                    .outcome
            };
            let unknown = matches!(outcome, Outcome::Unknown(_));
            events.push(Event {
                client,
                op,
                invoke,
                complete: start.elapsed(),
                outcome,
            });
            if unknown {
                tokio::time::sleep(self.backoff).await;
            }
        }
        events
    }

    fn pick(&self, rng: &mut StdRng, name: String, value: String) -> Op {
        let Mix {
            get,
            create,
            update,
            delete,
        } = self.mix;
        let roll = rng.random_range(0..(get + create + update + delete).max(1));
        if roll < get {
            Op::Get { name }
        } else if roll < get + create {
            Op::Create { name, value }
        } else if roll < get + create + update {
            Op::Update { name, value }
        } else {
            Op::Delete { name }
        }
    }
}

/// Performs one operation and classifies its answer.
pub async fn perform(clients: &Clients, op: &Op) -> Outcome {
    outcome_of_answer(send(clients, op, None, false).await)
}

fn outcome_of_answer(answer: Result<Option<String>, tonic::Status>) -> Outcome {
    match answer {
        Ok(value) => Outcome::Ok(value),
        Err(status) => outcome_of(&status),
    }
}

/// What [`retrying`] saw: the final outcome and every error on the way.
#[derive(Clone, Debug)]
pub struct Attempts {
    /// The last answer, or unknown when the retries ran out.
    pub outcome: Outcome,
    /// Each failed attempt: when it was sent, its code and message.
    pub errors: Vec<(Instant, Code, String)>,
    /// When the last attempt was sent.
    pub last_sent: Instant,
}

/// Sends `op` with request id `id` to `targets[0]`, and while the answer
/// is not definite, again (same id) to the next target, after `backoff`,
/// until `within` has passed since the first attempt. This is what an
/// application with a list of members does; the request id is what makes
/// it safe: the set applies the write once and answers every attempt with
/// the first outcome.
pub async fn retrying(
    targets: &[Clients],
    op: &Op,
    id: &str,
    within: Duration,
    backoff: Duration,
) -> Attempts {
    let first = Instant::now();
    let mut errors = Vec::new();
    // Bounded by count too: every attempt takes at least `backoff`.
    let most = (within.as_millis() / backoff.as_millis().max(1)) as usize + 1;
    for attempt in 0..most.max(1) {
        let target = &targets[attempt % targets.len().max(1)];
        let last_sent = Instant::now();
        let outcome = match send(target, op, Some(id), false).await {
            Ok(value) => Outcome::Ok(value),
            Err(status) => {
                errors.push((last_sent, status.code(), status.message().to_owned()));
                outcome_of(&status)
            }
        };
        if !matches!(outcome, Outcome::Unknown(_)) || first.elapsed() + backoff >= within {
            return Attempts {
                outcome,
                errors,
                last_sent,
            };
        }
        tokio::time::sleep(backoff).await;
    }
    Attempts {
        outcome: Outcome::Unknown(format!("{} attempts without an answer", most.max(1))),
        errors,
        last_sent: Instant::now(),
    }
}

/// Sends one operation: a write with `id` as its `distgo-request-id`, a
/// read as a local read when `local`.
pub async fn send(
    clients: &Clients,
    op: &Op,
    id: Option<&str>,
    local: bool,
) -> Result<Option<String>, tonic::Status> {
    let mut documents = clients.documents.clone();
    match op {
        Op::Get { name } => {
            let request = clients.read_request(local, GetDocumentRequest { name: name.clone() });
            clients
                .call(documents.get_document(request))
                .await
                .map(|d| Some(d.value))
        }
        Op::Create { name, value } => {
            let (parent, document_id) = split_name(name);
            let request = with_id(
                clients,
                id,
                CreateDocumentRequest {
                    parent: parent.to_owned(),
                    document_id: document_id.to_owned(),
                    document: Some(document(value)),
                },
            );
            clients
                .call(documents.create_document(request))
                .await
                .map(|d| Some(d.value))
        }
        Op::Update { name, value } => {
            let mut written = document(value);
            written.name.clone_from(name);
            let request = with_id(
                clients,
                id,
                UpdateDocumentRequest {
                    document: Some(written),
                    update_mask: None,
                },
            );
            clients
                .call(documents.update_document(request))
                .await
                .map(|d| Some(d.value))
        }
        Op::Delete { name } => {
            let request = with_id(clients, id, DeleteDocumentRequest { name: name.clone() });
            clients
                .call(documents.delete_document(request))
                .await
                .map(|()| None)
        }
    }
}

/// A request carrying `id` (when given) as its `distgo-request-id`.
fn with_id<T>(clients: &Clients, id: Option<&str>, message: T) -> tonic::Request<T> {
    let mut request = clients.request(message);
    if let Some(value) = id.and_then(|id| MetadataValue::try_from(id).ok()) {
        request.metadata_mut().insert(REQUEST_ID, value);
    }
    request
}

fn document(value: &str) -> Document {
    Document {
        value: value.to_owned(),
        ..Document::default()
    }
}

/// `databases/d/collections/c/documents/x` → (`databases/d/collections/c`, `x`).
fn split_name(name: &str) -> (&str, &str) {
    name.rsplit_once("/documents/").unwrap_or((name, ""))
}

/// The full names of `count` documents `doc-0`, `doc-1`, ... in a collection.
pub fn document_names(database: &str, collection: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("databases/{database}/collections/{collection}/documents/doc-{i}"))
        .collect()
}

/// Creates database `database` and its collection `collection` unless they
/// exist, retrying unknown outcomes (a leader election, a restart) for at
/// most `within`.
pub async fn ensure_collection(
    clients: &Clients,
    database: &str,
    collection: &str,
    within: Duration,
) -> Result<(), HarnessError> {
    let deadline = Instant::now() + within;
    loop {
        let mut databases = clients.databases.clone();
        let mut collections = clients.collections.clone();
        let created = async {
            let request = clients.request(CreateDatabaseRequest {
                database_id: database.to_owned(),
                database: Some(Database {
                    display_name: database.to_owned(),
                    ..Database::default()
                }),
            });
            tolerate_existing(clients.call(databases.create_database(request)).await)?;
            let request = clients.request(CreateCollectionRequest {
                parent: format!("databases/{database}"),
                collection_id: collection.to_owned(),
                collection: Some(Collection::default()),
            });
            tolerate_existing(clients.call(collections.create_collection(request)).await)
        };
        match created.await {
            Ok(()) => return Ok(()),
            Err(status) if Instant::now() >= deadline => {
                return Err(HarnessError::Timeout {
                    what: format!(
                        "databases/{database}/collections/{collection} on {} (last: {status})",
                        clients.address
                    ),
                    after: within,
                });
            }
            Err(_) => tokio::time::sleep(POLL * 5).await,
        }
    }
}

fn tolerate_existing<T>(answer: Result<T, tonic::Status>) -> Result<(), tonic::Status> {
    match answer {
        Ok(_) => Ok(()),
        Err(status) if status.code() == Code::AlreadyExists => Ok(()),
        Err(status) => Err(status),
    }
}
