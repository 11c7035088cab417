//! A recorded [`History`] judged by the conformance crate's
//! linearizability checker (`distgo_conformance::linearizability`).
//!
//! The checker has plain-data types of its own and knows nothing of gRPC;
//! this adapter is the whole bridge. Each event becomes one operation on
//! the document it names, and each outcome what the checker can reason
//! about:
//!
//! | recorded | checker |
//! |---|---|
//! | `Ok(value)` | `Ok(value)` |
//! | `Failed(NOT_FOUND)`, `Failed(ALREADY_EXISTS)` | the same observation |
//! | `Failed(other)` | dropped: the state was not changed, and nothing was observed |
//! | `Unknown` | `Unknown`: may take effect any time after its invocation, or never |

use distgo_conformance::linearizability::{self, Action, Limits, Operation, Report};
use tonic::Code;

use super::history::{History, Op, Outcome};

/// The history's operations as the checker reads them.
pub fn operations(history: &History) -> Vec<Operation> {
    history
        .events
        .iter()
        .filter_map(|event| {
            let outcome = match &event.outcome {
                Outcome::Ok(value) => linearizability::Outcome::Ok(value.clone()),
                Outcome::Failed(Code::NotFound) => linearizability::Outcome::NotFound,
                Outcome::Failed(Code::AlreadyExists) => linearizability::Outcome::AlreadyExists,
                Outcome::Failed(_) => return None,
                Outcome::Unknown(_) => linearizability::Outcome::Unknown,
            };
            let action = match &event.op {
                Op::Get { .. } => Action::Get,
                Op::Create { value, .. } => Action::Create(value.clone()),
                Op::Update { value, .. } => Action::Update(value.clone()),
                Op::Delete { .. } => Action::Delete,
            };
            Some(Operation::new(
                event.client,
                event.op.name(),
                action,
                event.invoke,
                event.complete,
                outcome,
            ))
        })
        .collect()
}

/// Checks the history with the checker's default bounds (the steps per
/// document from `CLUSTER_CHECK_STEPS` when set), and prints the report.
///
/// A long soak can outgrow the default: each write whose outcome stayed
/// unknown can take effect anywhere after its invocation, which multiplies
/// the orders the search must rule out. A 5-minute soak (about 6,000
/// operations per document) has needed more than 5 million steps on one
/// document; the check then says it gave up, and the test fails saying so.
pub fn check(history: &History) -> Report {
    let mut limits = Limits::default();
    if let Some(steps) = super::env_number("CLUSTER_CHECK_STEPS") {
        limits.steps = steps;
    }
    let report = linearizability::check(&operations(history), limits);
    eprintln!("linearizability: {report}");
    report
}
