//! Loading many documents: lines → batches → transactions in flight.
//!
//! ```text
//!  reader thread                      dispatcher (async)              worker
//!  ─────────────                      ──────────────────              ──────
//!  read line, parse, name it  ─┐
//!  ... --batch N lines ...     ├─► Batch ─► at most --parallel P ─► Begin
//!  collection line (db import) ┘            transactions in flight   Execute (≤ 1 MiB each)
//!                                  Collection ─► CreateCollection    Commit
//! ```
//!
//! **Why transactions.** One Commit stores N documents with one log
//! record and one lock acquisition, instead of N round trips; P of them in
//! flight keep the connection and both cores busy while the reader parses
//! the next lines. The reader runs on its own thread, so parsing JSON never
//! delays the sending.
//!
//! **When a batch is refused.** A commit is all or nothing, so one bad
//! document (a duplicate id, a value over 4,096 characters) would sink
//! N - 1 good ones. When Execute answers INVALID_ARGUMENT or Commit
//! FAILED_PRECONDITION, nothing of the batch was stored, and its documents
//! are sent again one CreateDocument at a time: the good ones are stored,
//! each refused one is reported with its line number. Any other error
//! (the worker gone, a deadline, authentication) stops the import: retrying
//! document by document would only repeat it, and after an unanswered
//! Commit nobody knows whether the batch was stored.
//!
//! **What a user is told.** Lines that are not documents are *skipped* and
//! documents the worker refused *failed*; both are reported as
//! `line N: why` as they happen, and counted in the summary. `--strict`
//! stops at the first. At a bad line, every line before it is still sent
//! and none after, so the result does not depend on timing; at a refused
//! document, no further batch is sent, and the batches already committed
//! stay stored (each is a transaction of its own).

use std::{path::Path, sync::Arc};

use tokio::{sync::mpsc, task::JoinSet};
use tonic::{Code, Status};

use super::{
    Context,
    args::LoadArgs,
    error::CliError,
    input::{Input, open_input},
    lines::{self, IdRule},
    path::{Kind, resolve},
    progress::{Summary, Tally},
};
use crate::{
    ids::generate_id,
    names::IdKind,
    proto::database::{
        BeginRequest, Collection, CommitRequest, CreateCollectionRequest, CreateDocumentRequest,
        Document, EntityType, ExecuteRequest, GetCollectionRequest, MutationType, Operation,
        RollbackRequest,
    },
};

/// The most bytes of operations in one Execute: well under the worker's
/// 4 MiB request limit, whatever the size of the documents.
const MAX_EXECUTE_BYTES: usize = 1 << 20;

/// What one input line asks for.
#[derive(Debug)]
pub enum Record {
    /// Store a document.
    Document {
        /// Its collection's full name.
        parent: Arc<str>,
        /// Its id.
        id: String,
        /// Its value.
        value: String,
    },
    /// Create a collection (a database dump's collection line).
    Collection {
        /// Its full name.
        name: String,
        /// Its description.
        description: String,
    },
}

/// A document waiting to be sent, with the line it came from.
#[derive(Debug)]
struct Pending {
    line: u64,
    parent: Arc<str>,
    id: String,
    value: String,
}

enum Step {
    Batch(Vec<Pending>),
    Collection {
        line: u64,
        name: String,
        description: String,
    },
}

/// `doc import`: JSON lines into a collection.
pub async fn documents(
    cx: &mut Context,
    collection: &str,
    file: &Path,
    ids: IdRule,
    load: LoadArgs,
) -> Result<(), CliError> {
    let parent = resolve(collection, Kind::Collection)?;
    // Fail before reading anything when the collection is not there.
    let request = GetCollectionRequest {
        name: parent.clone(),
    };
    cx.clients.collections().get_collection(request).await?;
    let input = open_input(file)?;
    let database = database_of(parent.clone());
    let parent: Arc<str> = parent.into();
    let mut rng: rand::rngs::StdRng = rand::SeedableRng::from_os_rng();
    let parse = move |line: &str| {
        let parsed = lines::parse(line, &ids)?;
        let id = parsed
            .id
            .unwrap_or_else(|| generate_id(IdKind::Child, &mut rng));
        Ok(Record::Document {
            parent: parent.clone(),
            id,
            value: parsed.value.into_owned(),
        })
    };
    let summary = load_lines(cx, database, input, 0, load, parse).await?;
    finish(cx, summary)
}

/// `databases/a` of `databases/a/collections/b`.
pub fn database_of(collection: String) -> String {
    match collection.find("/collections/") {
        Some(end) => collection[..end].to_owned(),
        None => collection,
    }
}

/// Prints the summary; an import that lost lines is an error (exit 1).
pub fn finish(cx: &mut Context, summary: Summary) -> Result<(), CliError> {
    cx.printer.one(&summary)?;
    if summary.skipped + summary.failed > 0 {
        return Err(CliError::Incomplete {
            skipped: summary.skipped,
            failed: summary.failed,
        });
    }
    Ok(())
}

/// Reads `input` (whose first `lines_before` lines were consumed already)
/// and sends its records to `database`, as the module docs describe.
pub async fn load_lines(
    cx: &mut Context,
    database: String,
    input: Input,
    lines_before: u64,
    load: LoadArgs,
    parse: impl FnMut(&str) -> Result<Record, String> + Send + 'static,
) -> Result<Summary, CliError> {
    let tally = Tally::new(input.len, load.strict, "importing");
    let parallel = load.parallel as usize;
    let (steps, received) = mpsc::channel(parallel);
    let reader = {
        let tally = tally.clone();
        let batch = load.batch as usize;
        tokio::task::spawn_blocking(move || read(input, lines_before, batch, parse, &steps, &tally))
    };
    let sent = dispatch(cx, &database, received, &tally, parallel).await;
    if sent.is_err() {
        tally.stop();
    }
    let read = reader
        .await
        .map_err(|err| CliError::io("-", std::io::Error::other(err)))?;
    let summary = tally.finish();
    match (sent, read) {
        (Err(status), _) => {
            cx.printer.one(&summary)?;
            Err(status.into())
        }
        (Ok(()), Err(err)) => {
            cx.printer.one(&summary)?;
            Err(err)
        }
        (Ok(()), Ok(())) => Ok(summary),
    }
}

/// The reader thread: lines to batches, until the end, a stop, or the
/// dispatcher going away.
fn read(
    mut input: Input,
    lines_before: u64,
    batch: usize,
    mut parse: impl FnMut(&str) -> Result<Record, String>,
    steps: &mpsc::Sender<Step>,
    tally: &Tally,
) -> Result<(), CliError> {
    let mut bytes = Vec::with_capacity(8192);
    let mut line = lines_before;
    let mut pending = Vec::with_capacity(batch);
    loop {
        bytes.clear();
        let n = input
            .reader
            .read_until(b'\n', &mut bytes)
            .map_err(|err| CliError::io(&input.path, err))?;
        if n == 0 || tally.stopped() {
            break;
        }
        line += 1;
        tally.read(n as u64);
        let text = match std::str::from_utf8(trim_line_break(&bytes)) {
            Ok(text) if line == 1 => text.trim_start_matches('\u{feff}'),
            Ok(text) => text,
            Err(err) if tally.bad_line(line, &format!("not UTF-8: {err}")) => break,
            Err(_) => continue,
        };
        if text.trim().is_empty() {
            continue;
        }
        match parse(text) {
            Ok(Record::Document { parent, id, value }) => {
                pending.push(Pending {
                    line,
                    parent,
                    id,
                    value,
                });
                if pending.len() == batch {
                    let full = std::mem::replace(&mut pending, Vec::with_capacity(batch));
                    if steps.blocking_send(Step::Batch(full)).is_err() {
                        return Ok(());
                    }
                }
            }
            Ok(Record::Collection { name, description }) => {
                let step = Step::Collection {
                    line,
                    name,
                    description,
                };
                if steps.blocking_send(step).is_err() {
                    return Ok(());
                }
            }
            Err(why) => {
                if tally.bad_line(line, &why) {
                    break;
                }
            }
        }
    }
    if !pending.is_empty() {
        let _ = steps.blocking_send(Step::Batch(pending));
    }
    Ok(())
}

fn trim_line_break(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

/// Keeps up to `parallel` batches in flight; creates collections in line order.
async fn dispatch(
    cx: &mut Context,
    database: &str,
    mut steps: mpsc::Receiver<Step>,
    tally: &Arc<Tally>,
    parallel: usize,
) -> Result<(), Status> {
    let mut running = JoinSet::new();
    while let Some(step) = steps.recv().await {
        if tally.stopped() {
            break;
        }
        match step {
            Step::Batch(batch) => {
                while running.len() >= parallel {
                    joined(running.join_next().await)?;
                }
                // A batch that just ended may have stopped a strict run.
                if tally.stopped() {
                    break;
                }
                let sender = Sender {
                    clients: cx.clients.clone(),
                    database: database.to_owned(),
                    tally: tally.clone(),
                };
                running.spawn(sender.send(batch));
            }
            Step::Collection {
                line,
                name,
                description,
            } => create_collection(cx, line, name, description, tally).await?,
        }
    }
    while let Some(result) = running.join_next().await {
        joined(Some(result))?;
    }
    Ok(())
}

fn joined(
    result: Option<Result<Result<(), Status>, tokio::task::JoinError>>,
) -> Result<(), Status> {
    match result {
        Some(Ok(sent)) => sent,
        Some(Err(err)) => Err(Status::internal(format!("a sender task failed: {err}"))),
        None => Ok(()),
    }
}

async fn create_collection(
    cx: &mut Context,
    line: u64,
    name: String,
    description: String,
    tally: &Tally,
) -> Result<(), Status> {
    let (parent, id) = match name.rsplit_once("/collections/") {
        Some((parent, id)) => (parent.to_owned(), id.to_owned()),
        None => (String::new(), name),
    };
    let request = CreateCollectionRequest {
        parent,
        collection_id: id,
        collection: Some(Collection {
            description,
            ..Collection::default()
        }),
    };
    match cx.clients.collections().create_collection(request).await {
        Ok(_) => Ok(()),
        Err(status) if refusal(status.code()) => {
            tally.refused(line, &status);
            Ok(())
        }
        Err(status) => Err(status),
    }
}

/// Whether a status refuses this request only (the next may succeed),
/// rather than saying that the worker or the connection is unusable.
fn refusal(code: Code) -> bool {
    matches!(
        code,
        Code::InvalidArgument | Code::AlreadyExists | Code::NotFound | Code::FailedPrecondition
    )
}

/// Sends one batch; owns what a spawned task needs.
struct Sender {
    clients: super::connect::Clients,
    database: String,
    tally: Arc<Tally>,
}

enum Refused {
    /// Nothing of the batch was stored; try its documents one by one.
    Batch,
    /// Stop the import.
    Fatal(Status),
}

impl Sender {
    async fn send(self, batch: Vec<Pending>) -> Result<(), Status> {
        match self.transact(&batch).await {
            Ok(()) => {
                self.tally.done(batch.len() as u64);
                Ok(())
            }
            Err(Refused::Batch) => self.one_by_one(batch).await,
            Err(Refused::Fatal(status)) => Err(status),
        }
    }

    async fn transact(&self, batch: &[Pending]) -> Result<(), Refused> {
        let mut tx = self.clients.transactions();
        let database_name = self.database.clone();
        let begin = BeginRequest {
            database_name: database_name.clone(),
        };
        let transaction_id = tx
            .begin(begin)
            .await
            .map_err(Refused::Fatal)?
            .into_inner()
            .transaction_id;
        for chunk in chunks(batch) {
            let request = ExecuteRequest {
                database_name: database_name.clone(),
                transaction_id: transaction_id.clone(),
                operations: chunk.iter().map(operation).collect(),
            };
            if let Err(status) = tx.execute(request).await {
                let rollback = RollbackRequest {
                    database_name: database_name.clone(),
                    transaction_id: transaction_id.clone(),
                };
                let _ = tx.rollback(rollback).await;
                return Err(match status.code() {
                    Code::InvalidArgument => Refused::Batch,
                    _ => Refused::Fatal(status),
                });
            }
        }
        let commit = CommitRequest {
            database_name,
            transaction_id,
        };
        match tx.commit(commit).await {
            Ok(_) => Ok(()),
            Err(status) if status.code() == Code::FailedPrecondition => Err(Refused::Batch),
            Err(status) => Err(Refused::Fatal(status)),
        }
    }

    async fn one_by_one(self, batch: Vec<Pending>) -> Result<(), Status> {
        let mut documents = self.clients.documents();
        for pending in batch {
            if self.tally.stopped() {
                break;
            }
            let request = CreateDocumentRequest {
                parent: pending.parent.to_string(),
                document_id: pending.id,
                document: Some(Document {
                    value: pending.value,
                    ..Document::default()
                }),
            };
            match documents.create_document(request).await {
                Ok(_) => self.tally.done(1),
                Err(status) if refusal(status.code()) => self.tally.refused(pending.line, &status),
                Err(status) => return Err(status),
            }
        }
        Ok(())
    }
}

fn operation(pending: &Pending) -> Operation {
    Operation {
        mutation_type: MutationType::Create.into(),
        entity_type: EntityType::Document.into(),
        name: format!("{}/documents/{}", pending.parent, pending.id),
        value: pending.value.clone(),
    }
}

/// Splits a batch into runs of at most [`MAX_EXECUTE_BYTES`] (at least one
/// document each).
fn chunks(batch: &[Pending]) -> impl Iterator<Item = &[Pending]> {
    let mut rest = batch;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0;
        let mut end = 0;
        while end < rest.len() && (end == 0 || bytes + weight(&rest[end]) <= MAX_EXECUTE_BYTES) {
            bytes += weight(&rest[end]);
            end += 1;
        }
        let (chunk, tail) = rest.split_at(end);
        rest = tail;
        Some(chunk)
    })
}

fn weight(pending: &Pending) -> usize {
    pending.parent.len() + pending.id.len() + pending.value.len() + 32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(size: usize) -> Pending {
        Pending {
            line: 1,
            parent: Arc::from("p"),
            id: "i".into(),
            value: "x".repeat(size),
        }
    }

    #[test]
    fn chunks_stay_under_the_byte_bound_and_keep_every_document() {
        let batch: Vec<Pending> = (0..10).map(|_| pending(300_000)).collect();
        let sizes: Vec<usize> = chunks(&batch).map(<[Pending]>::len).collect();
        assert_eq!(sizes, vec![3, 3, 3, 1]);
        let huge = vec![pending(2 * MAX_EXECUTE_BYTES)];
        assert_eq!(chunks(&huge).count(), 1);
    }

    #[test]
    fn the_database_of_a_collection() {
        assert_eq!(
            database_of("databases/a/collections/b".into()),
            "databases/a"
        );
    }
}
