//! The reference state machine: which request comes next, weighted by the
//! focus and by how far the sequence has grown, and which requests are
//! defined at all in the model's current state.

use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;

use super::{
    Focus, Machine,
    plain::{collect, kind_of, op_for},
    txns::txn_choices,
};
use crate::model::state::{Model, Op, Tok};

impl<F: Focus> ReferenceStateMachine for Machine<F> {
    type State = Model;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Op> {
        // Grow the tree first: while a level is nearly empty, creating there
        // is likelier, so sequences reach documents and multi-page lists.
        let counts: Vec<usize> = (1..=3)
            .map(|depth| {
                let mut found = Vec::new();
                collect(&state.root, &mut Vec::new(), depth, &mut found);
                found.len()
            })
            .collect();
        let mut choices = Vec::new();
        for (k, kw) in F::KINDS.iter().enumerate() {
            for (v, vw) in F::VERBS.iter().enumerate() {
                let parents_exist = k == 0 || counts[k - 1] > 0;
                let weight = match (v, parents_exist) {
                    (_, false) => (kw * vw).min(1),
                    (0, true)
                        if counts[k]
                            < 3 * counts.get(k.wrapping_sub(1)).copied().unwrap_or(1).max(1) =>
                    {
                        kw * vw * 6
                    }
                    _ => kw * vw,
                };
                if weight > 0 {
                    choices.push((weight, op_for(state, kind_of(k), v)));
                }
            }
        }
        choices.extend(txn_choices::<F>(state));
        proptest::strategy::Union::new_weighted(choices).boxed()
    }

    fn apply(mut state: Model, op: &Op) -> Model {
        state.step(op);
        state
    }

    /// Checked on generation and again on every shrunk sequence, where
    /// removing a Begin renumbers the transactions after it.
    fn preconditions(state: &Model, op: &Op) -> bool {
        match op {
            Op::List {
                token: Tok::Issued(k),
                ..
            } => *k < state.tokens.len(),
            _ => state.defined(op),
        }
    }
}
