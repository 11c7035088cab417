//! Shared by the test targets: the reference worker started in-process, and
//! a runner pointed at it.
#![allow(dead_code)] // each test target uses a different part

pub mod reference;
pub mod wrong;

use std::sync::Arc;

use distgo_conformance::{
    ctx::{GoldenHook, Settings},
    runner::Runner,
    target::{Connection, ServerUnderTest},
    xfail::XFail,
};

/// Where the golden scenario transcripts live.
pub const GOLDEN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/scenarios");

/// Scenario transcripts are insta snapshots under `cargo test`: a change
/// writes `.snap.new` for `cargo insta review` (never accepted when `CI` is set).
pub fn insta_golden() -> GoldenHook {
    Arc::new(|name: &str, transcript: &str| {
        let check = std::panic::AssertUnwindSafe(|| {
            insta::with_settings!({
                snapshot_path => GOLDEN_DIR,
                prepend_module_to_snapshot => false,
                omit_expression => true,
            }, {
                insta::assert_snapshot!(name, transcript);
            });
        });
        std::panic::catch_unwind(check).map_err(|panic| {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            format!("the transcript differs from testdata/scenarios/{name}.snap (see the diff above; `cargo insta review` to accept): {text}")
        })
    })
}

/// Settings for test runs: a fixed seed unless `DISTGO_SEED` says otherwise.
pub fn settings(golden: GoldenHook) -> Settings {
    let seed = std::env::var("DISTGO_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    let cases = std::env::var("DISTGO_CASES")
        .ok()
        .and_then(|s| s.parse().ok());
    Settings {
        seed,
        cases,
        golden,
    }
}

/// A runner against `addr`, without capabilities, that checks scenarios
/// against the golden files without ever writing snapshots; `model_cases`
/// sets the model's sequences per case (unless `DISTGO_CASES` does).
pub async fn runner_for(addr: &str, xfail: XFail, model_cases: Option<u32>) -> Arc<Runner> {
    let target = ServerUnderTest::connect(Connection::new(addr))
        .await
        .expect("connect");
    let mut settings = settings(Arc::new(distgo_conformance::scenario::embedded_golden));
    settings.cases = settings.cases.or(model_cases);
    Arc::new(Runner::new(Arc::new(target), settings, xfail))
}

/// A runner against a deployment whose members are `addrs` (the first is
/// the primary), without capabilities.
pub async fn runner_for_members(addrs: &[String]) -> Arc<Runner> {
    let (primary, others) = addrs.split_first().expect("at least one member");
    let target = ServerUnderTest::connect(Connection::new(primary.clone()))
        .await
        .expect("connect")
        .with_members(others.to_vec());
    let settings = settings(Arc::new(distgo_conformance::scenario::embedded_golden));
    Arc::new(Runner::new(Arc::new(target), settings, XFail::default()))
}
