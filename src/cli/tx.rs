//! `distgo tx run FILE`: a list of operations applied as one transaction.
//!
//! The file is YAML (or JSON, which YAML reads too): a list, each item
//! naming what it does to which resource, by short path or full name; the
//! path's depth says whether it is a database, collection or document:
//!
//! ```yaml
//! - create: shop/users/ada              # a document
//!   value: {name: Ada, born: 1815}
//! - update: shop/users                  # a collection
//!   value: {description: people who buy}
//! - update: shop/users/grace
//!   value: '{"name": "Grace Hopper"}'   # a string is sent verbatim
//! - delete: shop/users/bob
//! ```
//!
//! `value` is a document's JSON object, or a database's or collection's
//! mutable fields (`{display_name: ...}`, `{description: ...}`); a mapping
//! is sent as compact JSON in the order written, a string as it is. Every
//! operation must be in one database, the transaction's. The worker checks
//! each operation as it is sent and applies all of them at Commit, or none:
//! a failing operation is named by its index (from 0) in the error.

use std::path::Path;

use serde::Deserialize;

use super::{
    Context,
    error::CliError,
    input::read_all,
    path::{Kind, resolve_any},
    view::Committed,
};
use crate::proto::database::{
    BeginRequest, CommitRequest, EntityType, ExecuteRequest, MutationType, Operation,
    RollbackRequest,
};

/// One item of the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    create: Option<String>,
    update: Option<String>,
    delete: Option<String>,
    value: Option<serde_yaml::Value>,
}

/// Runs `tx run FILE`.
pub async fn run(cx: &mut Context, file: &Path) -> Result<(), CliError> {
    let text = read_all(file)?;
    let (database, operations) =
        parse(&text).map_err(|why| CliError::usage(format!("{}: {why}", file.display())))?;
    let count = operations.len();
    let mut tx = cx.clients.transactions();
    let begin = BeginRequest {
        database_name: database.clone(),
    };
    let transaction_id = tx.begin(begin).await?.into_inner().transaction_id;
    let execute = ExecuteRequest {
        database_name: database.clone(),
        transaction_id: transaction_id.clone(),
        operations,
    };
    if let Err(status) = tx.execute(execute).await {
        let rollback = RollbackRequest {
            database_name: database.clone(),
            transaction_id,
        };
        let _ = tx.rollback(rollback).await;
        return Err(status.into());
    }
    let commit = CommitRequest {
        database_name: database.clone(),
        transaction_id,
    };
    tx.commit(commit).await?;
    cx.printer.one(&Committed {
        database,
        operations: count,
    })
}

/// The transaction's database and its operations, or what is wrong.
fn parse(text: &str) -> Result<(String, Vec<Operation>), String> {
    let specs: Vec<Spec> = serde_yaml::from_str(text).map_err(|err| err.to_string())?;
    if specs.is_empty() {
        return Err("no operations".into());
    }
    let mut database: Option<String> = None;
    let mut operations = Vec::with_capacity(specs.len());
    for (index, spec) in specs.into_iter().enumerate() {
        let operation = operation(spec).map_err(|why| format!("operation {index}: {why}"))?;
        let of = database_of(&operation.name);
        match &database {
            None => database = Some(of.to_owned()),
            Some(first) if first != of => {
                return Err(format!(
                    "operation {index}: {} is not in {first}; a transaction has one database",
                    operation.name
                ));
            }
            Some(_) => {}
        }
        operations.push(operation);
    }
    Ok((database.unwrap_or_default(), operations))
}

fn operation(spec: Spec) -> Result<Operation, String> {
    let (mutation, path) = match (spec.create, spec.update, spec.delete) {
        (Some(path), None, None) => (MutationType::Create, path),
        (None, Some(path), None) => (MutationType::Update, path),
        (None, None, Some(path)) => (MutationType::Delete, path),
        _ => return Err("give exactly one of create, update, delete".into()),
    };
    let (kind, name) = resolve_any(&path).map_err(|err| err.to_string())?;
    let value = match (mutation, spec.value) {
        (MutationType::Delete, None) => String::new(),
        (MutationType::Delete, Some(_)) => return Err("a delete takes no value".into()),
        (_, None) => return Err("a create or update needs a value".into()),
        (_, Some(serde_yaml::Value::String(text))) => text,
        (_, Some(value)) => serde_json::to_string(&value).map_err(|err| err.to_string())?,
    };
    let entity = match kind {
        Kind::Database => EntityType::Database,
        Kind::Collection => EntityType::Collection,
        Kind::Document => EntityType::Document,
    };
    Ok(Operation {
        mutation_type: mutation.into(),
        entity_type: entity.into(),
        name,
        value,
    })
}

/// `databases/x` of any full name.
fn database_of(name: &str) -> &str {
    let end = name
        .match_indices('/')
        .nth(1)
        .map_or(name.len(), |(at, _)| at);
    &name[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_becomes_operations_in_one_database() {
        let text = "- create: shop/users/ada\n  value: {name: Ada, born: 1815}\n\
                    - update: shop/users\n  value: {description: people}\n\
                    - delete: databases/shop/collections/users/documents/bob\n";
        let (database, ops) = parse(text).unwrap();
        assert_eq!(database, "databases/shop");
        assert_eq!(ops[0].value, r#"{"name":"Ada","born":1815}"#);
        assert_eq!(ops[0].entity_type(), EntityType::Document);
        assert_eq!(ops[1].entity_type(), EntityType::Collection);
        assert_eq!(ops[2].mutation_type(), MutationType::Delete);
        assert_eq!(ops[2].value, "");
    }

    #[test]
    fn json_files_and_verbatim_strings_work_too() {
        let text = r#"[{"create": "a/b/c", "value": "{ \"x\" : 1 }"}]"#;
        let (_, ops) = parse(text).unwrap();
        assert_eq!(ops[0].value, r#"{ "x" : 1 }"#);
    }

    #[test]
    fn mistakes_name_the_operation() {
        for (text, expected) in [
            (
                "- create: a/b/c\n",
                "operation 0: a create or update needs a value",
            ),
            (
                "- create: a/b/c\n  update: a/b/c\n  value: {}\n",
                "exactly one",
            ),
            ("- delete: a/b\n- delete: z/b\n", "operation 1: databases/z"),
            ("[]", "no operations"),
            ("- remove: a\n", "unknown field"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
