//! Comparing the target's answer with the model's [`Expect`]: codes and
//! violated fields of errors, payloads of resources and pages, generated
//! ids by their shape, transaction ids by being new.

use std::sync::atomic::Ordering;

use tonic::Code;

use super::{
    sequence::{Seq, lock},
    translate::{local_to_real, real_name, to_call},
};
use crate::{
    call::{Call, Reply},
    check::{Check, Failure, code_name, describe, violation_fields},
    model::state::{self, Expect, K, LocalName, Op},
    req::{Kind, Page, Res},
};

/// A comparison that failed, and the clause when it is not the request's.
pub(super) struct Mismatch {
    pub(super) expected: String,
    pub(super) actual: String,
    pub(super) clause: Option<&'static str>,
    /// Only the timestamps differ: the model's state is still the
    /// target's (see [`Seq::harmless`]).
    pub(super) timing: bool,
}

impl Seq<'_> {
    pub(super) async fn check(&self, op: &Op, expect: &Expect, clause: &'static str) -> Check {
        let handles = self.handles();
        let call = to_call(op, &self.prefix, &handles);
        let script = to_call(op, "", &handles).render();
        self.harmless.store(false, Ordering::SeqCst);
        let fail = |expected: String, actual: String| {
            Failure::new(expected, actual)
                .clause(clause)
                .request(script.clone())
        };
        if let (Op::List { kind: K::Db, .. }, Expect::AllDatabases(want)) = (op, expect) {
            return self
                .check_all_databases(&call, want)
                .await
                .map_err(|f| Failure {
                    clause: Some(clause.into()),
                    request: Some(script.clone()),
                    ..f
                });
        }
        let exchange = self.ctx.send(call).await;
        match (expect, &exchange.outcome) {
            (Expect::Error(code, fields), Err(status)) => {
                let got = violation_fields(status);
                let mut got_sorted = got.clone();
                got_sorted.sort();
                if status.code() != *code
                    || (*code == Code::InvalidArgument && &got_sorted != fields)
                {
                    // Both refused the request: neither changed its state.
                    self.harmless.store(true, Ordering::SeqCst);
                    return Err(fail(
                        expected_error(*code, fields),
                        describe(&exchange.outcome),
                    ));
                }
                Ok(())
            }
            (Expect::CommitFailed(index), Err(status)) => {
                if status.code() != Code::FailedPrecondition
                    || !names_operation(status.message(), *index)
                {
                    return Err(fail(expected_text(expect), describe(&exchange.outcome)));
                }
                Ok(())
            }
            (Expect::Error(..) | Expect::CommitFailed(_), Ok(_)) => {
                Err(fail(expected_text(expect), describe(&exchange.outcome)))
            }
            (_, Err(_)) => Err(fail("OK".into(), describe(&exchange.outcome))),
            (Expect::Empty, Ok(_)) => {
                if let Op::Delete {
                    name: LocalName::Name(segs),
                    ..
                } = op
                {
                    self.forget(&local_to_real(segs, &self.prefix));
                }
                Ok(())
            }
            (Expect::Begun, Ok(reply)) => {
                let id = match reply {
                    Reply::Begin(r) => r.transaction_id.clone(),
                    _ => String::new(),
                };
                let mut handles = lock(&self.handles);
                if id.is_empty() || handles.txns.iter().any(|(_, seen)| seen == &id) {
                    return Err(fail(
                        "a non-empty transaction id that no Begin returned before".into(),
                        describe(&exchange.outcome),
                    ));
                }
                if let Op::Begin { db } = op {
                    handles.txns.push((real_name(db, &self.prefix), id));
                }
                Ok(())
            }
            (Expect::Committed(effects), Ok(_)) => {
                self.committed(effects);
                Ok(())
            }
            (Expect::Resource(segs, field), Ok(reply)) => {
                let res = Res::from_reply(reply.clone()).map_err(|f| fail(f.expected, f.actual))?;
                let name = local_to_real(segs, &self.prefix);
                self.check_res(
                    &res,
                    &name,
                    field,
                    matches!(op, Op::Update { .. }),
                    matches!(op, Op::Create { .. }),
                )
                .map_err(|m| {
                    self.harmless.store(m.timing, Ordering::SeqCst);
                    let clause = m.clause.unwrap_or(clause);
                    fail(m.expected, m.actual).clause(clause)
                })
            }
            (Expect::Generated(parent, field), Ok(reply)) => {
                let res = Res::from_reply(reply.clone()).map_err(|f| fail(f.expected, f.actual))?;
                let parent_name = local_to_real(parent, &self.prefix);
                let id = res
                    .name
                    .strip_prefix(&format!("{parent_name}/"))
                    .and_then(|r| r.split_once('/'))
                    .map(|(_, id)| id.to_owned())
                    .unwrap_or_default();
                let shape = id.len() == 20 && state::valid_id(&id, 2);
                if !shape || &res.field != field {
                    return Err(fail(
                        format!(
                            "a generated name {parent_name}/.../<20 id characters> with {field:?}"
                        ),
                        format!("{} with {:?}", res.name, res.field),
                    )
                    .clause("NAME-5"));
                }
                // Forget it again, so the model's state stays the target's.
                let kind = if parent.len() == 1 {
                    Kind::Collection
                } else {
                    Kind::Document
                };
                self.ctx
                    .send(kind.delete(&res.name))
                    .await
                    .ok()
                    .map_err(|f| fail(f.expected, f.actual))?;
                Ok(())
            }
            (Expect::Page(items, more), Ok(reply)) => {
                let page =
                    Page::from_reply(reply.clone()).map_err(|f| fail(f.expected, f.actual))?;
                let want: Vec<(String, String)> = items
                    .iter()
                    .map(|(s, f)| (local_to_real(s, &self.prefix), f.clone()))
                    .collect();
                let got: Vec<(String, String)> = page
                    .items
                    .iter()
                    .map(|r| (r.name.clone(), r.field.clone()))
                    .collect();
                if want != got || *more == page.next_page_token.is_empty() {
                    return Err(fail(
                        format!(
                            "items {want:?}, {}",
                            if *more {
                                "a next_page_token"
                            } else {
                                "no next_page_token"
                            }
                        ),
                        format!("items {got:?}, next_page_token {:?}", page.next_page_token),
                    ));
                }
                for item in &page.items {
                    self.check_times(item, false, false).map_err(|m| {
                        fail(m.expected, m.actual).clause(m.clause.unwrap_or("FIELD-6"))
                    })?;
                }
                if *more {
                    lock(&self.handles).tokens.push(page.next_page_token);
                }
                Ok(())
            }
            (Expect::AllDatabases(_), Ok(_)) => Ok(()),
        }
    }

    async fn check_all_databases(&self, first: &Call, want: &[(Vec<String>, String)]) -> Check {
        let Call::ListDatabases(request) = first else {
            return Ok(());
        };
        let mut got = Vec::new();
        let ours = format!("databases/{}", self.prefix);
        self.ctx
            .page_through(Kind::Database, "", request.page_size, |page| {
                got.extend(
                    page.items
                        .into_iter()
                        .filter(|r| r.name.starts_with(&ours))
                        .map(|r| (r.name, r.field)),
                );
                Ok(())
            })
            .await?;
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(s, f)| (local_to_real(s, &self.prefix), f.clone()))
            .collect();
        crate::check::eq("the sequence's databases, paged through", &want, &got)
    }

    fn check_res(
        &self,
        res: &Res,
        name: &str,
        field: &str,
        update: bool,
        create: bool,
    ) -> Result<(), Mismatch> {
        if res.name != name || res.field != field || !res.id.is_empty() {
            return Err(Mismatch {
                expected: format!("{name} with {field:?} (and an empty id)"),
                actual: format!("{} with {:?} (id {:?})", res.name, res.field, res.id),
                clause: None,
                timing: false,
            });
        }
        self.check_times(res, update, create)
    }
}

/// Whether `message` names operation `index` (`operation 2`, or
/// `operations[2]` as violations spell it), and not `operation 21`.
fn names_operation(message: &str, index: usize) -> bool {
    let message = message.to_lowercase();
    [format!("operation {index}"), format!("operations[{index}]")]
        .iter()
        .any(|needle| {
            message.match_indices(needle.as_str()).any(|(at, _)| {
                !message[at + needle.len()..].starts_with(|c: char| c.is_ascii_digit())
            })
        })
}

/// The answer the model expects, in words.
fn expected_text(expect: &Expect) -> String {
    match expect {
        Expect::Error(code, fields) => expected_error(*code, fields),
        Expect::CommitFailed(index) => {
            format!("FAILED_PRECONDITION with a message naming operation {index}")
        }
        _ => "OK".into(),
    }
}

fn expected_error(code: Code, fields: &[String]) -> String {
    if fields.is_empty() {
        code_name(code).to_owned()
    } else {
        format!("{} violations=[{}]", code_name(code), fields.join(", "))
    }
}
