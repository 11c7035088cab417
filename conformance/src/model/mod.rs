//! Model-based random testing: the executable spec ([`state`]) against the
//! target, on random request sequences ([`machine`]).
//!
//! Example cases check one rule each; the model checks how rules combine:
//! a delete followed by a create of the same id, a page token used after
//! its item was deleted, an update with a bad mask between two reads. Small
//! id alphabets (`a`, `b`, `c`; `x`, `y`, `X`, `.`, `..`) make collisions
//! frequent, and a share of ids, names, values, masks, page sizes and tokens
//! are invalid on purpose.
//!
//! Each case favours some requests ([`machine::Focus`]). To add
//! transactions later: add `Op` variants and their rules in `state.rs`, a
//! strategy in `machine.rs`, and a focus here.

pub mod machine;
pub mod state;

use self::machine::Focus;
use crate::case::{Case, Tag};

macro_rules! focus {
    ($name:ident, $kinds:expr, $verbs:expr) => {
        #[doc = concat!("Focus of `", stringify!($name), "`.")]
        pub struct $name;
        impl Focus for $name {
            const KINDS: [u32; 3] = $kinds;
            const VERBS: [u32; 5] = $verbs;
        }
    };
}

focus!(Databases, [1, 0, 0], [3, 2, 2, 2, 1]);
focus!(Collections, [1, 4, 0], [3, 2, 2, 1, 2]);
focus!(Documents, [1, 2, 6], [3, 2, 2, 1, 2]);
focus!(Paging, [1, 2, 4], [4, 0, 0, 1, 12]);
focus!(Mixed, [2, 2, 2], [3, 1, 1, 2, 1]);

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
    ]
}
