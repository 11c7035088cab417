//! # One listing out of many: merging the sets' pages
//!
//! ListDatabases and ListWALEntries at the master list what *every* set
//! holds, as one ordered listing with one opaque page token, under the
//! contract's paging rules (ordered, exactly once, `next_page_token` empty
//! exactly when nothing follows, a token refused for another scope). Each
//! set can only page through its own listing, with tokens only it can read,
//! so the master keeps, per set, *where that set's listing resumes*:
//!
//! ```text
//! master token = scope + for each set:  token  ─ the set's page token to fetch from
//!                                       after  ─ the last item of that page already returned
//!                                       (or: exhausted)
//! ```
//!
//! A page of `n` items is a k-way merge: fetch up to `n` items from every
//! set (concurrently), repeatedly take the smallest head, refill a set's
//! buffer from its own next token when it runs dry, stop at `n`. Then each
//! set's cursor is either its next token (its buffer was used up) or the
//! token its buffer was fetched *from* plus the last item taken: the next
//! page fetches that page again and skips what was returned. So one page
//! costs at most two set pages per set, whatever its position: the cost
//! does not grow with the items before it.
//!
//! What "skip what was returned" means is the one thing the two listings
//! differ in ([`Order::skip`]): databases are ordered by name, so anything
//! not after the last name returned is skipped (a database created behind
//! the cursor since is not returned: it did not exist during the whole
//! paging, and returning it would break the order). WAL entries are
//! ordered by commit time, then set name; a set's entries are skipped up to
//! the last one returned, found by id.
//!
//! A set that appears between pages (a worker registered) is listed from
//! its beginning, skipping what sorts before the cursor; a set that
//! disappeared simply stops contributing.

use std::{collections::BTreeMap, collections::VecDeque, future::Future, sync::Arc};

use futures_util::future::try_join_all;
use serde::{Deserialize, Serialize};
use tonic::Status;

use super::sets::ReplicaSet;
use crate::{
    api::paging::{decode_token, encode_token},
    error::Violation,
};

/// How the items of one listing are fetched, ordered and skipped.
pub trait Order: Sync {
    /// An item of the listing.
    type Item: Send;
    /// What the cursor remembers of the last item returned from a set.
    type Mark: Serialize + for<'de> Deserialize<'de> + Clone + Send + Sync;

    /// One page of `set`'s own listing from its `token`: items and the
    /// set's next token (empty: no more).
    fn fetch(
        &self,
        set: &ReplicaSet,
        token: &str,
        size: usize,
    ) -> impl Future<Output = Result<(Vec<Self::Item>, String), Status>> + Send;

    /// Whether `a` (from set `a_set`) comes before `b` (from `b_set`).
    fn before(&self, a: &Self::Item, a_set: &str, b: &Self::Item, b_set: &str) -> bool;

    /// The mark of an item returned from a set.
    fn mark(&self, item: &Self::Item) -> Self::Mark;

    /// Drops the items of a re-fetched page that were returned already,
    /// given the set's own mark and the page's last item overall.
    fn skip(
        &self,
        items: Vec<Self::Item>,
        own: Option<&Self::Mark>,
        last: Option<&Self::Mark>,
    ) -> Vec<Self::Item>;
}

/// The master's cursor, inside its page token.
#[derive(Serialize, Deserialize)]
#[serde(bound = "M: Serialize + for<'a> Deserialize<'a>")]
pub struct Cursor<M> {
    /// Per set: `None` once exhausted.
    sets: BTreeMap<String, Option<SetCursor<M>>>,
    /// The last item returned, from whichever set.
    last: Option<M>,
}

#[derive(Clone, Serialize, Deserialize)]
struct SetCursor<M> {
    token: String,
    after: Option<M>,
}

/// One set's contribution while a page is assembled.
struct Source<O: Order> {
    set: Arc<ReplicaSet>,
    /// The token `buffer` was fetched from.
    from: String,
    buffer: VecDeque<O::Item>,
    /// The set's token after `buffer`; empty: nothing after it.
    next: String,
    /// The last item taken from this set, on this page or before.
    after: Option<O::Mark>,
    exhausted: bool,
}

/// One page of the merged listing of `sets` for `scope`.
pub async fn page<O: Order>(
    order: &O,
    sets: Vec<Arc<ReplicaSet>>,
    scope: &str,
    cursor: Cursor<O::Mark>,
    size: usize,
) -> Result<(Vec<O::Item>, String), Status> {
    let last = cursor.last.clone();
    let starts = sets.into_iter().filter_map(|set| {
        match cursor.sets.get(set.name()) {
            // Seen on an earlier page and used up.
            Some(None) => None,
            Some(Some(at)) => Some((set, at.token.clone(), at.after.clone())),
            // New since the first page (or the first page itself).
            None => Some((set, String::new(), None)),
        }
    });
    let fetches = starts.map(|(set, from, after)| async {
        let (items, next) = order.fetch(&set, &from, size).await?;
        let items = order.skip(items, after.as_ref(), last.as_ref());
        Ok::<_, Status>(Source::<O> {
            set,
            from,
            buffer: items.into(),
            next,
            after,
            exhausted: false,
        })
    });
    let mut sources = try_join_all(fetches).await?;
    let mut items = Vec::with_capacity(size);
    let mut last = last;
    while items.len() < size {
        refill(order, &mut sources, size, last.as_ref()).await?;
        let Some(index) = smallest(order, &sources) else {
            break;
        };
        let source = &mut sources[index];
        let Some(item) = source.buffer.pop_front() else {
            break;
        };
        let mark = order.mark(&item);
        source.after = Some(mark.clone());
        last = Some(mark);
        items.push(item);
    }
    refill(order, &mut sources, size, last.as_ref()).await?;
    let more = sources.iter().any(|s| !s.buffer.is_empty());
    let next = if more {
        next_token(scope, &cursor, sources, last)
    } else {
        String::new()
    };
    Ok((items, next))
}

/// Fetches the next page of every set whose buffer ran dry, until it has
/// an item or is exhausted.
async fn refill<O: Order>(
    order: &O,
    sources: &mut [Source<O>],
    size: usize,
    last: Option<&O::Mark>,
) -> Result<(), Status> {
    for source in sources.iter_mut() {
        while source.buffer.is_empty() && !source.exhausted {
            if source.next.is_empty() {
                source.exhausted = true;
                break;
            }
            let from = std::mem::take(&mut source.next);
            let (items, next) = order.fetch(&source.set, &from, size).await?;
            source.buffer = order.skip(items, source.after.as_ref(), last).into();
            source.from = from;
            source.next = next;
        }
    }
    Ok(())
}

fn smallest<O: Order>(order: &O, sources: &[Source<O>]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (index, source) in sources.iter().enumerate() {
        let Some(head) = source.buffer.front() else {
            continue;
        };
        let better = match best {
            None => true,
            Some(b) => {
                let other = &sources[b];
                other
                    .buffer
                    .front()
                    .is_none_or(|o| order.before(head, source.set.name(), o, other.set.name()))
            }
        };
        if better {
            best = Some(index);
        }
    }
    best
}

fn next_token<O: Order>(
    scope: &str,
    previous: &Cursor<O::Mark>,
    sources: Vec<Source<O>>,
    last: Option<O::Mark>,
) -> String {
    // Sets used up on earlier pages stay used up.
    let mut sets: BTreeMap<String, Option<SetCursor<O::Mark>>> = previous
        .sets
        .iter()
        .filter(|(_, at)| at.is_none())
        .map(|(name, _)| (name.clone(), None))
        .collect();
    for source in sources {
        let at = if source.buffer.is_empty() {
            // Exhausted: refill only leaves a buffer empty at the end.
            None
        } else {
            Some(SetCursor {
                token: source.from,
                after: source.after,
            })
        };
        sets.insert(source.set.name().to_owned(), at);
    }
    let cursor = Cursor { sets, last };
    match serde_json::to_string(&cursor) {
        Ok(text) => encode_token(scope, &text),
        Err(_) => String::new(),
    }
}

/// Where a listing of `scope` resumes: the start for an empty `token`.
/// A violation of `page_token` when this master did not issue it for
/// `scope`, so that the caller reports it beside the request's other bad
/// fields.
pub fn read_token<M: Serialize + for<'de> Deserialize<'de>>(
    scope: &str,
    token: &str,
) -> Result<Cursor<M>, Violation> {
    match decode_token(token, scope)? {
        None => Ok(Cursor {
            sets: BTreeMap::new(),
            last: None,
        }),
        Some(text) => serde_json::from_str(&text)
            .map_err(|_| Violation::new("page_token", "was not issued by this server")),
    }
}
