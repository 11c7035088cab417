//! One sequence against the target: its namespace (`{case ns}{n}-`), what
//! the target handed out and what the sequence has seen, and the cleanup
//! that leaves nothing behind when it passes.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use super::{
    clauses::clause_of,
    translate::{Handles, local_to_real},
};
use crate::{
    check::Failure,
    ctx::Ctx,
    model::state::{DB_IDS, Effect, Expect, Model, Op},
    req::{self, Kind},
};

/// One sequence's namespace and observations.
pub(super) struct Seq<'a> {
    pub(super) ctx: &'a Ctx,
    /// Database id prefix of this sequence.
    pub(super) prefix: String,
    /// Tokens and transaction ids the target issued.
    pub(super) handles: Mutex<Handles>,
    /// Timestamps seen per real name: (created_at, updated_at).
    pub(super) times: Mutex<BTreeMap<String, (i128, i128)>>,
    /// Resources that a commit wrote and nobody has read since: real name →
    /// (commit number, whether the commit created it).
    pub(super) pending: Mutex<BTreeMap<String, (usize, bool)>>,
    /// Each successful commit's time, once one of its resources is read.
    pub(super) commits: Mutex<Vec<Option<i128>>>,
    /// Whether the last comparison that failed left the model's state the
    /// target's: both refused the request, or only timestamps differ. A
    /// known deviation of that kind does not end the sequence's judging.
    pub(super) harmless: AtomicBool,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl<'a> Seq<'a> {
    pub(super) fn new(ctx: &'a Ctx, n: usize) -> Self {
        Seq {
            ctx,
            prefix: if n == usize::MAX {
                format!("{}min-", ctx.ns())
            } else {
                format!("{}{n}-", ctx.ns())
            },
            handles: Mutex::default(),
            times: Mutex::default(),
            pending: Mutex::default(),
            commits: Mutex::default(),
            harmless: AtomicBool::new(false),
        }
    }

    pub(super) async fn run(
        &self,
        model: &mut Model,
        ops: &[Op],
        seen: Option<&std::sync::atomic::AtomicUsize>,
        known: &BTreeSet<String>,
    ) -> Result<(), (Failure, usize)> {
        for (i, op) in ops.iter().enumerate() {
            if let Some(seen) = seen {
                seen.store(i + 1, std::sync::atomic::Ordering::SeqCst);
            }
            let expect = model.step(op);
            let clause = clause_of(model, op, &expect);
            match self.check(op, &expect, clause).await {
                Ok(()) => {}
                Err(f) if f.clause.as_ref().is_some_and(|c| known.contains(c)) => {
                    if let Some(c) = f.clause.as_deref()
                        && self.ctx.known_failures().contains(c)
                    {
                        // Known before the case began: the runner reports
                        // the case blocked by it if nothing else turns up.
                        self.ctx.met_known(c, &f);
                    }
                    if !self.harmless.load(Ordering::SeqCst) {
                        // The model's state may no longer be the target's:
                        // the rest of the sequence is not judged.
                        return Ok(());
                    }
                    // Still in step; only the resource's times are unknown.
                    if let Expect::Resource(segs, _) = &expect {
                        self.forget(&local_to_real(segs, &self.prefix));
                    }
                }
                Err(f) => return Err((f, i)),
            }
        }
        Ok(())
    }

    /// Rolls back the transactions it began (they would otherwise wait for
    /// their expiry on the target) and deletes every database the sequence
    /// may have made (whatever the target did, all of them have an id from
    /// [`DB_IDS`]).
    pub(super) async fn cleanup(&self) {
        for (db, id) in self.handles().txns {
            let _ = self.ctx.send(req::rollback(&db, &id)).await;
        }
        for id in DB_IDS {
            let id = format!("{}{id}", self.prefix);
            if crate::ctx::is_database_id(&id) {
                let name = format!("databases/{id}");
                let _ = self.ctx.send(Kind::Database.delete(&name)).await;
                self.ctx.forget(&name);
            }
        }
    }

    pub(super) fn handles(&self) -> Handles {
        lock(&self.handles).clone()
    }

    /// Forgets what it knows of `name` and everything below it: deleted.
    pub(super) fn forget(&self, name: &str) {
        let below = format!("{name}/");
        let gone = |k: &String| k == name || k.starts_with(&below);
        lock(&self.times).retain(|k, _| !gone(k));
        lock(&self.pending).retain(|k, _| !gone(k));
    }

    /// Records what a successful commit wrote, so that the next reads of
    /// those resources check their timestamps against the commit's.
    pub(super) fn committed(&self, effects: &[(Vec<String>, Effect)]) {
        let number = {
            let mut commits = lock(&self.commits);
            commits.push(None);
            commits.len() - 1
        };
        for (segs, effect) in effects {
            let name = local_to_real(segs, &self.prefix);
            match effect {
                Effect::Deleted => self.forget(&name),
                Effect::Created => {
                    lock(&self.times).remove(&name);
                    lock(&self.pending).insert(name, (number, true));
                }
                Effect::Updated => {
                    let mut pending = lock(&self.pending);
                    let created = pending.get(&name) == Some(&(number, true));
                    pending.insert(name, (number, created));
                }
            }
        }
    }
}
