//! Model-based random testing: the executable spec ([`state`], [`txn`])
//! against the target, on random request sequences ([`machine`]).
//!
//! Example cases check one rule each; the model checks how rules combine:
//! a delete followed by a create of the same id, a page token used after
//! its item was deleted, an update with a bad mask between two reads, a
//! commit that fails half-way between two transactions and the reads that
//! follow. Small id alphabets (`a`, `b`, `c`; `x`, `y`, `X`, `.`, `..`)
//! make collisions frequent, and a share of ids, names, values, masks, page
//! sizes, tokens, operations and transaction ids are invalid on purpose.
//!
//! Transactions are requests like the others: Begin, Execute, Commit and
//! Rollback are [`state::Op`]s, their rules live in [`txn`] (a committed
//! operation is applied with the plain request's own rules), and the plain
//! Get and List requests that the sequences interleave are what observes
//! isolation (nothing buffered is visible) and atomicity (a failed commit
//! leaves no trace). Adding another kind of request follows the same path:
//! an `Op` variant and its rules, a strategy in [`machine`], a weight in a
//! focus here.
//!
//! Each case favours some requests ([`machine::Focus`]).

pub mod machine;
pub mod state;
pub mod txn;

use self::machine::Focus;
use crate::case::{Case, Tag};

macro_rules! focus {
    ($name:ident, $kinds:expr, $verbs:expr $(, $txns:expr)?) => {
        #[doc = concat!("Focus of `", stringify!($name), "`.")]
        pub struct $name;
        impl Focus for $name {
            const KINDS: [u32; 3] = $kinds;
            const VERBS: [u32; 5] = $verbs;
            $(const TXNS: [u32; 4] = $txns;)?
        }
    };
}

focus!(Databases, [1, 0, 0], [3, 2, 2, 2, 1]);
focus!(Collections, [1, 4, 0], [3, 2, 2, 1, 2]);
focus!(Documents, [1, 2, 6], [3, 2, 2, 1, 2]);
focus!(Paging, [1, 2, 4], [4, 0, 0, 1, 12]);
focus!(Mixed, [2, 2, 2], [3, 1, 1, 2, 1]);
// Reads (get, list) stay frequent: they are what observes isolation and
// atomicity. Transaction requests are about half of all requests.
focus!(Transactions, [1, 1, 2], [1, 4, 1, 1, 2], [6, 16, 12, 3]);

/// Sequences and steps of `model-transactions`: about as many requests as
/// `model-paging`, to keep its run under two seconds on two cores.
pub(crate) const TXN_SEQUENCES: u32 = 32;
/// See [`TXN_SEQUENCES`].
pub(crate) const TXN_STEPS: usize = 60;

/// The model-based cases. `--cases N` sets the sequences per case.
pub fn cases() -> Vec<Case> {
    let core = &[Tag::Core];
    vec![
        Case::new("model-databases", "DB-CREATE-1", core, |ctx| {
            machine::run::<Databases>(ctx, 48, 20)
        }),
        Case::new("model-collections", "COLL-CREATE-1", core, |ctx| {
            machine::run::<Collections>(ctx, 48, 24)
        }),
        Case::new("model-documents", "DOC-CREATE-1", core, |ctx| {
            machine::run::<Documents>(ctx, 64, 30)
        }),
        Case::new("model-paging", "LIST-5", core, |ctx| {
            machine::run::<Paging>(ctx, 64, 40)
        }),
        Case::new("model-cascades", "DB-DELETE-3", core, |ctx| {
            machine::run::<Mixed>(ctx, 48, 30)
        }),
        Case::new(
            "model-transactions",
            "TXN-COMMIT-2",
            &[Tag::Transactions],
            |ctx| machine::run::<Transactions>(ctx, TXN_SEQUENCES, TXN_STEPS),
        ),
    ]
}
