//! Snapshot scenarios: small scripts that tell a story, and their golden
//! transcripts.
//!
//! A script (`fixtures/scenarios/NAME.txt`) is one request per line in the
//! [`call::script`](crate::call::script) syntax:
//!
//! ```text
//! # clause: DB-DELETE-3
//! # Deleting a database takes its collections and documents with it.
//! CreateDatabase database_id=shop database.display_name=Shop
//! DeleteDatabase name=databases/shop
//! !GetDatabase name=databases/shop
//! ```
//!
//! - `#` lines are comments; `# clause: ID` names the clause the scenario
//!   teaches, `# tags: a,b` its tags (default `core`), `# requires: A,B`
//!   the clauses it relies on to get there (a failure is `blocked by` one of
//!   them when that clause fails in the same run).
//! - `!` marks a request that must fail; any other request must succeed.
//! - Database ids are written plain (`shop`); the runner puts them in the
//!   case's namespace, so scenarios run isolated like every case.
//! - `$name` is the name returned by the last create, `$token` the last
//!   `next_page_token`, `$txn` the last transaction id; `$tokenN` and
//!   `$txnN` (from 0) are the N-th of a run, as replayed model sequences
//!   name them.
//!
//! The transcript (request, code, response) is YAML with redactions:
//! timestamps become `[time-N]`, generated ids `[id-N]`, page tokens
//! `[token-N]`, transaction ids `[txn-N]`, log entry ids `[uuid-N]` (N
//! counts first appearances, so equal values keep equal placeholders) and the
//! namespace `[prefix]`. Under `cargo test` it is an insta snapshot in
//! `testdata/scenarios/`; the binary embeds those files and prints a unified
//! diff on mismatch.

mod redact;

use serde_yaml::{Mapping, Value};

use self::redact::Redactor;
use crate::{
    call::{Call, IdSite, Reply},
    case::{Case, Tag},
    check::{Check, Failure, code_name, describe, diff, violation_fields},
    ctx::Ctx,
};

/// One scenario as compiled into the crate.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// The file stem: `basics`.
    pub name: &'static str,
    /// The script.
    pub script: &'static str,
    /// The golden insta snapshot, if one is checked in.
    pub golden: Option<&'static str>,
}

include!(concat!(env!("OUT_DIR"), "/scenarios.rs"));

/// Every scenario of `fixtures/scenarios/`.
pub fn all() -> &'static [Scenario] {
    SCENARIOS
}

fn header<'a>(script: &'a str, key: &str) -> Option<&'a str> {
    script
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .find_map(|l| l.trim().strip_prefix(key).map(str::trim))
}

/// One case per scenario: `scenario-NAME`.
pub fn cases() -> Vec<Case> {
    all()
        .iter()
        .map(|s| {
            let clause = header(s.script, "clause:").unwrap_or("UNKNOWN").to_owned();
            let tags: Vec<Tag> = header(s.script, "tags:")
                .map(|t| t.split(',').filter_map(|t| t.trim().parse().ok()).collect())
                .unwrap_or_else(|| vec![Tag::Core]);
            let requires: Vec<&str> = header(s.script, "requires:")
                .map(|t| t.split(',').map(str::trim).collect())
                .unwrap_or_default();
            let scenario = *s;
            Case::new(
                format!("scenario-{}", s.name),
                clause,
                &tags,
                move |ctx| async move {
                    let transcript = run(&ctx, scenario.script).await?;
                    (ctx.settings().golden)(scenario.name, &transcript).map_err(|message| {
                        Failure::new("the golden transcript", "a different transcript")
                            .note(message)
                    })
                },
            )
            .relies_on(&requires)
        })
        .collect()
}

/// The golden check of the binary: compares with the embedded snapshot.
pub fn embedded_golden(name: &str, transcript: &str) -> Result<(), String> {
    let scenario = all()
        .iter()
        .find(|s| s.name == name)
        .ok_or("unknown scenario")?;
    let golden = scenario.golden.ok_or_else(|| {
        format!("no golden transcript testdata/scenarios/{name}.snap was compiled in")
    })?;
    let body = snapshot_body(golden);
    if body.trim_end() == transcript.trim_end() {
        return Ok(());
    }
    Err(format!(
        "transcript differs from testdata/scenarios/{name}.snap (- golden, + actual):\n{}",
        diff(
            &format!("{}\n", body.trim_end()),
            &format!("{}\n", transcript.trim_end())
        )
    ))
}

/// The body of an insta snapshot file (after its `---` header).
pub fn snapshot_body(file: &str) -> &str {
    let mut parts = file.splitn(3, "---\n");
    match (parts.next(), parts.next(), parts.next()) {
        (Some(""), Some(_header), Some(body)) => body,
        _ => file,
    }
}

/// Runs a script and returns its redacted transcript.
pub async fn run(ctx: &Ctx, script: &str) -> Check<String> {
    let mut steps = Vec::new();
    let mut vars = Vars::default();
    let mut redactor = Redactor::new(ctx.ns());
    for (number, raw) in script.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (must_fail, line) = match line.strip_prefix('!') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, line),
        };
        let mut call = Call::parse(&vars.substitute(line)).map_err(|e| {
            Failure::new(format!("a valid script line {}", number + 1), e.to_string())
        })?;
        // Plain ids go into the namespace; ids that came from `$name` are
        // real already (in the namespace, or generated by this script).
        let created = ctx.created();
        call.map_database_ids(&mut |_site: IdSite, id| {
            let real = id.is_empty()
                || id.starts_with(ctx.ns())
                || created.contains(&format!("databases/{id}"));
            if real { id.to_owned() } else { ctx.id(id) }
        });
        let exchange = ctx.send(call.clone()).await;
        if must_fail != exchange.outcome.is_err() {
            let expected = if must_fail {
                "an error (the line starts with !)"
            } else {
                "OK"
            };
            return Err(Failure::new(expected, describe(&exchange.outcome)).request(call.render()));
        }
        redactor.note_call(&call, &exchange.outcome);
        vars.update(&exchange.outcome);
        steps.push(step(&call, &exchange.outcome, must_fail));
    }
    let mut transcript = Value::Sequence(steps);
    redactor.apply_value(&mut transcript);
    serde_yaml::to_string(&transcript).map_err(|e| Failure::new("a transcript", e.to_string()))
}

/// Replaces `var` where no digit follows it, so that `$txn1` leaves
/// `$txn12` alone, and `$txn` leaves `$txn0` (an id the target never
/// returned stays a visible `$txnN` in the request).
fn replace_var(line: &str, var: &str, value: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(var) {
        let after = &rest[at + var.len()..];
        out.push_str(&rest[..at]);
        if after.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str(var);
        } else {
            out.push_str(value);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

fn step(call: &Call, outcome: &crate::call::Outcome, must_fail: bool) -> Value {
    let mut map = Mapping::new();
    let bang = if must_fail { "!" } else { "" };
    map.insert("request".into(), format!("{bang}{}", call.render()).into());
    match outcome {
        Ok(reply) => {
            map.insert("code".into(), "OK".into());
            if *reply != Reply::Empty {
                map.insert("response".into(), reply.to_yaml());
            }
        }
        Err(status) => {
            map.insert("code".into(), code_name(status.code()).into());
            let fields = violation_fields(status);
            if !fields.is_empty() {
                map.insert(
                    "violations".into(),
                    fields.into_iter().map(Value::from).collect(),
                );
            }
        }
    }
    Value::Mapping(map)
}

/// `$name`, `$token` (the last token), `$tokenN` (the N-th token of a
/// collection or document listing, from 0, as model replays use), `$txn`
/// (the last transaction id) and `$txnN` (the N-th, from 0: a model replay
/// refers to every transaction it began).
#[derive(Debug, Default)]
struct Vars {
    name: String,
    token: String,
    child_tokens: Vec<String>,
    txns: Vec<String>,
}

impl Vars {
    fn substitute(&self, line: &str) -> String {
        let mut line = line.replace("$name", &self.name);
        for (i, txn) in self.txns.iter().enumerate() {
            line = replace_var(&line, &format!("$txn{i}"), txn);
        }
        let last = self.txns.last().map_or("", String::as_str);
        line = replace_var(&line, "$txn", last);
        for (i, token) in self.child_tokens.iter().enumerate() {
            line = replace_var(&line, &format!("$token{i}"), token);
        }
        replace_var(&line, "$token", &self.token)
    }

    fn update(&mut self, outcome: &crate::call::Outcome) {
        match outcome {
            Ok(Reply::Database(d)) => self.name = d.name.clone(),
            Ok(Reply::Collection(c)) => self.name = c.name.clone(),
            Ok(Reply::Document(d)) => self.name = d.name.clone(),
            Ok(Reply::Databases(r)) => self.token = r.next_page_token.clone(),
            Ok(Reply::Collections(crate::proto::database::ListCollectionsResponse {
                next_page_token: t,
                ..
            }))
            | Ok(Reply::Documents(crate::proto::database::ListDocumentsResponse {
                next_page_token: t,
                ..
            })) => {
                self.token = t.clone();
                if !t.is_empty() {
                    self.child_tokens.push(t.clone());
                }
            }
            Ok(Reply::WalEntries(r)) => self.token = r.next_page_token.clone(),
            Ok(Reply::Begin(r)) => self.txns.push(r.transaction_id.clone()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_variables_are_not_confused() {
        let vars = Vars {
            txns: (0..13).map(|i| format!("t{i}")).collect(),
            child_tokens: vec!["k0".into()],
            token: "k".into(),
            ..Vars::default()
        };
        assert_eq!(
            vars.substitute("Commit transaction_id=$txn12 x=$txn1 y=$txn z=$txn13"),
            "Commit transaction_id=t12 x=t1 y=t12 z=$txn13"
        );
        assert_eq!(
            vars.substitute("L page_token=$token0 t=$token"),
            "L page_token=k0 t=k"
        );
    }
}
