//! `distgo`, the command-line client, as a user runs it: the real binary
//! against a real worker on 127.0.0.1:0, every subcommand, the three output
//! formats, imports and exports, and what a user sees when things go wrong.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

#[path = "cli/harness.rs"]
mod harness;

use std::collections::BTreeSet;

use harness::{DISTGO, Worker, distgo_command, run};
use serde_json::{Value, json};

/// A worker with `shop/users` in it.
fn shop() -> Worker {
    let worker = Worker::start();
    worker
        .run(&["db", "create", "shop", "--display-name", "Shop"])
        .ok();
    worker
        .run(&[
            "collection",
            "create",
            "shop/users",
            "--description",
            "people",
        ])
        .ok();
    worker
}

fn lines_of(text: &str) -> BTreeSet<String> {
    text.lines().map(str::to_owned).collect()
}

// ---- resources -----------------------------------------------------------

#[test]
fn databases_are_created_listed_renamed_and_deleted() {
    let worker = Worker::start();
    let created = worker.run(&["-o", "json", "db", "create", "shop"]).json();
    assert_eq!(created["name"], "databases/shop");
    assert_eq!(
        created["display_name"], "shop",
        "the display name defaults to the id"
    );
    worker
        .run(&[
            "db",
            "create",
            "databases/cellar",
            "--display-name",
            "Cellar",
        ])
        .ok();

    let listed = worker.run(&["db", "list"]);
    let rows: Vec<&str> = listed.ok().lines().collect();
    assert!(
        rows[0].starts_with("ID      DISPLAY NAME  CREATED"),
        "{rows:?}"
    );
    assert!(rows[1].starts_with("cellar  Cellar"), "{rows:?}");
    assert!(rows[2].starts_with("shop    shop"), "{rows:?}");

    let updated = worker
        .run(&[
            "-o",
            "json",
            "db",
            "update",
            "shop",
            "--display-name",
            "The Shop",
        ])
        .json();
    assert_eq!(updated["display_name"], "The Shop");
    assert_eq!(
        worker.run(&["-o", "json", "db", "get", "shop"]).json(),
        updated
    );

    let deleted = worker.run(&["db", "delete", "shop"]);
    assert_eq!(deleted.ok(), "deleted databases/shop\n");
    let left = worker.run(&["-o", "json", "db", "list"]).json();
    assert_eq!(left.as_array().map(Vec::len), Some(1));
    assert_eq!(left[0]["id"], "cellar");
}

#[test]
fn collections_are_created_described_listed_and_deleted() {
    let worker = shop();
    let created = worker
        .run(&[
            "-o",
            "json",
            "collection",
            "create",
            "shop/orders",
            "--description",
            "paid",
        ])
        .json();
    assert_eq!(created["name"], "databases/shop/collections/orders");
    assert_eq!(created["description"], "paid");
    let picked = worker
        .run(&["-o", "json", "collection", "create", "shop"])
        .json();
    assert_eq!(
        picked["id"].as_str().map(str::len),
        Some(20),
        "the worker picks an id"
    );

    worker
        .run(&[
            "collection",
            "update",
            "shop/orders",
            "--description",
            "paid or not",
        ])
        .ok();
    let got = worker
        .run(&["-o", "json", "collection", "get", "shop/orders"])
        .json();
    assert_eq!(got["description"], "paid or not");

    let listed = worker
        .run(&["-o", "json", "collection", "list", "shop"])
        .json();
    assert_eq!(listed.as_array().map(Vec::len), Some(3));
    let limited = worker
        .run(&["-o", "json", "collection", "list", "shop", "--limit", "1"])
        .json();
    assert_eq!(limited.as_array().map(Vec::len), Some(1));

    worker.run(&["collection", "delete", "shop/orders"]).ok();
    worker.run(&["collection", "get", "shop/orders"]).fails(1);
}

#[test]
fn documents_are_stored_and_printed_verbatim() {
    let worker = shop();
    let value = r#"{ "name" : "Ada",   "born": 1815 }"#;
    let created = worker.run(&["doc", "create", "shop/users/ada", value]);
    assert_eq!(
        created.ok(),
        format!("{value}\n"),
        "the stored value, byte for byte"
    );
    assert_eq!(
        worker.run(&["doc", "get", "shop/users/ada"]).ok(),
        format!("{value}\n")
    );

    let updated = worker.run(&["doc", "update", "shop/users/ada", r#"{"name":"Ada L."}"#]);
    assert_eq!(updated.ok(), "{\"name\":\"Ada L.\"}\n");

    let picked = worker.run(&["doc", "create", "shop/users", "{}"]);
    assert_eq!(picked.ok(), "{}\n");
    assert!(
        picked
            .stderr
            .starts_with("created databases/shop/collections/users/documents/")
    );

    let listed = worker.run(&["doc", "list", "shop/users"]);
    let rows: Vec<&str> = listed.ok().lines().collect();
    assert_eq!(rows.len(), 3, "a header and two documents: {rows:?}");
    assert!(rows[0].starts_with("ID ") && rows[0].ends_with("VALUE"));
    assert!(
        rows.iter()
            .any(|row| row.starts_with("ada ") && row.ends_with(r#"{"name":"Ada L."}"#))
    );

    let deleted = worker.run(&[
        "doc",
        "delete",
        "databases/shop/collections/users/documents/ada",
    ]);
    assert_eq!(
        deleted.ok(),
        "deleted databases/shop/collections/users/documents/ada\n"
    );
    worker.run(&["doc", "get", "shop/users/ada"]).fails(1);
}

#[test]
fn a_value_comes_from_an_argument_a_file_or_standard_input() {
    let worker = shop();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("grace.json"), "{\"name\":\"Grace\"}\n").unwrap();
    let from_file = worker.run_in(
        Some(dir.path()),
        &["doc", "create", "shop/users/grace", "@grace.json"],
        None,
    );
    assert_eq!(
        from_file.ok(),
        "{\"name\":\"Grace\"}\n",
        "the editor's newline is dropped"
    );
    let from_stdin =
        worker.run_with_stdin(&["doc", "update", "shop/users/grace", "-"], b"{\"n\":2}\n");
    assert_eq!(from_stdin.ok(), "{\"n\":2}\n");
    let missing = worker.run(&["doc", "create", "shop/users/x", "@nowhere.json"]);
    assert!(missing.fails(2).contains("nowhere.json"));
}

// ---- output formats ------------------------------------------------------

#[test]
fn json_output_has_the_documented_fields_and_embeds_values() {
    let worker = shop();
    worker
        .run(&["doc", "create", "shop/users/ada", r#"{"b":1,"a":[2]}"#])
        .ok();
    let doc = worker.run(&["-o", "json", "doc", "get", "shop/users/ada"]);
    let parsed = doc.json();
    let keys: Vec<&str> = parsed
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["created_at", "id", "name", "updated_at", "value"]);
    assert_eq!(parsed["value"], json!({"a": [2], "b": 1}));
    assert!(
        doc.stdout.contains(r#""value": {"b":1,"a":[2]}"#),
        "the value is embedded as written: {}",
        doc.stdout
    );
    let time = parsed["created_at"].as_str().unwrap();
    assert_eq!(time.len(), "2026-12-01T10:00:00.000000000Z".len(), "{time}");

    let db = worker.run(&["-o", "json", "db", "get", "shop"]).json();
    let keys: Vec<&str> = db.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["created_at", "display_name", "id", "name", "updated_at"]
    );
    let empty = worker.run(&["-o", "json", "doc", "list", "shop/users", "--limit", "0"]);
    assert_eq!(empty.json(), json!([]));
}

#[test]
fn yaml_output_has_the_same_fields_with_values_as_strings() {
    let worker = shop();
    worker
        .run(&["doc", "create", "shop/users/ada", r#"{"b":1}"#])
        .ok();
    let listed = worker.run(&["-o", "yaml", "doc", "list", "shop/users"]);
    let parsed: serde_yaml::Value = serde_yaml::from_str(listed.ok()).unwrap();
    assert_eq!(
        parsed[0]["name"],
        "databases/shop/collections/users/documents/ada"
    );
    assert_eq!(parsed[0]["value"], r#"{"b":1}"#);
    let db: serde_yaml::Value =
        serde_yaml::from_str(worker.run(&["-o", "yaml", "db", "get", "shop"]).ok()).unwrap();
    assert_eq!(db["display_name"], "Shop");
}

// ---- errors and exit codes -----------------------------------------------

#[test]
fn a_missing_resource_exits_1_with_not_found_on_stderr() {
    let worker = shop();
    for args in [
        &["doc", "get", "shop/users/nobody"][..],
        &["collection", "get", "shop/nothing"],
        &["db", "delete", "nowhere"],
        &["doc", "list", "shop/nothing"],
    ] {
        let run = worker.run(args);
        let stderr = run.fails(1);
        assert!(
            stderr.starts_with("distgo: NOT_FOUND: "),
            "{args:?}: {stderr}"
        );
        assert!(run.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn invalid_arguments_print_each_field_violation_on_its_own_line() {
    let worker = shop();
    let run = worker.run(&["doc", "create", "shop/users/a", "[1, 2]"]);
    let stderr = run.fails(1);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines[0].starts_with("distgo: INVALID_ARGUMENT: "),
        "{stderr}"
    );
    assert!(lines[1].starts_with("  document.value: "), "{stderr}");
}

#[test]
fn usage_errors_exit_2_before_anything_is_sent() {
    let worker = shop();
    for args in [
        &["frobnicate"][..],
        &["doc", "get", "shop/users"],
        &["doc", "get", "a/b/c/d"],
        &["collection", "create", ""],
        &["-o", "xml", "db", "list"],
        &["doc", "import", "shop/users", "/no/such/file.jsonl"],
        &["tx", "run", "/no/such/file.yaml"],
        &["db", "list", "--token", "a", "--token-file", "b"],
        &["wal", "list", "--since", "last tuesday"],
        &["db", "list", "--addr", "not a url"],
        &["db", "create"],
    ] {
        let run = worker.run(args);
        assert_eq!(run.code, 2, "{args:?}: {run:#?}");
        assert!(!run.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn an_unreachable_worker_exits_1_naming_the_address() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut command = distgo_command(&addr);
    command.args(["--timeout", "2s", "db", "list"]);
    let run = run(&mut command, None);
    assert!(
        run.fails(1).contains(&format!("cannot connect to {addr}")),
        "{run:#?}"
    );
}

#[test]
fn the_addr_flag_wins_over_the_environment() {
    let worker = Worker::start();
    let mut command = distgo_command("http://127.0.0.1:9");
    command.args(["--addr", &worker.url(), "health"]);
    assert_eq!(run(&mut command, None).ok(), "SERVING\n");
}

#[test]
fn health_reports_serving() {
    let worker = Worker::start();
    assert_eq!(worker.run(&["health"]).ok(), "SERVING\n");
    assert_eq!(
        worker.run(&["-o", "json", "health"]).json(),
        json!({"status": "SERVING"})
    );
}

// ---- import and export ---------------------------------------------------

/// `n` compact JSON lines of about 100 bytes, ids in `_id`.
fn jsonl(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"_id\":\"d{i:05}\",\"n\":{i},\"tags\":[\"a\",\"b\"],\"pad\":\"{}\"}}\n",
                "x".repeat(i % 50)
            )
        })
        .collect()
}

#[test]
fn ten_thousand_documents_round_trip_through_import_and_export() {
    let worker = shop();
    let dir = tempfile::tempdir().unwrap();
    let input = jsonl(10_000);
    std::fs::write(dir.path().join("in.jsonl"), &input).unwrap();
    let at = Some(dir.path());
    let import = [
        "doc",
        "import",
        "shop/users",
        "in.jsonl",
        "--id-field",
        "_id",
    ];
    let imported = worker.run_in(at, &import, None);
    assert!(
        imported
            .ok()
            .starts_with("imported 10000, skipped 0, failed 0 in "),
        "{imported:#?}"
    );

    let stored = worker.run(&["doc", "get", "shop/users/d00007"]);
    assert_eq!(
        stored.ok(),
        "{\"n\":7,\"tags\":[\"a\",\"b\"],\"pad\":\"xxxxxxx\"}\n"
    );

    let export = [
        "doc",
        "export",
        "shop/users",
        "out.jsonl",
        "--id-field",
        "_id",
    ];
    let exported = worker.run_in(at, &export, None);
    exported.ok();
    assert!(
        exported.stderr.contains("exported 10000 documents"),
        "{exported:#?}"
    );
    let output = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    assert_eq!(lines_of(&output), lines_of(&input));

    // Without --id-field the value is the line; ids are generated.
    let piped = worker.run_with_stdin(&["doc", "export", "shop/users"], b"");
    worker.run(&["collection", "create", "shop/copy"]).ok();
    let copy = worker.run_with_stdin(&["doc", "import", "shop/copy", "-"], piped.ok().as_bytes());
    copy.ok();
    let again = worker.run(&["doc", "export", "shop/copy"]);
    assert_eq!(lines_of(again.ok()), lines_of(piped.ok()));
    let first = worker
        .run(&["-o", "json", "doc", "list", "shop/copy", "--limit", "1"])
        .json();
    assert_eq!(first[0]["id"].as_str().map(str::len), Some(20));
}

#[test]
fn bad_lines_are_reported_by_number_and_the_good_ones_imported() {
    let worker = shop();
    let input = "{\"_id\":\"a\",\"n\":1}\n\
                 not json\n\
                 \n\
                 [1, 2]\n\
                 {\"n\":5}\n\
                 {\"_id\":\"a\",\"again\":true}\n\
                 {\"_id\":\"b\",\"n\":2}\n\
                 {\"_id\":\"bad/id\"}\n";
    let args = [
        "-o",
        "json",
        "doc",
        "import",
        "shop/users",
        "-",
        "--id-field",
        "_id",
    ];
    let run = worker.run_with_stdin(&args, input.as_bytes());
    let stderr = run.fails(1).to_owned();
    let summary: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        (
            &summary["imported"],
            &summary["skipped"],
            &summary["failed"]
        ),
        (&json!(2), &json!(3), &json!(2))
    );
    for (line, why) in [
        (2, "expected"),
        (4, "expected a JSON object"),
        (5, "no top-level \"_id\" field"),
        (6, "ALREADY_EXISTS"),
        (8, "INVALID_ARGUMENT"),
    ] {
        let prefix = format!("line {line}: ");
        let reported = stderr.lines().find(|l| l.starts_with(&prefix));
        assert!(
            reported.is_some_and(|l| l.contains(why)),
            "line {line} ({why}) in:\n{stderr}"
        );
    }
    assert!(!stderr.contains("line 3:"), "a blank line is not an error");
    let ids = worker
        .run(&["-o", "json", "doc", "list", "shop/users"])
        .json();
    let ids: Vec<&str> = ids
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert_eq!(ids, ["a", "b"]);
}

#[test]
fn a_strict_import_stops_at_the_first_bad_line() {
    let worker = shop();
    let input = "{\"_id\":\"a\"}\n{\"_id\":\"b\"}\nnot json\n{\"_id\":\"c\"}\n";
    let args = [
        "doc",
        "import",
        "shop/users",
        "-",
        "--id-field",
        "_id",
        "--strict",
    ];
    let run = worker.run_with_stdin(&args, input.as_bytes());
    assert!(run.fails(1).contains("line 3: "), "{run:#?}");
    assert!(
        run.stdout.starts_with("imported 2, skipped 1, failed 0"),
        "{run:#?}"
    );
    // Exactly the lines before the bad one, though they were one unsent batch.
    worker.run(&["doc", "get", "shop/users/a"]).ok();
    worker.run(&["doc", "get", "shop/users/b"]).ok();
    worker.run(&["doc", "get", "shop/users/c"]).fails(1);

    // A refused document stops the sending too.
    let input = "{\"_id\":\"a\"}\n{\"_id\":\"d\"}\n";
    let one_by_one = [&args[..], &["--batch", "1", "--parallel", "1"]].concat();
    let run = worker.run_with_stdin(&one_by_one, input.as_bytes());
    assert!(run.fails(1).contains("line 1: ALREADY_EXISTS"), "{run:#?}");
    worker.run(&["doc", "get", "shop/users/d"]).fails(1);
}

#[test]
fn keep_id_field_stores_the_line_as_it_is() {
    let worker = shop();
    let line = "{\"_id\": \"u1\", \"name\": \"Ada\"}\n";
    let args = [
        "doc",
        "import",
        "shop/users",
        "-",
        "--id-field",
        "_id",
        "--keep-id-field",
    ];
    worker.run_with_stdin(&args, line.as_bytes()).ok();
    assert_eq!(worker.run(&["doc", "get", "shop/users/u1"]).ok(), line);
}

#[test]
fn an_import_into_a_missing_collection_fails_before_reading() {
    let worker = shop();
    let run = worker.run_with_stdin(&["doc", "import", "shop/nothing", "-"], b"{}\n");
    assert!(run.fails(1).starts_with("distgo: NOT_FOUND: "), "{run:#?}");
}

#[test]
fn a_database_is_copied_to_another_worker_with_its_collections() {
    let source = shop();
    source
        .run(&[
            "collection",
            "create",
            "shop/orders",
            "--description",
            "paid",
        ])
        .ok();
    source
        .run(&["doc", "create", "shop/orders/o1", "{ \"total\" : 3 }"])
        .ok();
    source
        .run_with_stdin(
            &["doc", "import", "shop/users", "-", "--id-field", "_id"],
            jsonl(1500).as_bytes(),
        )
        .ok();
    let dump = source.run(&["db", "export", "shop"]);
    let first: Value = serde_json::from_str(dump.ok().lines().next().unwrap()).unwrap();
    assert_eq!(
        first,
        json!({"kind": "database", "format": 1, "id": "shop", "display_name": "Shop"})
    );

    let target = Worker::start();
    let imported =
        target.run_with_stdin(&["db", "import", "-", "--as", "copy"], dump.ok().as_bytes());
    assert!(
        imported
            .ok()
            .starts_with("imported 1501, skipped 0, failed 0"),
        "{imported:#?}"
    );
    let collections = target
        .run(&["-o", "json", "collection", "list", "copy"])
        .json();
    let described: Vec<(&str, &str)> = collections
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap(),
                c["description"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(described, [("orders", "paid"), ("users", "people")]);
    for collection in ["orders", "users"] {
        let from = source.run(&[
            "doc",
            "export",
            &format!("shop/{collection}"),
            "--id-field",
            "_id",
        ]);
        let to = target.run(&[
            "doc",
            "export",
            &format!("copy/{collection}"),
            "--id-field",
            "_id",
        ]);
        assert_eq!(lines_of(to.ok()), lines_of(from.ok()), "{collection}");
    }
    let twice = target.run_with_stdin(&["db", "import", "-", "--as", "copy"], dump.ok().as_bytes());
    assert!(twice.fails(1).contains("ALREADY_EXISTS"));
    let not_a_dump = target.run_with_stdin(&["db", "import", "-"], b"{\"a\":1}\n");
    assert!(not_a_dump.fails(2).contains("line 1"));
}

#[test]
fn export_stops_quietly_when_its_reader_goes_away() {
    let worker = shop();
    worker
        .run_with_stdin(
            &["doc", "import", "shop/users", "-"],
            jsonl(3000).as_bytes(),
        )
        .ok();
    let mut child = distgo_command(&worker.url())
        .args(["doc", "export", "shop/users"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let status = child.wait().unwrap();
    assert!(status.success(), "like `| head`: {status}");
}

// ---- transactions --------------------------------------------------------

#[test]
fn a_transaction_file_is_applied_all_or_nothing() {
    let worker = shop();
    worker.run(&["doc", "create", "shop/users/bob", "{}"]).ok();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tx.yaml");
    std::fs::write(
        &file,
        "- create: shop/users/ada\n  value: {name: Ada, born: 1815}\n\
         - update: shop/users\n  value: {description: everyone}\n\
         - delete: shop/users/bob\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let committed = worker.run(&["tx", "run", path]);
    assert_eq!(
        committed.ok(),
        "committed 3 operation(s) in databases/shop\n"
    );
    assert_eq!(
        worker.run(&["doc", "get", "shop/users/ada"]).ok(),
        "{\"name\":\"Ada\",\"born\":1815}\n"
    );
    worker.run(&["doc", "get", "shop/users/bob"]).fails(1);

    // Again: the create meets ALREADY_EXISTS, so the update does not happen either.
    worker
        .run(&[
            "collection",
            "update",
            "shop/users",
            "--description",
            "before",
        ])
        .ok();
    let refused = worker.run(&["tx", "run", path]);
    let stderr = refused.fails(1);
    assert!(
        stderr.starts_with("distgo: FAILED_PRECONDITION: ") && stderr.contains("operation 0"),
        "{stderr}"
    );
    let users = worker
        .run(&["-o", "json", "collection", "get", "shop/users"])
        .json();
    assert_eq!(users["description"], "before");

    let json_ops = r#"[{"create": "shop/users/zed", "value": "{\"z\": 1}"}]"#;
    let from_stdin = worker.run_with_stdin(&["-o", "json", "tx", "run", "-"], json_ops.as_bytes());
    assert_eq!(
        from_stdin.json(),
        json!({"database": "databases/shop", "operations": 1})
    );
    let bad = worker.run_with_stdin(&["tx", "run", "-"], b"- create: shop/users/x\n");
    assert!(
        bad.fails(2)
            .contains("operation 0: a create or update needs a value")
    );
}

// ---- the write-ahead log -------------------------------------------------

#[test]
fn wal_list_filters_by_entity_and_operation_and_truncate_drops_old_entries() {
    let worker = shop();
    worker.run(&["doc", "create", "shop/users/a", "{}"]).ok();
    worker
        .run(&["doc", "update", "shop/users/a", "{\"v\":2}"])
        .ok();
    let all = worker.run(&["-o", "json", "wal", "list"]).json();
    let ops: Vec<(&str, &str)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap(),
                e["entity"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        [
            ("create", "database"),
            ("create", "collection"),
            ("create", "document"),
            ("update", "document")
        ]
    );
    assert_eq!(all[3]["data"]["value"], "{\"v\":2}");
    assert_eq!(
        all[3]["name"],
        "databases/shop/collections/users/documents/a"
    );

    let updates = worker.run(&["wal", "list", "--entity", "document", "--op", "update"]);
    let rows: Vec<&str> = updates.ok().lines().collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows[1].contains("update  document") && rows[1].ends_with("documents/a"),
        "{rows:?}"
    );
    let limited = worker
        .run(&["-o", "json", "wal", "list", "--limit", "1"])
        .json();
    assert_eq!(limited.as_array().map(Vec::len), Some(1));
    let future = worker
        .run(&[
            "-o",
            "json",
            "wal",
            "list",
            "--since",
            "2999-01-01T00:00:00Z",
        ])
        .json();
    assert_eq!(future, json!([]));

    let truncated = worker.run(&["wal", "truncate", "--before", "now"]);
    assert!(truncated.ok().starts_with("truncated the entries before "));
    assert_eq!(worker.run(&["-o", "json", "wal", "list"]).json(), json!([]));
    assert_eq!(
        worker.run(&["doc", "get", "shop/users/a"]).ok(),
        "{\"v\":2}\n",
        "the data stays"
    );
}

#[test]
fn wal_follow_prints_new_entries_as_they_come_until_its_limit() {
    let worker = shop();
    let mut child = distgo_command(&worker.url())
        .args([
            "-o",
            "json",
            "wal",
            "list",
            "--follow",
            "--interval",
            "50ms",
            "--limit",
            "4",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Two entries exist already; two more arrive while it follows.
    std::thread::sleep(std::time::Duration::from_millis(300));
    worker.run(&["doc", "create", "shop/users/late", "{}"]).ok();
    worker.run(&["doc", "delete", "shop/users/late"]).ok();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("wal list --follow did not stop at its limit");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let run = harness::Run::from(child.wait_with_output().unwrap());
    let entries: Vec<Value> = run
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ops: Vec<&str> = entries
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["create", "create", "create", "delete"], "{run:#?}");
}

// ---- completions ---------------------------------------------------------

#[test]
fn completions_are_printed_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef distgo"),
        ("fish", "complete -c distgo"),
    ] {
        let mut command = std::process::Command::new(DISTGO);
        command.args(["completions", shell]);
        let run = run(&mut command, None);
        let script = run.ok();
        assert!(script.contains(marker), "{shell}");
        assert!(
            script.contains("import") && script.contains("truncate"),
            "{shell}"
        );
    }
}

// ---- the first lesson ----------------------------------------------------

/// The `$ command` lines of a markdown text's ```sh and ```console
/// blocks, each with the output lines that follow it.
fn sessions_in(markdown: &str) -> Vec<(String, String)> {
    let mut steps: Vec<(String, String)> = Vec::new();
    let mut in_block = false;
    // Output belongs to a `$` line of the same block: a block of plain
    // commands after a session is not the session's output.
    let mut block_has_step = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_block = matches!(line.trim(), "```sh" | "```console");
            block_has_step = false;
            continue;
        }
        if !in_block {
            continue;
        }
        match (line.strip_prefix("$ "), steps.last_mut()) {
            (Some(command), _) => {
                steps.push((command.to_owned(), String::new()));
                block_has_step = true;
            }
            (None, Some((_, output))) if block_has_step => {
                output.push_str(line);
                output.push('\n');
            }
            (None, _) => {}
        }
    }
    steps
}

/// Output with what differs from run to run masked: times, durations and
/// the column widths they cause.
fn masked(text: &str) -> String {
    let time = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z").unwrap();
    let seconds = regex::Regex::new(r"\d+\.\d\d s\b").unwrap();
    let text = time.replace_all(text, "TIME");
    let text = seconds.replace_all(&text, "N s");
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_walkthrough_in_the_module_docs_runs_as_written() {
    let steps = sessions_in(include_str!("../src/cli/walkthrough.md"));
    assert!(
        steps.len() >= 15,
        "the walkthrough has its commands: {steps:?}"
    );
    runs_as_written(&steps);
}

#[test]
fn the_first_lesson_of_the_readme_runs_as_written() {
    let readme = include_str!("../README.md");
    let start = readme
        .find("## First lesson")
        .expect("the README has a first lesson");
    let lesson = &readme[start..];
    let lesson = &lesson[..lesson[3..]
        .find("\n## ")
        .map_or(lesson.len(), |end| end + 3)];
    let steps = sessions_in(lesson);
    assert!(
        steps.len() >= 6,
        "the first lesson has its commands: {steps:?}"
    );
    assert!(
        steps
            .iter()
            .all(|(command, _)| command.starts_with("distgo "))
    );
    runs_as_written(&steps);
}

/// Runs each `$ command` of `steps` in order, in one scratch directory,
/// against one fresh worker, and requires exactly the output shown.
fn runs_as_written(steps: &[(String, String)]) {
    let worker = Worker::start();
    let dir = tempfile::tempdir().unwrap();
    let bin = std::path::Path::new(DISTGO).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (command, expected) in steps {
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{command} 2>&1"))
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("DISTGO_ADDR", worker.url())
            .env_remove("DISTGO_TOKEN")
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&output.stdout);
        assert_eq!(masked(&printed), masked(expected), "$ {command}\n{printed}");
    }
}

// ---- credentials ---------------------------------------------------------

/// A health server that rejects requests without `authorization: Bearer
/// s3cret`, standing in for a worker with token auth.
fn guarded_health_server() -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (bound, address) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            bound.send(listener.local_addr().unwrap()).unwrap();
            let (reporter, health) = tonic_health::server::health_reporter();
            reporter
                .set_service_status("", tonic_health::ServingStatus::Serving)
                .await;
            let check = |request: tonic::Request<()>| match request.metadata().get("authorization")
            {
                Some(value) if value == "Bearer s3cret" => Ok(request),
                _ => Err(tonic::Status::unauthenticated("no or wrong token")),
            };
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            let _ = tonic::transport::Server::builder()
                .layer(tonic::service::InterceptorLayer::new(check))
                .add_service(health)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await;
        });
    });
    let address = address
        .recv_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    (format!("http://{address}"), stop, thread)
}

#[test]
fn the_token_reaches_the_worker_from_a_flag_a_file_or_the_environment() {
    let (url, stop, thread) = guarded_health_server();
    let without = run(distgo_command(&url).arg("health"), None);
    assert!(
        without.fails(1).starts_with("distgo: UNAUTHENTICATED: "),
        "{without:#?}"
    );

    assert_eq!(
        run(
            distgo_command(&url).args(["--token", "s3cret", "health"]),
            None
        )
        .ok(),
        "SERVING\n"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "s3cret\n").unwrap();
    let from_file = distgo_command(&url)
        .args(["health", "--token-file"])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(from_file.status.success(), "{from_file:?}");
    let mut from_env = distgo_command(&url);
    from_env.env("DISTGO_TOKEN", "s3cret").arg("health");
    assert_eq!(run(&mut from_env, None).ok(), "SERVING\n");

    let _ = stop.send(());
    thread.join().unwrap();
}

// ---- cluster -------------------------------------------------------------

#[test]
fn cluster_status_shows_the_leader_and_its_members() {
    let dir = tempfile::tempdir().unwrap();
    let worker = Worker::start_member(dir.path());
    // A set of one elects itself within its election timeout.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        let status = worker.run(&["-o", "json", "cluster", "status"]).json();
        if status["state"] == "leader" || std::time::Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(status["state"], "leader", "{status}");
    assert_eq!(status["node_id"], 1);
    assert_eq!(status["leader_id"], 1);
    assert_eq!(status["members"][0]["leader"], true);
    assert_eq!(status["members"][0]["lag"], 0);
    let table = worker.run(&["cluster", "status"]).ok().to_owned();
    assert!(table.starts_with("node 1 (leader), term "), "{table}");
    assert!(table.contains("NODE  ADDRESS"), "{table}");
}

#[test]
fn cluster_status_of_a_standalone_worker_exits_1_with_unimplemented() {
    let worker = Worker::start();
    let stderr = worker.run(&["cluster", "status"]).fails(1).to_owned();
    assert!(
        stderr.contains("UNIMPLEMENTED") || stderr.contains("Unimplemented"),
        "{stderr}"
    );
}

// ---- through the master --------------------------------------------------

#[test]
fn a_master_is_recognised_and_spoken_to_under_its_own_package() {
    let set = Worker::start();
    let master = Worker::start_master(&set);
    // Told nothing, distgo asks the master's reflection and speaks
    // master.database.v1; the data lands on the set behind it.
    master.run(&["db", "create", "shop"]).ok();
    master.run(&["collection", "create", "shop/users"]).ok();
    master
        .run(&["doc", "create", "shop/users/ada", r#"{"name":"Ada"}"#])
        .ok();
    assert_eq!(
        set.run(&["doc", "get", "shop/users/ada"]).ok().trim(),
        r#"{"name":"Ada"}"#
    );
    let through_master = master.run(&["--api", "master", "doc", "get", "shop/users/ada"]);
    assert_eq!(through_master.ok().trim(), r#"{"name":"Ada"}"#);
    let exported = master.run(&["doc", "export", "shop/users", "-"]);
    assert!(exported.ok().contains("Ada"), "{exported:#?}");
}

#[test]
fn db_move_moves_a_database_to_the_other_set_of_a_master() {
    let a = Worker::start();
    let b = Worker::start();
    let master = Worker::start_master_over(&[&a, &b]);
    master.run(&["db", "create", "shop"]).ok();
    master.run(&["collection", "create", "shop/users"]).ok();
    master
        .run(&["doc", "create", "shop/users/ada", r#"{"name":"Ada"}"#])
        .ok();
    let (from, to, target) = if a.run(&["db", "get", "shop"]).code == 0 {
        ("a", "b", &b)
    } else {
        ("b", "a", &a)
    };
    let moved = master
        .run(&["db", "move", "shop", "--to", to])
        .ok()
        .to_owned();
    assert!(
        moved.starts_with(&format!("moved from {from} to {to}: 1 documents copied")),
        "{moved}"
    );
    assert_eq!(
        target.run(&["doc", "get", "shop/users/ada"]).ok().trim(),
        r#"{"name":"Ada"}"#
    );
    assert_eq!(
        master.run(&["doc", "get", "shop/users/ada"]).ok().trim(),
        r#"{"name":"Ada"}"#
    );
    // A worker has no such service: the CLI says so (exit 1).
    let refused = a
        .run(&["db", "move", "shop", "--to", "b"])
        .fails(1)
        .to_owned();
    assert!(refused.contains("UNIMPLEMENTED"), "{refused}");
}

#[test]
fn the_wrong_api_for_the_address_exits_1_with_unimplemented() {
    let set = Worker::start();
    let master = Worker::start_master(&set);
    for (server, api) in [(&master, "worker"), (&set, "master")] {
        let stderr = server
            .run(&["--api", api, "db", "list"])
            .fails(1)
            .to_owned();
        assert!(stderr.contains("UNIMPLEMENTED"), "--api {api}: {stderr}");
    }
}
