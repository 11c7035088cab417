//! Writes the seed corpora of the fuzz targets into `testdata/fuzz/`.
//!
//! ```text
//! cargo run --example fuzz_seeds            # or: -- OUT_DIR
//! ```
//!
//! A fuzzer finds deep bugs much sooner from a few *real* inputs than from
//! nothing, so every seed here is something the worker made or reads:
//! scripts of real requests (the `service` target's format, see
//! `distgo_db::fuzzing`), played against a durable worker in a temporary
//! directory, whose log segments, entries and snapshot become the seeds of
//! the `segment`, `wal_entry` and `snapshot` targets; page tokens it
//! answered with; the configuration fixtures; names and JSON values from
//! the API's own examples. Files are named `seed-*`; inputs the fuzzer adds
//! (`just fuzz-merge`) are named by their hash. Run it again only when a
//! format changes, and commit the result.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::Arc,
};

use distgo_db::{
    clock::ManualClock,
    config::{EMBEDDED_DEFAULT, SyncPolicy, WalConfig},
    fuzzing::{self, METHODS},
    proto::database::{self as pb, database_service_server::DatabaseService},
    replication::Replica,
    wal::{Recovery, frame},
};
use prost::Message;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// One request of a script: the method's name and its message.
fn call(method: &str, message: &impl Message, script: &mut Vec<u8>) {
    let selector = METHODS
        .iter()
        .position(|m| *m == method)
        .unwrap_or_else(|| panic!("no method {method}"));
    fuzzing::encode_call(selector as u8, &message.encode_to_vec(), script);
}

fn database(id: &str, display_name: &str) -> pb::CreateDatabaseRequest {
    pb::CreateDatabaseRequest {
        database_id: id.into(),
        database: Some(pb::Database {
            display_name: display_name.into(),
            ..Default::default()
        }),
    }
}

fn document(parent: &str, id: &str, value: &str) -> pb::CreateDocumentRequest {
    pb::CreateDocumentRequest {
        parent: parent.into(),
        document_id: id.into(),
        document: Some(pb::Document {
            value: value.into(),
            ..Default::default()
        }),
    }
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

/// The scripts: each a small story of the API.
fn scripts() -> Vec<(&'static str, Vec<u8>)> {
    let mut crud = Vec::new();
    call("CreateDatabase", &database("shop", "Shop"), &mut crud);
    call("CreateDatabase", &database("", "Generated id"), &mut crud);
    call(
        "GetDatabase",
        &pb::GetDatabaseRequest {
            name: "databases/shop".into(),
        },
        &mut crud,
    );
    let update = pb::UpdateDatabaseRequest {
        database: Some(pb::Database {
            name: "databases/shop".into(),
            display_name: "The shop".into(),
            ..Default::default()
        }),
        update_mask: mask(&["display_name"]),
    };
    call("UpdateDatabase", &update, &mut crud);
    call(
        "ListDatabases",
        &pb::ListDatabasesRequest {
            page_size: 1,
            page_token: String::new(),
        },
        &mut crud,
    );
    call(
        "DeleteDatabase",
        &pb::DeleteDatabaseRequest {
            name: "databases/shop".into(),
        },
        &mut crud,
    );

    let mut documents = Vec::new();
    call("CreateDatabase", &database("shop", "Shop"), &mut documents);
    let collection = pb::CreateCollectionRequest {
        parent: "databases/shop".into(),
        collection_id: "orders".into(),
        collection: Some(pb::Collection {
            description: "Orders by customer".into(),
            ..Default::default()
        }),
    };
    call("CreateCollection", &collection, &mut documents);
    let coll = "databases/shop/collections/orders";
    call(
        "CreateDocument",
        &document(coll, "o-1", r#"{"customer":"ada","total":12.5}"#),
        &mut documents,
    );
    call(
        "CreateDocument",
        &document(coll, "", r#"{"items":[1,2,3],"paid":true}"#),
        &mut documents,
    );
    call(
        "GetDocument",
        &pb::GetDocumentRequest {
            name: format!("{coll}/documents/o-1"),
        },
        &mut documents,
    );
    let update = pb::UpdateDocumentRequest {
        document: Some(pb::Document {
            name: format!("{coll}/documents/o-1"),
            value: r#"{"customer":"ada","total":13}"#.into(),
            ..Default::default()
        }),
        update_mask: mask(&["value"]),
    };
    call("UpdateDocument", &update, &mut documents);
    let list = pb::ListDocumentsRequest {
        parent: coll.into(),
        page_size: 1,
        page_token: String::new(),
    };
    call("ListDocuments", &list, &mut documents);
    let list = pb::ListCollectionsRequest {
        parent: "databases/shop".into(),
        page_size: 0,
        page_token: String::new(),
    };
    call("ListCollections", &list, &mut documents);
    let update = pb::UpdateCollectionRequest {
        collection: Some(pb::Collection {
            name: coll.into(),
            description: "All orders".into(),
            ..Default::default()
        }),
        update_mask: mask(&["description"]),
    };
    call("UpdateCollection", &update, &mut documents);
    call(
        "GetCollection",
        &pb::GetCollectionRequest { name: coll.into() },
        &mut documents,
    );
    call(
        "DeleteDocument",
        &pb::DeleteDocumentRequest {
            name: format!("{coll}/documents/o-1"),
        },
        &mut documents,
    );
    call(
        "DeleteCollection",
        &pb::DeleteCollectionRequest { name: coll.into() },
        &mut documents,
    );

    let mut transactions = Vec::new();
    call(
        "CreateDatabase",
        &database("bank", "Bank"),
        &mut transactions,
    );
    call(
        "Begin",
        &pb::BeginRequest {
            database_name: "databases/bank".into(),
        },
        &mut transactions,
    );
    let execute = pb::ExecuteRequest {
        database_name: "databases/bank".into(),
        transaction_id: "t-unknown".into(),
        operations: vec![pb::Operation {
            mutation_type: pb::MutationType::Create as i32,
            entity_type: pb::EntityType::Collection as i32,
            name: "databases/bank/collections/accounts".into(),
            value: String::new(),
        }],
    };
    call("Execute", &execute, &mut transactions);
    let commit = pb::CommitRequest {
        database_name: "databases/bank".into(),
        transaction_id: "t-unknown".into(),
    };
    call("Commit", &commit, &mut transactions);
    let rollback = pb::RollbackRequest {
        database_name: "databases/bank".into(),
        transaction_id: "t-unknown".into(),
    };
    call("Rollback", &rollback, &mut transactions);

    let mut wal = Vec::new();
    call("CreateDatabase", &database("logs", "Logs"), &mut wal);
    // Bit 7 of the selector attaches a request id: the retry returns the
    // first outcome.
    let mut retried = Vec::new();
    call("CreateDatabase", &database("once", "Once"), &mut retried);
    retried[0] |= 0x80;
    wal.extend_from_slice(&retried);
    wal.extend_from_slice(&retried);
    let list = pb::ListWalEntriesRequest {
        page_size: 10,
        entity_type_filter: pb::EntityType::Database as i32,
        ..Default::default()
    };
    call("ListWALEntries", &list, &mut wal);
    let before = prost_types::Timestamp {
        seconds: 1_700_000_100,
        nanos: 0,
    };
    call(
        "TruncateWAL",
        &pb::TruncateWalRequest {
            before: Some(before),
        },
        &mut wal,
    );
    call(
        "ForgetConnection",
        &distgo_db::proto::cluster::ForgetConnectionRequest {},
        &mut wal,
    );

    vec![
        ("crud", crud),
        ("documents", documents),
        ("transactions", transactions),
        ("wal", wal),
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join(format!("seed-{name}")), bytes)?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("testdata/fuzz"), PathBuf::from);
    let scripts = scripts();
    for (name, script) in &scripts {
        write(&out.join("service"), name, script)?;
    }

    // The same scripts against a durable worker: its files are the seeds
    // of the decoders that read them back.
    let log = tempfile::tempdir()?;
    let config = WalConfig {
        path: Some(log.path().to_owned()),
        sync: SyncPolicy::Never,
        ..WalConfig::default()
    };
    let clock = Arc::new(ManualClock::new(fuzzing::START));
    let (replica, _) = Replica::open_standalone(&config, clock.clone(), Recovery::Strict)?;
    let replica = Arc::new(replica);
    let (first, rest) = scripts.split_at(2);
    for (_, script) in first {
        fuzzing::run(replica.clone(), clock.clone(), script).await;
    }
    tokens(&replica, &out.join("page_token")).await?;
    // Before the snapshot lets the first segment go.
    log_files(log.path(), &out)?;
    replica.compact_now()?;
    for (_, script) in rest {
        fuzzing::run(replica.clone(), clock.clone(), script).await;
    }
    replica.close_standalone();
    drop(replica);
    log_files(log.path(), &out)?;

    for (name, text) in [
        ("database", "databases/shop"),
        ("collection", "databases/shop/collections/orders"),
        (
            "document",
            "databases/shop/collections/orders/documents/o-1",
        ),
        (
            "long-id",
            "databases/a-b_c.d~e/collections/x/documents/0123456789",
        ),
        ("trailing-slash", "databases/shop/"),
    ] {
        write(&out.join("names"), name, text.as_bytes())?;
    }
    for (name, text) in [
        (
            "object",
            r#"{"customer":"ada","total":12.5,"items":[1,2,3]}"#,
        ),
        (
            "nested",
            r#" {"a": {"b": [null, true, false, -0.0e+1, "\u00e9"]}} "#,
        ),
        ("huge-number", r#"{"n":1e999}"#),
        ("array", "[1,2]"),
    ] {
        write(&out.join("document_json"), name, text.as_bytes())?;
    }
    configs(&out.join("config_yaml"))
}

/// The page tokens a worker answers with, as text and as the body under
/// their checksum.
async fn tokens(replica: &Arc<Replica>, dir: &Path) -> Result<()> {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let api = distgo_db::api::database::DatabaseApi::new(replica.clone());
    let list = pb::ListDatabasesRequest {
        page_size: 1,
        page_token: String::new(),
    };
    let token = api
        .list_databases(tonic::Request::new(list))
        .await?
        .into_inner()
        .next_page_token;
    assert!(!token.is_empty(), "two databases, pages of one");
    write(dir, "databases", token.as_bytes())?;
    let bytes = URL_SAFE_NO_PAD.decode(&token)?;
    write(dir, "databases-body", &bytes[..bytes.len() - 4])?;
    // The round-trip half: a split byte, then scope and cursor.
    write(dir, "split", b"\x09databasesshop")?;
    Ok(())
}

/// Segments, the entries inside them, and snapshots.
fn log_files(log: &Path, out: &Path) -> Result<()> {
    let mut entries = 0;
    for file in fs::read_dir(log)? {
        let path = file?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let bytes = fs::read(&path)?;
        if name.ends_with(".wal") {
            write(&out.join("segment"), &name, &bytes)?;
            let (frames, _) = frame::scan(&bytes[frame::HEADER_LEN..], frame::HEADER_LEN);
            for f in frames {
                entries += 1;
                write(
                    &out.join("wal_entry"),
                    &format!("{name}-{}", f.offset),
                    f.payload,
                )?;
            }
        } else if name.ends_with(".snap") {
            write(&out.join("snapshot"), &name, &bytes)?;
        }
    }
    assert!(entries > 0, "the scripts wrote entries");
    Ok(())
}

/// Every configuration fixture, good and bad, and the embedded default.
fn configs(dir: &Path) -> Result<()> {
    write(dir, "embedded-default.yaml", EMBEDDED_DEFAULT.as_bytes())?;
    write(
        dir,
        "worker-durable.yaml",
        &fs::read("fixtures/worker-durable.yaml")?,
    )?;
    for file in fs::read_dir("fixtures/configs/bad")? {
        let path = file?.path();
        if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
            write(dir, &format!("bad-{name}"), &fs::read(&path)?)?;
        }
    }
    let cluster = "name: n1\nwal:\n  path: /tmp/x\ncluster:\n  node_id: 1\n  peers:\n    1: 127.0.0.1:7001\n    2: 127.0.0.1:7002\n  bootstrap: true\n  election_timeout: 150ms..300ms\n";
    write(dir, "cluster.yaml", cluster.as_bytes())
}
