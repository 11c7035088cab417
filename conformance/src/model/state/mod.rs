//! The executable spec: a pure model of databases, collections and
//! documents, and of what every request must answer.
//!
//! The model knows nothing about gRPC or time. [`Model::step`] takes an
//! [`Op`] and returns what the contract says the answer is ([`Expect`]),
//! updating the model's state when the request succeeds. Ids are *local*
//! (`a`, `x`): the machine maps them into the run's namespace, so the model
//! reads like the SPEC it restates:
//!
//! 1. validate every field; any violation is INVALID_ARGUMENT with one
//!    violation per bad field (ERR-3);
//! 2. then the parent must exist (NOT_FOUND), then the name must be free
//!    (ALREADY_EXISTS) or taken (NOT_FOUND);
//! 3. lists are name-ordered pages; a token is a cursor (scope, last id).
//!
//! Transactions ([`super::txn`]) are requests too: Begin, Execute, Commit
//! and Rollback are [`Op`]s over the same state, and a committed operation
//! is applied with the very rules of the plain request it stands for.

//!
//! | file | holds |
//! |---|---|
//! | `names.rs` | the generator's ids and names, and which are valid |
//! | `request.rs` | [`Op`]: one request in local terms |
//! | `expect.rs` | [`Expect`]: what the contract says it answers |
//! | `step.rs` | [`Model::step`]: the rules of the plain requests |
//! | `tests.rs` | a small story the model must follow |

use std::collections::BTreeMap;

use tonic::Code;

mod expect;
mod names;
mod request;
mod step;
#[cfg(test)]
mod tests;

pub use self::{
    expect::{Effect, Expect},
    names::{CHILD_IDS, DB_IDS, LocalName, MALFORMED, valid_id, valid_name},
    request::{K, Mask, Op, Tok},
};
use super::txn::Txn;

/// A token the model issued: the scope (parent segments) and the cursor id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// Parent segments of the listing.
    pub scope: Vec<String>,
    /// The last id of the page.
    pub after: String,
}

/// A node: its mutable field and its children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    /// display_name / description / value.
    pub field: String,
    /// Children by id.
    pub children: BTreeMap<String, Node>,
}

/// The state of the model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    /// Databases by local id.
    pub root: BTreeMap<String, Node>,
    /// Tokens issued so far, in order.
    pub tokens: Vec<Issued>,
    /// Transactions begun so far, in order (see [`Model::txn`]).
    pub txns: Vec<Txn>,
}

/// Whether `field` is a valid value of `kind`'s mutable field.
pub(super) fn field_valid(kind: K, field: &str) -> bool {
    let chars = field.chars().count();
    match kind {
        K::Db => (1..=255).contains(&chars),
        K::Coll => chars <= 1024,
        K::Doc => (1..=4096).contains(&chars) && is_json_object(field),
    }
}

/// Whether `text` is RFC 8259 JSON whose top-level value is an object.
pub fn is_json_object(text: &str) -> bool {
    text.trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

pub(super) fn invalid(mut fields: Vec<String>) -> Expect {
    fields.sort();
    Expect::Error(Code::InvalidArgument, fields)
}

pub(super) fn not_found() -> Expect {
    Expect::Error(Code::NotFound, Vec::new())
}

impl Model {
    /// The node at `segs`, if every level exists.
    pub fn node(&self, segs: &[String]) -> Option<&Node> {
        let (first, rest) = segs.split_first()?;
        rest.iter()
            .try_fold(self.root.get(first)?, |node, id| node.children.get(id))
    }

    fn node_mut(&mut self, segs: &[String]) -> Option<&mut Node> {
        let (first, rest) = segs.split_first()?;
        rest.iter().try_fold(self.root.get_mut(first)?, |node, id| {
            node.children.get_mut(id)
        })
    }

    fn children_mut(&mut self, parent: &[String]) -> Option<&mut BTreeMap<String, Node>> {
        if parent.is_empty() {
            Some(&mut self.root)
        } else {
            self.node_mut(parent).map(|n| &mut n.children)
        }
    }

    fn children(&self, parent: &[String]) -> Option<&BTreeMap<String, Node>> {
        if parent.is_empty() {
            Some(&self.root)
        } else {
            self.node(parent).map(|n| &n.children)
        }
    }
}
