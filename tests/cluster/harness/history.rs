//! The history of a run: every operation clients made, when, and what
//! came back, for a linearizability checker to judge.
//!
//! A linearizability checker asks one question: is there an order of the
//! operations, each placed somewhere between its invocation and its
//! return, in which every answer is what one copy of the data would have
//! given? To ask it, the checker needs, for each operation:
//!
//! ```text
//!   client 3  ──invoke──[ Update d1 = {"c":3,"n":7} ]──return──▶ Ok
//!             │◀─────────── somewhere in here it took effect ───────▶│
//! ```
//!
//! * **who** ([`Event::client`]): one client's operations are sequential,
//!   each invoked after the previous returned;
//! * **what** ([`Event::op`]): the document's full name and, for writes,
//!   the value. Every value a load writes is unique, so a read's answer
//!   names the one write it saw;
//! * **when** ([`Event::invoke`], [`Event::complete`]): offsets from the
//!   run's shared start ([`History::start`]), from one monotonic clock
//!   ([`std::time::Instant`]) in one process, so they compare across
//!   clients;
//! * **what came back** ([`Outcome`]): a value, a definite error (an
//!   observation too: NOT_FOUND on a Get says the document was absent,
//!   ALREADY_EXISTS on a Create says it was present), or unknown. An
//!   unknown write may have taken effect at any time after its invocation,
//!   even after the run (a checker treats its return as "never").
//!
//! The records are plain data so the checker of the conformance crate can
//! take them through a small adapter; nothing here depends on it.

use std::{
    collections::BTreeMap,
    fmt,
    time::{Duration, Instant},
};

use tonic::Code;

/// One client operation on one document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// GetDocument.
    Get {
        /// The document's full name (`databases/…/documents/…`).
        name: String,
    },
    /// CreateDocument with this name and value.
    Create {
        /// The document's full name.
        name: String,
        /// The JSON value written.
        value: String,
    },
    /// UpdateDocument (whole value) of this name.
    Update {
        /// The document's full name.
        name: String,
        /// The JSON value written.
        value: String,
    },
    /// DeleteDocument.
    Delete {
        /// The document's full name.
        name: String,
    },
}

impl Op {
    /// The document the operation is about.
    pub fn name(&self) -> &str {
        match self {
            Op::Get { name }
            | Op::Create { name, .. }
            | Op::Update { name, .. }
            | Op::Delete { name } => name,
        }
    }

    /// The value a write writes (`None` for Get and Delete).
    pub fn value(&self) -> Option<&str> {
        match self {
            Op::Create { value, .. } | Op::Update { value, .. } => Some(value),
            Op::Get { .. } | Op::Delete { .. } => None,
        }
    }

    /// `get`, `create`, `update` or `delete`.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Get { .. } => "get",
            Op::Create { .. } => "create",
            Op::Update { .. } => "update",
            Op::Delete { .. } => "delete",
        }
    }
}

/// What came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Success, with the document's value as returned (Get, Create,
    /// Update); `None` for Delete.
    Ok(Option<String>),
    /// A definite error: the operation changed nothing (and observed the
    /// state it names, e.g. NOT_FOUND).
    Failed(Code),
    /// No definite answer (UNAVAILABLE, DEADLINE_EXCEEDED, a transport
    /// error, no answer): it may or may not have taken effect. The text
    /// says what was seen.
    Unknown(String),
}

/// One operation of one client, with its timing and outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Which client (0-based); a client's operations never overlap.
    pub client: usize,
    /// What it asked.
    pub op: Op,
    /// When it was sent, since [`History::start`].
    pub invoke: Duration,
    /// When the answer (or the client's own timeout) came, since
    /// [`History::start`]; never before `invoke`.
    pub complete: Duration,
    /// What came back.
    pub outcome: Outcome,
}

/// Every event of a run, and the instant their offsets count from.
#[derive(Clone, Debug)]
pub struct History {
    /// The shared start of all clients' clocks.
    pub start: Instant,
    /// The events, ordered by invocation.
    pub events: Vec<Event>,
}

impl History {
    /// An empty history starting now.
    pub fn new() -> History {
        History {
            start: Instant::now(),
            events: Vec::new(),
        }
    }

    /// Adds events (one client's, say) and keeps the order by invocation.
    pub fn extend(&mut self, events: impl IntoIterator<Item = Event>) {
        self.events.extend(events);
        self.events
            .sort_by_key(|event| (event.invoke, event.client));
    }

    /// Removes the Gets whose outcome is unknown: a read changes nothing,
    /// so one that returned nothing tells a checker nothing, and leaving it
    /// in only widens the search (Jepsen drops them too).
    pub fn drop_unknown_reads(&mut self) {
        self.events
            .retain(|e| !matches!((&e.op, &e.outcome), (Op::Get { .. }, Outcome::Unknown(_))));
    }

    /// The events on one document.
    pub fn of_document<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Event> + 'a {
        self.events
            .iter()
            .filter(move |event| event.op.name() == name)
    }

    /// Counts by operation kind and outcome.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for event in &self.events {
            let counts = summary.by_kind.entry(event.op.kind()).or_default();
            match event.outcome {
                Outcome::Ok(_) => counts.ok += 1,
                Outcome::Failed(_) => counts.failed += 1,
                Outcome::Unknown(_) => counts.unknown += 1,
            }
        }
        summary
    }
}

impl Default for History {
    fn default() -> History {
        History::new()
    }
}

/// How many operations of a kind ended how.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Succeeded.
    pub ok: usize,
    /// Failed definitely.
    pub failed: usize,
    /// Outcome unknown.
    pub unknown: usize,
}

/// [`Counts`] per operation kind, for a run's progress line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Keyed by [`Op::kind`].
    pub by_kind: BTreeMap<&'static str, Counts>,
}

impl Summary {
    /// All operations, all kinds.
    pub fn total(&self) -> Counts {
        self.by_kind
            .values()
            .fold(Counts::default(), |sum, c| Counts {
                ok: sum.ok + c.ok,
                failed: sum.failed + c.failed,
                unknown: sum.unknown + c.unknown,
            })
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.total();
        write!(
            f,
            "{} operations ({} ok, {} failed, {} unknown)",
            total.ok + total.failed + total.unknown,
            total.ok,
            total.failed,
            total.unknown
        )?;
        for (kind, c) in &self.by_kind {
            write!(f, "; {kind} {}/{}/{}", c.ok, c.failed, c.unknown)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(client: usize, op: Op, at: u64, outcome: Outcome) -> Event {
        Event {
            client,
            op,
            invoke: Duration::from_millis(at),
            complete: Duration::from_millis(at + 1),
            outcome,
        }
    }

    /// An unknown write stays (it may have happened); an unknown read goes
    /// (it changed nothing and saw nothing).
    #[test]
    fn only_unknown_reads_are_dropped() {
        let name = "databases/d/collections/c/documents/x".to_owned();
        let write = Op::Update {
            name: name.clone(),
            value: "{}".into(),
        };
        let mut history = History::new();
        history.extend([
            event(
                1,
                Op::Get { name: name.clone() },
                5,
                Outcome::Unknown("reset".into()),
            ),
            event(0, write.clone(), 3, Outcome::Unknown("timeout".into())),
            event(2, Op::Get { name }, 4, Outcome::Failed(Code::NotFound)),
        ]);
        assert_eq!(history.events[0].client, 0, "ordered by invocation");
        history.drop_unknown_reads();
        let left: Vec<_> = history.events.iter().map(|e| e.client).collect();
        assert_eq!(left, vec![0, 2]);
        assert_eq!(history.summary().total().unknown, 1);
        assert_eq!(
            history.summary().to_string().split(';').count(),
            3,
            "total, get, update"
        );
    }
}
