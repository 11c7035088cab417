//! The workspace's executables, as the test run built them.
//!
//! Documented commands say `cargo run --release ...`, `distgo-conformance
//! ...` or `./target/release/distgo-worker`. Building in release inside a
//! test would take minutes, and a second `cargo build` with another package
//! selection compiles everything again (cargo unifies features per
//! selection). So the harness asks cargo, with the same selection as
//! `cargo test --workspace`, which executables it built: all of them are
//! fresh in a workspace run, and the same code as the release build.

use std::{collections::BTreeMap, path::PathBuf, process::Command, sync::OnceLock};

/// A target kind the harness can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `[[bin]]`
    Bin,
    /// `examples/*.rs`
    Example,
    /// `tests/*.rs`
    Test,
    /// The library's unit tests.
    LibTests,
}

/// One built executable.
#[derive(Clone, Debug)]
pub struct Artifact {
    /// Its package, e.g. `distgo-conformance`.
    pub package: String,
    /// The package's directory.
    pub dir: PathBuf,
    /// The file to run.
    pub executable: PathBuf,
}

/// Every executable of the workspace, by (kind, target name).
pub type Artifacts = BTreeMap<(Kind, String), Artifact>;

/// The executables of `cargo test --workspace`, built if they are not yet.
pub fn all() -> &'static Artifacts {
    static ARTIFACTS: OnceLock<Artifacts> = OnceLock::new();
    ARTIFACTS.get_or_init(discover)
}

/// The executable of `kind` named `name`, or a message saying why not.
pub fn find(kind: Kind, name: &str) -> Result<&'static Artifact, String> {
    all()
        .get(&(kind, name.to_owned()))
        .ok_or_else(|| format!("the workspace has no {kind:?} target named {name:?}"))
}

/// What cargo adds to a test's environment (by prefix): the crate's own
/// description, which a nested cargo must not mistake for its settings.
const CARGO_SETS_FOR_TESTS: &[&str] = &[
    "CARGO_PKG_",
    "CARGO_BIN_",
    "CARGO_CRATE_",
    "CARGO_MANIFEST_",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "OUT_DIR",
];

fn discover() -> Artifacts {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["test", "--workspace", "--no-run", "--message-format=json"])
        .current_dir(root);
    // The variables cargo set for this test process describe *this* crate;
    // a nested cargo must see the environment the outer one saw. Build
    // scripts watch some of them (ring's, through cc, watches OUT_DIR): left
    // in, they would make cargo rebuild half the dependency tree, twice.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let ours = CARGO_SETS_FOR_TESTS
            .iter()
            .any(|prefix| key.starts_with(prefix));
        if ours {
            cargo.env_remove(&*key);
        }
    }
    let output = cargo.output().expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo test --workspace --no-run failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut artifacts = Artifacts::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if let Some((key, artifact)) = artifact(&message) {
            artifacts.insert(key, artifact);
        }
    }
    artifacts
}

/// A `compiler-artifact` message of an executable, as a map entry.
fn artifact(message: &serde_json::Value) -> Option<((Kind, String), Artifact)> {
    if message["reason"] != "compiler-artifact" {
        return None;
    }
    let executable = PathBuf::from(message["executable"].as_str()?);
    let target = &message["target"];
    let kinds: Vec<&str> = target["kind"]
        .as_array()?
        .iter()
        .filter_map(|k| k.as_str())
        .collect();
    let kind = match (kinds.as_slice(), message["profile"]["test"] == true) {
        (["bin"], false) => Kind::Bin,
        (["example"], _) => Kind::Example,
        (["test"], _) => Kind::Test,
        (kinds, true) if kinds.iter().any(|k| k.ends_with("lib")) => Kind::LibTests,
        _ => return None,
    };
    let manifest = PathBuf::from(message["manifest_path"].as_str()?);
    let dir = manifest.parent()?.to_owned();
    let package = package_name(message["package_id"].as_str()?, &dir);
    let name = match kind {
        Kind::LibTests => package.clone(),
        _ => target["name"].as_str()?.to_owned(),
    };
    Some((
        (kind, name),
        Artifact {
            package,
            dir,
            executable,
        },
    ))
}

/// The package name in a package id: `path+file:///w/conformance#distgo-conformance@0.1.0`,
/// `path+file:///w/name#0.1.0` (the directory's name), or the older
/// `name 0.1.0 (path+file:///w)`.
fn package_name(id: &str, dir: &std::path::Path) -> String {
    match id.rsplit_once('#') {
        Some((_, rest)) => match rest.split_once('@') {
            Some((name, _)) => name.to_owned(),
            None => dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        },
        None => id.split(' ').next().unwrap_or_default().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_ids_of_every_cargo_format_name_their_package() {
        let dir = std::path::Path::new("/w/conformance");
        for (id, name) in [
            (
                "path+file:///w/conformance#distgo-conformance@0.1.0",
                "distgo-conformance",
            ),
            ("path+file:///w/conformance#0.1.0", "conformance"),
            (
                "distgo-conformance 0.1.0 (path+file:///w/conformance)",
                "distgo-conformance",
            ),
        ] {
            assert_eq!(package_name(id, dir), name, "{id}");
        }
    }
}
