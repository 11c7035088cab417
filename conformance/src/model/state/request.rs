//! One request in local terms ([`Op`]): the kind it is about, the names it
//! carries as [`LocalName`]s, and the field, mask, page size and token it
//! sends; transactions are named by position ([`Tx`]).

use super::LocalName;
use crate::model::txn::{Tx, TxOp};

/// The update mask of an update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mask {
    /// No mask.
    Absent,
    /// A mask with no paths.
    Empty,
    /// `*`.
    Star,
    /// The mutable field.
    Field,
    /// An output-only path.
    OutputOnly,
    /// `*` and the field.
    StarAndField,
}

impl Mask {
    pub(super) fn valid(self) -> bool {
        !matches!(self, Mask::OutputOnly | Mask::StarAndField)
    }
}

/// The page token of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tok {
    /// First page.
    None,
    /// The k-th token issued so far in this sequence (any listing).
    Issued(usize),
    /// A string the server never issued.
    Garbage,
}

/// The three kinds, as the model sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum K {
    /// Databases.
    Db,
    /// Collections.
    Coll,
    /// Documents.
    Doc,
}

impl K {
    /// Number of segments in a name of this kind.
    pub fn depth(self) -> usize {
        match self {
            K::Db => 1,
            K::Coll => 2,
            K::Doc => 3,
        }
    }

    /// The request field of the resource message.
    pub fn message(self) -> &'static str {
        match self {
            K::Db => "database",
            K::Coll => "collection",
            K::Doc => "document",
        }
    }

    /// The mutable field's path.
    pub fn field(self) -> &'static str {
        match self {
            K::Db => "database.display_name",
            K::Coll => "collection.description",
            K::Doc => "document.value",
        }
    }
}

/// One request, in local terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// CreateX under `parent` (ignored for databases).
    Create {
        /// Kind.
        kind: K,
        /// Parent (collections, documents).
        parent: LocalName,
        /// Requested id ("" = generated).
        id: String,
        /// `document.id` (documents only).
        body_id: String,
        /// The mutable field.
        field: String,
    },
    /// GetX.
    Get {
        /// Kind.
        kind: K,
        /// Name.
        name: LocalName,
    },
    /// UpdateX.
    Update {
        /// Kind.
        kind: K,
        /// Name.
        name: LocalName,
        /// New value of the mutable field.
        field: String,
        /// Mask.
        mask: Mask,
    },
    /// DeleteX.
    Delete {
        /// Kind.
        kind: K,
        /// Name.
        name: LocalName,
    },
    /// ListX.
    List {
        /// Kind.
        kind: K,
        /// Parent (ignored for databases).
        parent: LocalName,
        /// page_size.
        size: i32,
        /// page_token.
        token: Tok,
    },
    /// Begin on `db`.
    Begin {
        /// database_name.
        db: LocalName,
    },
    /// Execute: buffer `ops` in `txn`.
    Execute {
        /// database_name.
        db: LocalName,
        /// transaction_id.
        txn: Tx,
        /// The operations, as sent.
        ops: Vec<TxOp>,
    },
    /// Commit `txn`.
    Commit {
        /// database_name.
        db: LocalName,
        /// transaction_id.
        txn: Tx,
    },
    /// Rollback `txn`.
    Rollback {
        /// database_name.
        db: LocalName,
        /// transaction_id.
        txn: Tx,
    },
}
