//! One document as a register: absent, or holding one value.
//!
//! [`step`] is the sequential specification the search linearizes against:
//! given the state before an operation, the operation and the answer it
//! got, is that answer possible, and what is the state after? It is the
//! contract's rules for one document, nothing else:
//!
//! | action | absent | present |
//! |---|---|---|
//! | Get | NOT_FOUND | ok, the value |
//! | Create v | ok v; now v | ALREADY_EXISTS |
//! | Update v | NOT_FOUND | ok v; now v |
//! | Delete | NOT_FOUND | ok; now absent |
//!
//! An unknown answer is accepted in every state, and the operation then
//! has its effect as if it had succeeded (a Create of a present document,
//! an Update of an absent one, a Delete of an absent one change nothing).
//!
//! Values are interned ([`Values`]): the search compares and caches states
//! as small integers, not strings.

use std::collections::HashMap;

use super::{Action, Outcome};

/// The state of one document: absent (`None`) or an interned value.
pub type State = Option<u32>;

/// An action with its value interned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// Get.
    Get,
    /// Create with a value.
    Create(u32),
    /// Update to a value.
    Update(u32),
    /// Delete.
    Delete,
}

/// An outcome with its value interned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Success with a value (`Some`) or without (Delete).
    Ok(Option<u32>),
    /// NOT_FOUND.
    NotFound,
    /// ALREADY_EXISTS.
    AlreadyExists,
    /// No definite answer.
    Unknown,
}

/// Interns the values of one document's history.
#[derive(Debug, Default)]
pub struct Values {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Values {
    /// The id of `value`, assigning the next one if it is new.
    pub fn intern(&mut self, value: &str) -> u32 {
        if let Some(&id) = self.ids.get(value) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.ids.insert(value.to_owned(), id);
        self.names.push(value.to_owned());
        id
    }

    /// The action with its value interned.
    pub fn act(&mut self, action: &Action) -> Act {
        match action {
            Action::Get => Act::Get,
            Action::Create(v) => Act::Create(self.intern(v)),
            Action::Update(v) => Act::Update(self.intern(v)),
            Action::Delete => Act::Delete,
        }
    }

    /// The outcome with its value interned.
    pub fn answer(&mut self, outcome: &Outcome) -> Answer {
        match outcome {
            Outcome::Ok(value) => Answer::Ok(value.as_deref().map(|v| self.intern(v))),
            Outcome::NotFound => Answer::NotFound,
            Outcome::AlreadyExists => Answer::AlreadyExists,
            Outcome::Unknown => Answer::Unknown,
        }
    }

    /// A state as a person reads it.
    pub fn show(&self, state: State) -> String {
        match state {
            None => "absent".to_owned(),
            Some(id) => self
                .names
                .get(id as usize)
                .map_or_else(|| format!("value #{id}"), |v| format!("holding {v}")),
        }
    }
}

/// The state after `act` answered `answer` in `state`, or `None` when that
/// answer is impossible in that state.
pub fn step(state: State, act: Act, answer: Answer) -> Option<State> {
    use Answer::{AlreadyExists, NotFound, Ok, Unknown};
    match (act, answer, state) {
        (Act::Get, Ok(Some(seen)), Some(held)) if seen == held => Some(state),
        (Act::Get, NotFound, None) | (Act::Get, Unknown, _) => Some(state),

        (Act::Create(v), Ok(Some(r)), None) if r == v => Some(Some(v)),
        (Act::Create(_), AlreadyExists, Some(_)) => Some(state),
        (Act::Create(v), Unknown, None) => Some(Some(v)),
        (Act::Create(_), Unknown, Some(_)) => Some(state),

        (Act::Update(v), Ok(Some(r)), Some(_)) if r == v => Some(Some(v)),
        (Act::Update(_), NotFound, None) | (Act::Update(_), Unknown, None) => Some(None),
        (Act::Update(v), Unknown, Some(_)) => Some(Some(v)),

        (Act::Delete, Ok(None), Some(_)) => Some(None),
        (Act::Delete, NotFound, None) | (Act::Delete, Unknown, _) => Some(None),

        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_of_the_table_and_its_opposite() {
        let (a, b) = (0, 1);
        // Get.
        assert_eq!(step(Some(a), Act::Get, Answer::Ok(Some(a))), Some(Some(a)));
        assert_eq!(step(Some(a), Act::Get, Answer::Ok(Some(b))), None);
        assert_eq!(step(Some(a), Act::Get, Answer::NotFound), None);
        assert_eq!(step(None, Act::Get, Answer::NotFound), Some(None));
        assert_eq!(step(None, Act::Get, Answer::Ok(Some(a))), None);
        // Create.
        assert_eq!(
            step(None, Act::Create(a), Answer::Ok(Some(a))),
            Some(Some(a))
        );
        assert_eq!(step(None, Act::Create(a), Answer::Ok(Some(b))), None);
        assert_eq!(step(None, Act::Create(a), Answer::AlreadyExists), None);
        assert_eq!(step(Some(b), Act::Create(a), Answer::Ok(Some(a))), None);
        assert_eq!(
            step(Some(b), Act::Create(a), Answer::AlreadyExists),
            Some(Some(b))
        );
        // Update.
        assert_eq!(
            step(Some(b), Act::Update(a), Answer::Ok(Some(a))),
            Some(Some(a))
        );
        assert_eq!(step(None, Act::Update(a), Answer::Ok(Some(a))), None);
        assert_eq!(step(None, Act::Update(a), Answer::NotFound), Some(None));
        assert_eq!(step(Some(b), Act::Update(a), Answer::NotFound), None);
        // Delete.
        assert_eq!(step(Some(a), Act::Delete, Answer::Ok(None)), Some(None));
        assert_eq!(step(None, Act::Delete, Answer::Ok(None)), None);
        assert_eq!(step(None, Act::Delete, Answer::NotFound), Some(None));
        assert_eq!(step(Some(a), Act::Delete, Answer::NotFound), None);
    }

    #[test]
    fn an_unknown_answer_is_possible_everywhere_and_has_the_effect_of_success() {
        let (a, b) = (0, 1);
        for state in [None, Some(b)] {
            assert_eq!(step(state, Act::Get, Answer::Unknown), Some(state));
            assert_eq!(step(state, Act::Delete, Answer::Unknown), Some(None));
        }
        assert_eq!(step(None, Act::Create(a), Answer::Unknown), Some(Some(a)));
        assert_eq!(
            step(Some(b), Act::Create(a), Answer::Unknown),
            Some(Some(b))
        );
        assert_eq!(step(None, Act::Update(a), Answer::Unknown), Some(None));
        assert_eq!(
            step(Some(b), Act::Update(a), Answer::Unknown),
            Some(Some(a))
        );
    }
}
