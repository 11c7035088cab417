//! Remembered requests: a retried write is answered, not applied again.
//!
//! A client whose write failed with UNAVAILABLE or DEADLINE_EXCEEDED does
//! not know whether it took effect; the only safe retry is one the server
//! can recognise. A command that carries the client's request id
//! (`distgo-request-id`) is remembered here with its outcome, and a later
//! command with the same id returns that outcome without being applied:
//!
//! ```text
//!   command (id "r7", create d1)  ── apply ──▶ Record 42     remembered: r7 → Record 42
//!   retry   (id "r7", create d1)  ──────────▶ Record 42     (nothing applied; no second entry)
//!   ... cluster.request_window later: r7 is forgotten
//! ```
//!
//! **Why in the state machine.** The table is part of the replicated state,
//! changed only by applying commands, in log order: every member holds the
//! same table, so a retry that reaches a new leader after a failover is
//! still recognised, and a snapshot carries the table to a member that
//! catches up. Forgetting is deterministic too: an id goes once the commit
//! time of a later command is past its own by `cluster.request_window`, and
//! the oldest go first when more than [`MAX_REMEMBERED`] are held.
//!
//! The first outcome is returned whatever the retry asks for: a request id
//! names one logical write, and reusing it for another write is the
//! client's mistake, not a reason to apply that write.

use std::{
    collections::{HashMap, VecDeque},
    time::Duration,
};

use crate::{clock::Timestamp, store::command::Outcome};

/// The most request ids remembered at once; past it the oldest go.
pub const MAX_REMEMBERED: usize = 100_000;

/// The default of `cluster.request_window`.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(600);

/// The outcomes of recent commands that carried a request id.
#[derive(Clone, Debug)]
pub struct Requests {
    by_id: HashMap<String, (Timestamp, Outcome)>,
    /// Ids in the order they were remembered (commit times increase).
    order: VecDeque<(Timestamp, String)>,
    window: Duration,
}

impl Requests {
    /// An empty table that remembers an id for `window`.
    pub fn new(window: Duration) -> Self {
        Requests {
            by_id: HashMap::new(),
            order: VecDeque::new(),
            window,
        }
    }

    /// How long an id is remembered.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The outcome remembered for `id`, once ids older than the window
    /// before `now` are forgotten.
    pub(crate) fn recall(&mut self, id: &str, now: Timestamp) -> Option<Outcome> {
        self.forget_before(now);
        self.by_id.get(id).map(|(_, outcome)| outcome.clone())
    }

    /// Remembers `outcome` for `id`, committed at `at`.
    pub(crate) fn remember(&mut self, id: &str, at: Timestamp, outcome: Outcome) {
        if self.by_id.insert(id.to_owned(), (at, outcome)).is_none() {
            self.order.push_back((at, id.to_owned()));
        }
        while self.order.len() > MAX_REMEMBERED {
            self.pop();
        }
    }

    fn forget_before(&mut self, now: Timestamp) {
        let horizon = Timestamp::from_nanos(now.as_nanos().saturating_sub(nanos(self.window)));
        while self.order.front().is_some_and(|(at, _)| *at < horizon) {
            self.pop();
        }
    }

    fn pop(&mut self) {
        if let Some((_, id)) = self.order.pop_front() {
            self.by_id.remove(&id);
        }
    }

    /// Every remembered id with its time and outcome, oldest first (a
    /// snapshot writes them in this order).
    pub fn entries(&self) -> impl Iterator<Item = (&str, Timestamp, &Outcome)> {
        self.order.iter().filter_map(|(_, id)| {
            self.by_id
                .get(id)
                .map(|(at, outcome)| (id.as_str(), *at, outcome))
        })
    }

    /// Number of ids remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// A table holding `entries` (oldest first), as a snapshot had them.
    pub fn from_entries(
        window: Duration,
        entries: impl IntoIterator<Item = (String, Timestamp, Outcome)>,
    ) -> Self {
        let mut requests = Requests::new(window);
        for (id, at, outcome) in entries {
            requests.remember(&id, at, outcome);
        }
        requests
    }
}

/// Two tables are equal when they remember the same ids with the same
/// times and outcomes (the window is configuration, not state).
impl PartialEq for Requests {
    fn eq(&self, other: &Self) -> bool {
        self.entries().eq(other.entries())
    }
}

impl Eq for Requests {}

fn nanos(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::command::Applied;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_nanos(seconds * 1_000_000_000)
    }

    #[test]
    fn an_id_is_recalled_within_its_window_and_forgotten_after() {
        let mut requests = Requests::new(Duration::from_secs(60));
        requests.remember("a", at(0), Ok(Applied::Noop));
        requests.remember("b", at(30), Ok(Applied::Trimmed { records: 1 }));
        assert_eq!(requests.recall("a", at(59)), Some(Ok(Applied::Noop)));
        assert_eq!(requests.recall("a", at(61)), None, "past its window");
        assert!(requests.recall("b", at(61)).is_some(), "b is younger");
        assert_eq!(requests.len(), 1);
    }

    #[test]
    fn the_oldest_go_first_past_the_bound() {
        let mut requests = Requests::new(Duration::from_secs(3600));
        for n in 0..=MAX_REMEMBERED {
            requests.remember(&n.to_string(), at(0), Ok(Applied::Noop));
        }
        assert_eq!(requests.len(), MAX_REMEMBERED);
        assert!(requests.recall("0", at(0)).is_none());
        assert!(requests.recall("1", at(0)).is_some());
    }
}
