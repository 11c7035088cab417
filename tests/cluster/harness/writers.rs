//! Writers whose every acknowledged write must survive: the load of the
//! kill and membership scenarios.
//!
//! A linearizability check ([`super::linearizable`]) needs contention on a
//! few documents; a durability check needs the opposite: every write its
//! own document, so the end state says exactly which writes happened.
//! Writer `k` creates `w<k>-0`, `w<k>-1`, ... one at a time, each with a
//! unique value, and retries a write without a definite answer on the next
//! member with the same `distgo-request-id` ([`retrying`]), until it gets
//! one or its retry window ends. Afterwards [`Written::check`] compares
//! the writes with a member's state:
//!
//! | finding | meaning |
//! |---|---|
//! | acknowledged, absent or another value | **lost**: the set broke its promise |
//! | its own create answered ALREADY_EXISTS | **applied twice**: a retry ran again instead of returning the first outcome |
//! | present, but never written | **invented** |
//! | unknown (retries ran out), present or absent | allowed: it may or may not have happened |
//!
//! Each write also keeps when its last attempt was sent and answered, so
//! a test can measure the time from a fault to the next acknowledged
//! write ([`Written::first_ack_after`]).

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use tonic::Code;

use super::{
    client::Clients,
    history::{Op, Outcome},
    load::retrying,
    state::State,
};

/// A group of writers.
#[derive(Clone, Debug)]
pub struct Writers {
    /// How many write concurrently.
    pub clients: usize,
    /// The collection they write into (full name; it must exist).
    pub collection: String,
    /// How long one write is retried.
    pub retry: Duration,
    /// The pause between two attempts.
    pub backoff: Duration,
    /// The most writes per writer (a bound besides the stop flag).
    pub max_writes: usize,
    /// A prefix for request ids, unique per run (ids outlive a run in the
    /// set's request window).
    pub run: String,
}

/// How a test steers running writers and watches their progress.
#[derive(Debug, Default)]
pub struct Control {
    /// Set to stop them (each finishes its write in progress).
    pub stop: AtomicBool,
    /// How many writes were acknowledged so far.
    pub acks: AtomicUsize,
}

impl Control {
    /// A fresh control: running, nothing acknowledged.
    pub fn new() -> Arc<Control> {
        Arc::new(Control::default())
    }

    /// Stops the writers.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Acknowledged writes so far.
    pub fn acks(&self) -> usize {
        self.acks.load(Ordering::Relaxed)
    }

    /// Waits (at most `within`) until more than `than` writes are
    /// acknowledged; whether they were.
    pub async fn wait_for_acks(&self, than: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while self.acks() <= than {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }
}

/// One write and what became of it.
#[derive(Clone, Debug)]
pub struct Write {
    /// The writer.
    pub client: usize,
    /// The document's full name.
    pub name: String,
    /// The value written.
    pub value: String,
    /// The final outcome.
    pub outcome: Outcome,
    /// The failed attempts before it: when sent, code, message.
    pub errors: Vec<(Instant, Code, String)>,
    /// When the last attempt was sent.
    pub last_sent: Instant,
    /// When the final answer came.
    pub answered: Instant,
}

impl Writers {
    /// `clients` writers into `collection`, retrying each write for 10 s.
    pub fn new(clients: usize, collection: &str, run: &str) -> Writers {
        Writers {
            clients,
            collection: collection.to_owned(),
            retry: Duration::from_secs(10),
            backoff: Duration::from_millis(50),
            max_writes: 1_000_000,
            run: run.to_owned(),
        }
    }

    /// Starts the writers against `targets` (writer `k` begins with
    /// `targets[k % n]`); they stop after their write in progress once
    /// `control` says so, or after [`Writers::max_writes`].
    pub fn spawn(
        &self,
        targets: Vec<Clients>,
        control: Arc<Control>,
    ) -> tokio::task::JoinHandle<Written> {
        let writers = self.clone();
        tokio::spawn(async move {
            let tasks: Vec<_> = (0..writers.clients)
                .map(|client| {
                    let mut mine = targets.clone();
                    mine.rotate_left(client % targets.len().max(1));
                    let (writers, control) = (writers.clone(), control.clone());
                    tokio::spawn(async move { writers.writer(client, mine, &control).await })
                })
                .collect();
            let mut writes = Vec::new();
            for task in tasks {
                match task.await {
                    Ok(mine) => writes.extend(mine),
                    Err(err) => panic!("a writer failed: {err}"),
                }
            }
            Written { writes }
        })
    }

    async fn writer(&self, client: usize, targets: Vec<Clients>, control: &Control) -> Vec<Write> {
        let mut writes = Vec::new();
        for seq in 0..self.max_writes {
            if control.stop.load(Ordering::Relaxed) {
                break;
            }
            let name = format!("{}/documents/w{client}-{seq}", self.collection);
            let value = format!(r#"{{"writer":{client},"seq":{seq}}}"#);
            let op = Op::Create {
                name: name.clone(),
                value: value.clone(),
            };
            let id = format!("{}-{client}-{seq}", self.run);
            let attempts = retrying(&targets, &op, &id, self.retry, self.backoff).await;
            if matches!(attempts.outcome, Outcome::Ok(_)) {
                control.acks.fetch_add(1, Ordering::Relaxed);
            }
            writes.push(Write {
                client,
                name,
                value,
                outcome: attempts.outcome,
                errors: attempts.errors,
                last_sent: attempts.last_sent,
                answered: Instant::now(),
            });
        }
        writes
    }
}

/// Every write of a run.
#[derive(Clone, Debug, Default)]
pub struct Written {
    /// In no particular order.
    pub writes: Vec<Write>,
}

impl Written {
    /// The acknowledged writes.
    pub fn acknowledged(&self) -> impl Iterator<Item = &Write> {
        self.writes
            .iter()
            .filter(|w| matches!(w.outcome, Outcome::Ok(_)))
    }

    /// The writes whose retries ran out without a definite answer.
    pub fn unknown(&self) -> usize {
        self.writes
            .iter()
            .filter(|w| matches!(w.outcome, Outcome::Unknown(_)))
            .count()
    }

    /// The first answer of a write acknowledged after `instant` whose last
    /// attempt was sent after it too (so the answer cannot predate it).
    pub fn first_ack_after(&self, instant: Instant) -> Option<Instant> {
        self.acknowledged()
            .filter(|w| w.last_sent >= instant)
            .map(|w| w.answered)
            .min()
    }

    /// How many failed attempts ended with each code.
    pub fn error_codes(&self) -> BTreeMap<String, usize> {
        self.error_codes_since(None)
    }

    /// [`Written::error_codes`] of the attempts sent at or after `since`.
    pub fn error_codes_since(&self, since: Option<Instant>) -> BTreeMap<String, usize> {
        let mut codes = BTreeMap::new();
        for (sent, code, _) in self.writes.iter().flat_map(|w| &w.errors) {
            if since.is_none_or(|since| *sent >= since) {
                *codes.entry(format!("{code:?}")).or_default() += 1;
            }
        }
        codes
    }

    /// The first message seen with each code, to say what an error was.
    pub fn error_samples(&self) -> BTreeMap<String, String> {
        let mut samples = BTreeMap::new();
        for (_, code, message) in self.writes.iter().flat_map(|w| &w.errors) {
            samples
                .entry(format!("{code:?}"))
                .or_insert_with(|| message.clone());
        }
        samples
    }

    /// What is wrong between the writes and `state` (see the module docs):
    /// one line per problem, empty when none.
    pub fn check(&self, state: &State, collection: &str) -> Vec<String> {
        let mut problems = Vec::new();
        for write in &self.writes {
            let held = state.get(&write.name).map(|r| r.content.as_str());
            match &write.outcome {
                Outcome::Ok(_) if held != Some(write.value.as_str()) => {
                    problems.push(format!("lost: {} (holds {held:?})", write.name));
                }
                Outcome::Failed(Code::AlreadyExists) => problems.push(format!(
                    "applied twice: {} answered ALREADY_EXISTS to its own retry",
                    write.name
                )),
                Outcome::Failed(code) => {
                    problems.push(format!("failed: {} answered {code:?}", write.name));
                }
                _ => {}
            }
        }
        let written: BTreeSet<&str> = self.writes.iter().map(|w| w.name.as_str()).collect();
        let prefix = format!("{collection}/documents/");
        for name in state.keys().filter(|name| name.starts_with(&prefix)) {
            if !written.contains(name.as_str()) {
                problems.push(format!("invented: {name}"));
            }
        }
        problems
    }

    /// A line for the test's output.
    pub fn summary(&self) -> String {
        format!(
            "{} writes: {} acknowledged, {} unknown; errors on the way: {:?}, e.g. {:?}",
            self.writes.len(),
            self.acknowledged().count(),
            self.unknown(),
            self.error_codes(),
            self.error_samples()
        )
    }
}
