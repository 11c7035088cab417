//! A linearizability checker for histories of document operations.
//!
//! A replica set promises that it behaves like *one* copy of the data:
//! every operation seems to take effect at one instant somewhere between
//! the moment a client sent it and the moment the answer came back, and
//! every answer is what that single copy would have given at that instant.
//! A history of concurrent operations is **linearizable** when such an
//! order of instants exists. This module searches for one.
//!
//! ```text
//!   client 1  ├── Update d = A ──────────┤
//!   client 2        ├── Get d ─┤ → A          A is visible before client 1's
//!   client 3                        ├── Get d ─┤ → (none)     answer came...
//!                                                 ...but then lost: NOT linearizable
//! ```
//!
//! ## What it checks
//!
//! Each document is an independent register (`model.rs`) that is absent or
//! holds one value, with four operations: Get, Create (fails with
//! ALREADY_EXISTS when present), Update (NOT_FOUND when absent) and Delete
//! (NOT_FOUND when absent). Because operations on different documents
//! never interact, a history is linearizable exactly when each document's
//! sub-history is (linearizability is *local*, Herlihy & Wing 1990), so
//! [`check`] splits the history by document and searches each part alone:
//! the cost grows with the operations on one document, not the whole run.
//!
//! An answer may be **unknown** ([`Outcome::Unknown`]): a timeout, a reset
//! connection, UNAVAILABLE from a member that lost its leader. Such a write
//! may have taken effect at any instant after its invocation, even after
//! the end of the run, or never. The checker models this by letting the
//! operation return "at infinity" and accepting any answer from it; taking
//! effect after everything else is indistinguishable from never. An
//! unknown Get observed nothing and is dropped.
//!
//! ## How it searches (`search.rs`)
//!
//! The algorithm is Wing and Gong's (1993) with Lowe's memoization (2017),
//! as in Porcupine: walk the invocations and returns in time order; at an
//! invocation, try to linearize that operation now (if the model accepts
//! its answer in the current state) and go on; at a return whose operation
//! was not linearized yet, the current choice was wrong: backtrack. A
//! cache of (set of linearized operations, state) pairs already explored
//! prunes the search, which is otherwise exponential.
//!
//! Even with the cache, the search can explode on a long history with many
//! unknown writes, so it is **bounded** ([`Limits`]): past a number of
//! steps or a deadline it stops and says so ([`Verdict::GaveUp`]), which is
//! neither a pass nor a failure. A caller decides what a give-up means
//! (usually: a failed test that says to shorten the run).
//!
//! Ties count as overlap: an operation invoked at the very instant another
//! returned may be ordered before it. The recorded instants come from
//! different clients, so an equal timestamp says nothing about which came
//! first, and the checker must never reject a history on a coin toss.
//!
//! ## Using it
//!
//! The types are plain data, independent of any worker or transport: a
//! test records [`Operation`]s in its own way and converts them.
//!
//! ```
//! use std::time::Duration;
//! use distgo_conformance::linearizability::{check, Action, Limits, Operation, Outcome};
//!
//! let ms = Duration::from_millis;
//! let history = vec![
//!     Operation::new(0, "d", Action::Create("A".into()), ms(0), ms(10), Outcome::Ok(Some("A".into()))),
//!     // A read that starts after the create returned must see it.
//!     Operation::new(1, "d", Action::Get, ms(11), ms(12), Outcome::NotFound),
//! ];
//! let report = check(&history, Limits::default());
//! assert!(report.is_violation(), "{report}");
//! ```

mod model;
mod search;
#[cfg(test)]
mod tests;

use std::{
    collections::BTreeMap,
    fmt,
    time::{Duration, Instant},
};

pub use self::search::Violation;

/// What an operation asked of one document.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read the document.
    Get,
    /// Create it with this value (fails when it exists).
    Create(String),
    /// Replace its value (fails when it is absent).
    Update(String),
    /// Delete it (fails when it is absent).
    Delete,
}

/// What came back.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Success: the document's value as returned (Get, Create, Update), or
    /// `None` (Delete).
    Ok(Option<String>),
    /// NOT_FOUND: the document was absent (nothing changed).
    NotFound,
    /// ALREADY_EXISTS: the document was present (nothing changed).
    AlreadyExists,
    /// No definite answer: the operation may have taken effect at any time
    /// after its invocation, or never.
    Unknown,
}

/// One operation of one client on one document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// Which client; shown in reports (a client's operations do not
    /// overlap, but the checker does not rely on it).
    pub client: usize,
    /// The document (any key: its full name, say).
    pub key: String,
    /// What was asked.
    pub action: Action,
    /// When it was sent, on a clock shared by every client.
    pub invoke: Duration,
    /// When the answer came (ignored for [`Outcome::Unknown`]; a value
    /// before `invoke` is read as `invoke`).
    pub complete: Duration,
    /// What came back.
    pub outcome: Outcome,
}

impl Operation {
    /// An operation from its parts.
    pub fn new(
        client: usize,
        key: impl Into<String>,
        action: Action,
        invoke: Duration,
        complete: Duration,
        outcome: Outcome,
    ) -> Operation {
        Operation {
            client,
            key: key.into(),
            action,
            invoke,
            complete,
            outcome,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = match &self.action {
            Action::Get => "get".to_owned(),
            Action::Create(v) => format!("create {v}"),
            Action::Update(v) => format!("update {v}"),
            Action::Delete => "delete".to_owned(),
        };
        let outcome = match &self.outcome {
            Outcome::Ok(Some(v)) => format!("ok {v}"),
            Outcome::Ok(None) => "ok".to_owned(),
            Outcome::NotFound => "NOT_FOUND".to_owned(),
            Outcome::AlreadyExists => "ALREADY_EXISTS".to_owned(),
            Outcome::Unknown => "unknown".to_owned(),
        };
        let end = if self.outcome == Outcome::Unknown {
            "…".to_owned()
        } else {
            format!("{:.3}s", self.complete.as_secs_f64())
        };
        write!(
            f,
            "client {} {action} → {outcome} [{:.3}s, {end}]",
            self.client,
            self.invoke.as_secs_f64()
        )
    }
}

/// How much a check may spend before it gives up.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The most search steps per document.
    pub steps: u64,
    /// The longest the whole check may take.
    pub time: Duration,
}

impl Default for Limits {
    /// Five million steps per document, one minute in all: seconds for a
    /// histories of a few thousand operations per document.
    fn default() -> Limits {
        Limits {
            steps: 5_000_000,
            time: Duration::from_secs(60),
        }
    }
}

/// The verdict on one document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// An order was found.
    Linearizable,
    /// No order exists; the violation says where the search got stuck.
    NotLinearizable(Violation),
    /// The search ran out of steps or time before deciding.
    GaveUp {
        /// Steps taken.
        steps: u64,
        /// Why it stopped.
        reason: String,
    },
}

/// One document's part of a [`Report`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentReport {
    /// The document.
    pub key: String,
    /// How many operations were checked (unknown Gets are not).
    pub operations: usize,
    /// Search steps taken.
    pub steps: u64,
    /// The verdict.
    pub verdict: Verdict,
}

/// The verdict on a whole history, document by document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// One entry per document, in key order.
    pub documents: Vec<DocumentReport>,
    /// How long the check took.
    pub elapsed: Duration,
}

impl Report {
    /// Whether every document's history is linearizable.
    pub fn is_linearizable(&self) -> bool {
        self.documents
            .iter()
            .all(|d| d.verdict == Verdict::Linearizable)
    }

    /// Whether some document's history is proven not linearizable.
    pub fn is_violation(&self) -> bool {
        self.documents
            .iter()
            .any(|d| matches!(d.verdict, Verdict::NotLinearizable(_)))
    }

    /// Whether the check gave up on some document (and found no violation).
    pub fn gave_up(&self) -> bool {
        !self.is_violation()
            && self
                .documents
                .iter()
                .any(|d| matches!(d.verdict, Verdict::GaveUp { .. }))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let overall = if self.is_linearizable() {
            "linearizable"
        } else if self.is_violation() {
            "NOT linearizable"
        } else {
            "UNDECIDED (the checker gave up)"
        };
        writeln!(
            f,
            "{overall}: {} documents checked in {:?}",
            self.documents.len(),
            self.elapsed
        )?;
        for document in &self.documents {
            write!(
                f,
                "  {}: {} operations, {} steps: ",
                document.key, document.operations, document.steps
            )?;
            match &document.verdict {
                Verdict::Linearizable => writeln!(f, "linearizable")?,
                Verdict::NotLinearizable(violation) => writeln!(f, "{violation}")?,
                Verdict::GaveUp { reason, .. } => writeln!(f, "gave up: {reason}")?,
            }
        }
        Ok(())
    }
}

/// Checks a history: splits it by document and searches each part for an
/// order, within `limits`.
pub fn check(history: &[Operation], limits: Limits) -> Report {
    let started = Instant::now();
    let deadline = started + limits.time;
    let mut by_key: BTreeMap<&str, Vec<Operation>> = BTreeMap::new();
    for op in history {
        if op.action == Action::Get && op.outcome == Outcome::Unknown {
            continue;
        }
        by_key.entry(&op.key).or_default().push(op.clone());
    }
    let documents = by_key
        .into_iter()
        .map(|(key, ops)| {
            let (verdict, steps) = search::linearize(&ops, limits.steps, deadline);
            DocumentReport {
                key: key.to_owned(),
                operations: ops.len(),
                steps,
                verdict,
            }
        })
        .collect();
    Report {
        documents,
        elapsed: started.elapsed(),
    }
}
