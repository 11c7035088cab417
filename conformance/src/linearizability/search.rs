//! The search for an order: Wing & Gong's algorithm with Lowe's cache.
//!
//! The history of one document becomes a doubly linked list of events,
//! each operation's invocation and return, in time order (at equal times
//! invocations first, so a tie counts as overlap). The search walks it:
//!
//! ```text
//!   list:  inv A   inv B   ret A   inv C   ret B   ret C
//!            │
//!   at an invocation: may the operation take effect now? (the model says
//!     whether its answer is possible in the current state)
//!       yes, and (linearized set + it, new state) is new to the cache:
//!         push (it, state); lift its invocation and return out of the list;
//!         start again from the head
//!       no: look at the next event
//!   at a return: its operation was not linearized before it returned, so
//!     the last choice was wrong: pop it, put it back, try the event after it
//!   list empty: every operation has a place: linearizable
//!   stack empty at a return: no order exists
//! ```
//!
//! **The cache** holds every (set of linearized operations, state) already
//! explored: reaching one again by another path leads nowhere new. A set is
//! kept as a 128-bit Zobrist fingerprint, the XOR of a random key per
//! operation, updated in O(1) as operations are linearized and undone; for
//! the millions of entries a bounded search makes, the chance that two
//! different sets share a fingerprint is below 2⁻⁸⁰.
//!
//! **Unknown outcomes** return at `Duration::MAX`: their returns sit at the
//! end of the list, so they may be linearized anywhere after their
//! invocation, and the model accepts any answer from them.

use std::{
    collections::HashSet,
    fmt,
    time::{Duration, Instant},
};

use super::{
    Operation, Outcome, Verdict,
    model::{self, Act, Answer, State, Values},
};

/// "No entry" in the linked list.
const NIL: usize = usize::MAX;
/// The list's head sentinel.
const HEAD: usize = 0;
/// How many steps pass between two looks at the clock.
const CLOCK_EVERY: u64 = 4096;
/// How many operations a violation lists as context.
const CONTEXT: usize = 6;

/// Where the search for an order failed: the deepest point it reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The most operations that could be ordered.
    pub ordered: usize,
    /// The operations of the document.
    pub total: usize,
    /// The operation that returned before any order could place it, at
    /// that deepest point.
    pub stuck: String,
    /// The document's state there.
    pub state: String,
    /// The last operations of the longest order found, oldest first.
    pub last_ordered: Vec<String>,
    /// The operations that were invoked but not yet ordered there (the
    /// candidates that were tried).
    pub pending: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NOT linearizable: at most {} of {} operations can be ordered; then \
             [{}] must have taken effect, but no order allows it (the document is {} there)",
            self.ordered, self.total, self.stuck, self.state
        )?;
        if !self.last_ordered.is_empty() {
            write!(f, "; the order so far ends with:")?;
            for op in &self.last_ordered {
                write!(f, "\n      {op}")?;
            }
        }
        if !self.pending.is_empty() {
            write!(
                f,
                "\n    not yet ordered when it returned (none fits first):"
            )?;
            for op in &self.pending {
                write!(f, "\n      {op}")?;
            }
        }
        Ok(())
    }
}

/// The events of one document's history as a linked list.
struct List {
    next: Vec<usize>,
    prev: Vec<usize>,
    /// Which operation an entry belongs to (unused for the head).
    op: Vec<usize>,
    /// For an invocation, the index of its return; `NIL` for a return.
    partner: Vec<usize>,
}

impl List {
    fn new(ops: &[Operation]) -> List {
        let mut events: Vec<(Duration, u8, usize)> = Vec::with_capacity(2 * ops.len());
        for (i, op) in ops.iter().enumerate() {
            let complete = if op.outcome == Outcome::Unknown {
                Duration::MAX
            } else {
                op.complete.max(op.invoke)
            };
            events.push((op.invoke, 0, i));
            events.push((complete, 1, i));
        }
        events.sort_unstable();
        let n = events.len() + 1;
        let mut list = List {
            next: (1..=n).map(|i| if i == n { NIL } else { i }).collect(),
            prev: (0..n).map(|i| if i == 0 { NIL } else { i - 1 }).collect(),
            op: vec![0; n],
            partner: vec![NIL; n],
        };
        let mut call_of = vec![NIL; ops.len()];
        for (index, &(_, kind, op)) in events.iter().enumerate() {
            let entry = index + 1;
            list.op[entry] = op;
            if kind == 0 {
                call_of[op] = entry;
            } else {
                list.partner[call_of[op]] = entry;
            }
        }
        list
    }

    fn unlink(&mut self, entry: usize) {
        let (prev, next) = (self.prev[entry], self.next[entry]);
        self.next[prev] = next;
        if next != NIL {
            self.prev[next] = prev;
        }
    }

    fn relink(&mut self, entry: usize) {
        let (prev, next) = (self.prev[entry], self.next[entry]);
        self.next[prev] = entry;
        if next != NIL {
            self.prev[next] = entry;
        }
    }

    /// Takes an invocation and its return out of the list.
    fn lift(&mut self, call: usize) {
        self.unlink(call);
        self.unlink(self.partner[call]);
    }

    /// Puts them back (the exact reverse of [`List::lift`]).
    fn unlift(&mut self, call: usize) {
        self.relink(self.partner[call]);
        self.relink(call);
    }
}

/// A random 128-bit key per operation (splitmix64, seeded by the index:
/// the keys need only be independent of the history, not secret).
fn zobrist(index: usize) -> u128 {
    let mut x = (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xd1b5_4a32_d192_ed03;
    let mut next = || {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (u128::from(next()) << 64) | u128::from(next())
}

/// Searches an order for one document's operations, in at most `max_steps`
/// steps and until `deadline`. Returns the verdict and the steps taken.
pub fn linearize(ops: &[Operation], max_steps: u64, deadline: Instant) -> (Verdict, u64) {
    let mut values = Values::default();
    let acts: Vec<(Act, Answer)> = ops
        .iter()
        .map(|op| (values.act(&op.action), values.answer(&op.outcome)))
        .collect();
    let keys: Vec<u128> = (0..ops.len()).map(zobrist).collect();
    let mut list = List::new(ops);
    let mut cache: HashSet<(u128, State)> = HashSet::new();
    let mut stack: Vec<(usize, State)> = Vec::new();
    let (mut state, mut set): (State, u128) = (None, 0);
    let mut deepest: Option<Violation> = None;
    let mut entry = list.next[HEAD];
    let mut steps = 0u64;
    while list.next[HEAD] != NIL {
        steps += 1;
        if steps > max_steps {
            let reason = format!("{max_steps} steps without a decision");
            return (Verdict::GaveUp { steps, reason }, steps);
        }
        if steps.is_multiple_of(CLOCK_EVERY) && Instant::now() >= deadline {
            let reason = "out of time (the check's deadline)".to_owned();
            return (Verdict::GaveUp { steps, reason }, steps);
        }
        let op = list.op[entry];
        if list.partner[entry] != NIL {
            // An invocation: may it take effect here?
            let (act, answer) = acts[op];
            if let Some(after) = model::step(state, act, answer)
                && cache.insert((set ^ keys[op], after))
            {
                stack.push((entry, state));
                state = after;
                set ^= keys[op];
                list.lift(entry);
                entry = list.next[HEAD];
            } else {
                entry = list.next[entry];
            }
            continue;
        }
        // A return whose operation has no place yet: undo the last choice.
        if deepest.as_ref().is_none_or(|d| stack.len() > d.ordered) {
            deepest = Some(describe(ops, &values, &list, &stack, entry, state));
        }
        let Some((call, before)) = stack.pop() else {
            let violation =
                deepest.unwrap_or_else(|| describe(ops, &values, &list, &stack, entry, state));
            return (Verdict::NotLinearizable(violation), steps);
        };
        state = before;
        set ^= keys[list.op[call]];
        list.unlift(call);
        entry = list.next[call];
    }
    (Verdict::Linearizable, steps)
}

/// The deepest point so far, for a person: what was ordered last, what
/// could not be placed, and what was pending beside it.
fn describe(
    ops: &[Operation],
    values: &Values,
    list: &List,
    stack: &[(usize, State)],
    stuck: usize,
    state: State,
) -> Violation {
    let show = |entry: usize| ops[list.op[entry]].to_string();
    let mut pending = Vec::new();
    let mut entry = list.next[HEAD];
    while entry != NIL && entry != stuck && pending.len() < CONTEXT {
        if list.partner[entry] != NIL {
            pending.push(show(entry));
        }
        entry = list.next[entry];
    }
    Violation {
        ordered: stack.len(),
        total: ops.len(),
        stuck: show(stuck),
        state: values.show(state),
        last_ordered: stack
            .iter()
            .skip(stack.len().saturating_sub(CONTEXT))
            .map(|&(call, _)| show(call))
            .collect(),
        pending,
    }
}
