//! Isolation: two runs at once against one worker that holds other data
//! both pass, leave no database behind, and never touch the other data.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod support;

use std::path::Path;

use distgo_conformance::{
    call::Reply,
    cases,
    report::Summary,
    req::{Kind, create_collection, create_database, create_document},
    runner::list_prefixed,
    target::{Connection, ServerUnderTest},
    xfail,
};
use support::{
    reference::{Reference, config_yaml},
    runner_for,
};

const XFAIL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/xfail/reference.yaml");

/// Every database of the worker with what it holds, for before/after checks.
async fn snapshot(target: &ServerUnderTest) -> Vec<String> {
    let clients = target.clients();
    let mut out = Vec::new();
    let Ok(Reply::Databases(dbs)) = Kind::Database.list("", 1000, "").send(&clients).await else {
        panic!("list databases")
    };
    for db in dbs.databases {
        out.push(format!("{db:?}"));
        let Ok(Reply::Collections(colls)) = Kind::Collection
            .list(&db.name, 1000, "")
            .send(&clients)
            .await
        else {
            panic!("list collections")
        };
        for coll in colls.collections {
            out.push(format!("{coll:?}"));
            let Ok(Reply::Documents(docs)) = Kind::Document
                .list(&coll.name, 1000, "")
                .send(&clients)
                .await
            else {
                panic!("list documents")
            };
            out.extend(docs.documents.iter().map(|d| format!("{d:?}")));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_runs_pass_and_leave_the_worker_as_they_found_it() {
    let reference = Reference::start(config_yaml("")).await;
    let observer = ServerUnderTest::connect(Connection::new(reference.addr()))
        .await
        .unwrap();
    // Someone else's data, with ids a careless suite might reuse.
    for call in [
        create_database("a", "Not yours"),
        create_database("cf-aaaaaa-0-p0", "Looks like a run prefix"),
        create_collection("databases/a", "c", "keep"),
        create_document("databases/a/collections/c", "d", "{\"keep\": true}"),
    ] {
        call.send(&observer.clients()).await.unwrap();
    }
    let before = snapshot(&observer).await;

    let all = cases::all();
    let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    let xfail = xfail::load(Path::new(XFAIL), &ids).unwrap();
    let one = runner_for(&reference.addr(), xfail.clone(), Some(8)).await;
    let two = runner_for(&reference.addr(), xfail, Some(8)).await;
    assert_ne!(one.prefix(), two.prefix());
    // The model runs few sequences here: this test is about isolation.
    let (a, b) = tokio::join!(one.run_all(&all, 6), two.run_all(&all, 6));
    for (runner, reports) in [(&one, &a), (&two, &b)] {
        let summary = Summary::of(reports);
        let failed: Vec<&str> = reports
            .iter()
            .filter(|r| r.outcome.is_failure())
            .map(|r| r.id.as_str())
            .collect();
        assert!(summary.ok(), "run {} failed: {failed:?}", runner.prefix());
        assert_eq!(
            runner.sweep(&[]).await,
            Vec::<String>::new(),
            "passed cases left data"
        );
        assert_eq!(
            list_prefixed(&observer, runner.prefix()).await.unwrap(),
            Vec::<String>::new()
        );
    }
    assert_eq!(before, snapshot(&observer).await, "the other data changed");
    reference.stop().await;
}
