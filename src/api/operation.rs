//! Transaction operations: from the wire's loose `Operation` to a checked [`Op`].
//!
//! `Operation` is one message for nine kinds of change, so most of its
//! combinations are invalid. Execute checks every operation at once and
//! reports every bad field (`operations[2].value`, ...) before buffering
//! anything, so a transaction never holds an operation that cannot even be
//! understood; whether it *applies* is only known at Commit.
//!
//! `value` by entity and mutation:
//!
//! | entity | create / update | delete |
//! |---|---|---|
//! | database | `{"display_name": "..."}` (required) | empty |
//! | collection | `{"description": "..."}` (optional, default `""`) | empty |
//! | document | the document's JSON object, stored verbatim | empty |

use serde::Deserialize;

use crate::{
    error::{Error, Violation, clip, quote},
    fields::{check_description, check_display_name, check_value},
    names::{CollectionName, DatabaseName, DocumentName},
    proto::database::{EntityType, MutationType, Operation},
    store::Op,
};

/// The mutable fields of a database, as an operation's value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseFields {
    display_name: String,
}

/// The mutable fields of a collection, as an operation's value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CollectionFields {
    #[serde(default)]
    description: String,
}

/// Checks every operation of an Execute on `database`; all or nothing.
pub fn parse_operations(
    database: &DatabaseName,
    operations: Vec<Operation>,
) -> Result<Vec<Op>, Error> {
    let mut ops = Vec::with_capacity(operations.len());
    let mut violations = Vec::new();
    for (index, operation) in operations.into_iter().enumerate() {
        match parse_operation(database, index, operation) {
            Ok(op) => ops.push(op),
            Err(mut bad) => violations.append(&mut bad),
        }
    }
    if violations.is_empty() {
        Ok(ops)
    } else {
        Err(Error::InvalidArgument(violations))
    }
}

fn parse_operation(
    database: &DatabaseName,
    index: usize,
    op: Operation,
) -> Result<Op, Vec<Violation>> {
    let field = |name: &str| format!("operations[{index}].{name}");
    let mutation = match MutationType::try_from(op.mutation_type) {
        Ok(MutationType::Unspecified) | Err(_) => Err(Violation::new(
            field("mutation_type"),
            format!("must be CREATE, UPDATE or DELETE, got {}", op.mutation_type),
        )),
        Ok(mutation) => Ok(mutation),
    };
    let entity = match EntityType::try_from(op.entity_type) {
        Ok(EntityType::Unspecified) | Err(_) => Err(Violation::new(
            field("entity_type"),
            format!(
                "must be DATABASE, COLLECTION or DOCUMENT, got {}",
                op.entity_type
            ),
        )),
        Ok(entity) => Ok(entity),
    };
    let (mutation, entity) = match (mutation, entity) {
        (Ok(mutation), Ok(entity)) => (mutation, entity),
        (mutation, entity) => {
            return Err([mutation.err(), entity.err()]
                .into_iter()
                .flatten()
                .collect());
        }
    };
    let name_field = field("name");
    let value_field = field("value");
    let target = parse_target(database, entity, &op.name, &name_field);
    let fields = parse_value(entity, mutation, op.value, &value_field);
    match (target, fields) {
        (Ok(target), Ok(fields)) => Ok(build(target, mutation, fields)),
        (target, fields) => Err([target.err(), fields.err()].into_iter().flatten().collect()),
    }
}

/// The resource an operation names; it must be inside the transaction's database.
enum Target {
    Database(DatabaseName),
    Collection(CollectionName),
    Document(DocumentName),
}

fn parse_target(
    database: &DatabaseName,
    entity: EntityType,
    name: &str,
    field: &str,
) -> Result<Target, Violation> {
    let (target, db) = match entity {
        EntityType::Database => {
            let n = DatabaseName::parse(name, field)?;
            (Target::Database(n.clone()), n.database)
        }
        EntityType::Collection => {
            let n = CollectionName::parse(name, field)?;
            let db = n.database.clone();
            (Target::Collection(n), db)
        }
        EntityType::Document | EntityType::Unspecified => {
            let n = DocumentName::parse(name, field)?;
            let db = n.database.clone();
            (Target::Document(n), db)
        }
    };
    if db != database.database {
        return Err(Violation::new(
            field,
            format!(
                "{} is not inside the transaction's database {database}",
                quote(name)
            ),
        ));
    }
    Ok(target)
}

/// The mutable field an operation sets: a display name, a description or a
/// document value (`None` for deletes).
fn parse_value(
    entity: EntityType,
    mutation: MutationType,
    value: String,
    field: &str,
) -> Result<Option<String>, Violation> {
    if mutation == MutationType::Delete {
        return if value.is_empty() {
            Ok(None)
        } else {
            Err(Violation::new(field, "must be empty for a delete"))
        };
    }
    let parsed = match entity {
        EntityType::Database => {
            parse_fields::<DatabaseFields>(&value, field, "{\"display_name\": \"...\"}")
                .and_then(|f| check_display_name(&f.display_name, field).map(|()| f.display_name))
        }
        EntityType::Collection => {
            parse_fields::<CollectionFields>(&value, field, "{\"description\": \"...\"}")
                .and_then(|f| check_description(&f.description, field).map(|()| f.description))
        }
        EntityType::Document | EntityType::Unspecified => {
            check_value(&value, field).map(|()| value)
        }
    };
    parsed.map(Some)
}

/// Reads a JSON object of mutable fields into `T`.
///
/// serde's derived `Deserialize` for a struct also accepts a JSON *array*
/// of the fields in order (`["Shop"]` would read as a display name), so the
/// text must open with `{` first: the contract asks for an object.
fn parse_fields<T: serde::de::DeserializeOwned>(
    value: &str,
    field: &str,
    shape: &str,
) -> Result<T, Violation> {
    let must_be_object = |detail: &str| {
        // serde quotes unknown keys and values back: clipped, like any echo.
        Violation::new(
            field,
            format!("must be a JSON object {shape}: {}", clip(detail)),
        )
    };
    let json_whitespace: &[char] = &[' ', '\t', '\n', '\r'];
    if !value.trim_start_matches(json_whitespace).starts_with('{') {
        return Err(must_be_object("the value is not an object"));
    }
    serde_json::from_str(value).map_err(|err| must_be_object(&err.to_string()))
}

fn build(target: Target, mutation: MutationType, value: Option<String>) -> Op {
    let value = value.unwrap_or_default();
    match (target, mutation) {
        (Target::Database(name), MutationType::Create) => Op::CreateDatabase {
            id: Some(name.database),
            display_name: value,
        },
        (Target::Database(name), MutationType::Update) => Op::UpdateDatabase {
            name,
            display_name: value,
        },
        (Target::Database(name), _) => Op::DeleteDatabase { name },
        (Target::Collection(name), MutationType::Create) => Op::CreateCollection {
            parent: name.parent(),
            id: Some(name.collection),
            description: value,
        },
        (Target::Collection(name), MutationType::Update) => Op::UpdateCollection {
            name,
            description: value,
        },
        (Target::Collection(name), _) => Op::DeleteCollection { name },
        (Target::Document(name), MutationType::Create) => Op::CreateDocument {
            parent: name.parent(),
            id: Some(name.document),
            value,
        },
        (Target::Document(name), MutationType::Update) => Op::UpdateDocument { name, value },
        (Target::Document(name), _) => Op::DeleteDocument { name },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(mutation: MutationType, entity: EntityType, name: &str, value: &str) -> Operation {
        Operation {
            mutation_type: mutation as i32,
            entity_type: entity as i32,
            name: name.into(),
            value: value.into(),
        }
    }

    fn db() -> DatabaseName {
        DatabaseName {
            database: "shop".into(),
        }
    }

    fn fields_of(err: Error) -> Vec<String> {
        match err {
            Error::InvalidArgument(v) => v.into_iter().map(|v| v.field).collect(),
            other => panic!("{other:?}"),
        }
    }

    /// serde_json quotes an unknown key back in its error, and a name is the
    /// client's too: neither may carry a megabyte into the status.
    #[test]
    fn echoes_of_huge_keys_and_names_are_bounded() {
        let key = "k".repeat(100_000);
        let value = format!("{{\"{key}\": 1}}");
        let name = format!("databases/shop/collections/{}", "c".repeat(100_000));
        let ops = vec![
            op(
                MutationType::Create,
                EntityType::Database,
                "databases/shop",
                &value,
            ),
            op(MutationType::Delete, EntityType::Collection, &name, ""),
        ];
        let Err(Error::InvalidArgument(violations)) = parse_operations(&db(), ops) else {
            panic!("expected INVALID_ARGUMENT");
        };
        assert_eq!(violations.len(), 2, "{violations:?}");
        for violation in &violations {
            assert!(violation.description.len() < 400, "{violation}");
        }
        assert!(
            violations[0].description.contains("unknown field"),
            "{}",
            violations[0]
        );
    }

    /// serde reads a struct from an array of its fields in order; the
    /// contract asks for an object, so `["Shop"]` must not become a name.
    #[test]
    fn fields_given_as_an_array_are_refused() {
        use EntityType as E;
        let coll = "databases/shop/collections/c";
        for (entity, name, value) in [
            (E::Database, "databases/shop", r#"["Shop"]"#),
            (E::Collection, coll, r#"["x"]"#),
            (E::Collection, coll, " \n[]"),
            (E::Collection, coll, "null"),
        ] {
            let ops = vec![op(MutationType::Update, entity, name, value)];
            let err = parse_operations(&db(), ops).expect_err(value);
            assert_eq!(fields_of(err), ["operations[0].value"], "{value}");
        }
        let spaced = vec![op(MutationType::Update, E::Collection, coll, " \r\n\t{}")];
        assert!(
            parse_operations(&db(), spaced).is_ok(),
            "whitespace before the object"
        );
    }

    #[test]
    fn every_entity_and_mutation_becomes_its_op() {
        use EntityType as E;
        use MutationType as M;
        let ops = parse_operations(
            &db(),
            vec![
                op(
                    M::Update,
                    E::Database,
                    "databases/shop",
                    r#"{"display_name":"Shop"}"#,
                ),
                op(
                    M::Create,
                    E::Collection,
                    "databases/shop/collections/c",
                    "{}",
                ),
                op(
                    M::Update,
                    E::Collection,
                    "databases/shop/collections/c",
                    r#"{"description":"d"}"#,
                ),
                op(
                    M::Create,
                    E::Document,
                    "databases/shop/collections/c/documents/x",
                    r#"{"a": 1}"#,
                ),
                op(
                    M::Delete,
                    E::Document,
                    "databases/shop/collections/c/documents/x",
                    "",
                ),
            ],
        )
        .unwrap();
        assert_eq!(
            ops[1],
            Op::CreateCollection {
                parent: db(),
                id: Some("c".into()),
                description: String::new()
            }
        );
        assert_eq!(
            ops[3],
            Op::CreateDocument {
                parent: db().collection("c"),
                id: Some("x".into()),
                value: r#"{"a": 1}"#.into()
            }
        );
        assert!(matches!(ops[4], Op::DeleteDocument { .. }));
    }

    #[test]
    fn every_bad_field_of_every_operation_is_reported() {
        use EntityType as E;
        use MutationType as M;
        let err = parse_operations(
            &db(),
            vec![
                op(M::Unspecified, E::Document, "x", ""),
                op(
                    M::Create,
                    E::Document,
                    "databases/other/collections/c/documents/x",
                    "[]",
                ),
                op(
                    M::Delete,
                    E::Collection,
                    "databases/shop/collections/c",
                    "{}",
                ),
                op(
                    M::Create,
                    E::Database,
                    "databases/shop",
                    r#"{"display_name":"x","extra":1}"#,
                ),
                Operation {
                    mutation_type: 99,
                    entity_type: 0,
                    ..Default::default()
                },
            ],
        )
        .unwrap_err();
        assert_eq!(
            fields_of(err),
            [
                "operations[0].mutation_type",
                "operations[1].name",
                "operations[1].value",
                "operations[2].value",
                "operations[3].value",
                "operations[4].mutation_type",
                "operations[4].entity_type",
            ]
        );
    }

    #[test]
    fn a_database_value_needs_a_display_name() {
        let err = parse_operations(
            &db(),
            vec![op(
                MutationType::Create,
                EntityType::Database,
                "databases/shop",
                "{}",
            )],
        )
        .unwrap_err();
        assert_eq!(fields_of(err), ["operations[0].value"]);
    }
}
