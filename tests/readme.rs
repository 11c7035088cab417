//! The documentation's commands work as written.
//!
//! A newcomer follows the README to the letter, and one command that fails
//! costs more trust than ten that work. So every shell command in README.md
//! and in the crate's doc comments (```` ```sh ```` blocks) is run here, the
//! way `tests/readme/run.rs` describes: against a worker this test starts
//! when the command talks to `127.0.0.1:55055`, started and stopped when the
//! command starts a worker itself. A command that cannot run on a fresh
//! machine says so in its comment (`# needs: grpcurl`), and this test
//! checks that it does. A command with no rule and no mark fails the test,
//! so a new command is either run or honestly marked.
//!
//! Beside it: the sample configuration the README points to, the one-line
//! recipe docs of `just --list`, and the conformance crate's unit tests
//! with `DISTGO_ADDR` set (the README's command once failed on them).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod readme {
    pub mod artifacts;
    pub mod extract;
    pub mod run;
}

use std::{
    path::{Path, PathBuf},
    time::Instant,
};

use readme::{
    artifacts::{self, Kind},
    extract::{self, Command},
    run::{self, Plan},
};

/// README.md, then the doc comments of every Rust file under `src/`.
fn documented_commands() -> Vec<Command> {
    let root = run::root();
    let mut commands = extract::from_markdown(&root.join("README.md"), "README.md");
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    for file in files {
        let name = file.strip_prefix(root).unwrap().display().to_string();
        commands.extend(extract::from_rust_docs(&file, &name));
    }
    commands
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_documented_command_runs_or_says_what_it_needs() {
    let started = Instant::now();
    let commands = documented_commands();
    let in_readme = commands
        .iter()
        .filter(|c| c.at.starts_with("README.md"))
        .count();
    assert!(
        in_readme >= 10,
        "only {in_readme} commands found in README.md"
    );

    let mut failures = Vec::new();
    let mut planned = Vec::new();
    for command in &commands {
        let checked = run::plan(command).and_then(|plan| {
            run::check_static(&plan)
                .map(|()| plan)
                .map_err(|e| format!("{}: {e}\n  command: {}", command.at, command.line))
        });
        match checked {
            Ok(plan) => planned.push((command, plan)),
            Err(problem) => failures.push(problem),
        }
    }
    let worker = planned
        .iter()
        .any(|(_, plan)| matches!(plan, Plan::Run(i) | Plan::Serve(i) if i.needs_worker()))
        .then(|| run::Worker::start().expect("a worker for the README's commands"));

    // A block's commands are steps of one lesson and run in order; blocks
    // run side by side (the suite's cases, the slow part, mostly wait).
    let mut blocks: Vec<Vec<(&Command, &Plan)>> = Vec::new();
    for (command, plan) in &planned {
        if !matches!(plan, Plan::Run(_) | Plan::Serve(_)) {
            continue;
        }
        match blocks.last_mut() {
            Some(block) if block[0].0.block == command.block => block.push((command, plan)),
            _ => blocks.push(vec![(command, plan)]),
        }
    }
    let address = worker.as_ref().map(|w| w.address.as_str());
    let outcomes: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = blocks
            .iter()
            .map(|block| scope.spawn(move || run_block(block, address)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let ran = outcomes.len();
    failures.extend(outcomes.into_iter().filter_map(Result::err));
    let marks: Vec<String> = planned
        .iter()
        .filter_map(|(c, p)| match p {
            Plan::Marked(what) => Some(format!("  {}: needs {what}", c.at)),
            _ => None,
        })
        .collect();
    let marked = marks.len();
    eprintln!(
        "{} documented commands: {ran} run, {marked} marked `needs:`, {} checked without running, in {:.1?}",
        commands.len(),
        planned.len() - ran - marked,
        started.elapsed()
    );
    eprintln!("not run, as marked:\n{}", marks.join("\n"));
    assert!(failures.is_empty(), "\n{}\n", failures.join("\n\n"));
}

/// Runs one block's commands in order, up to the first that fails (the
/// steps after it would fail for its sake).
fn run_block(block: &[(&Command, &Plan)], worker: Option<&str>) -> Vec<Result<(), String>> {
    let mut outcomes = Vec::new();
    for (command, plan) in block {
        let (Plan::Run(invocation) | Plan::Serve(invocation)) = plan else {
            continue;
        };
        let invocation = match worker {
            Some(address) if invocation.needs_worker() => invocation.against(address),
            _ => invocation.clone(),
        };
        let started = Instant::now();
        let result = match plan {
            Plan::Serve(_) => run::serve_and_stop(&invocation),
            _ => run::run(&invocation),
        };
        eprintln!("{}: {:.1?}", command.at, started.elapsed());
        let failed = result.is_err();
        outcomes.push(
            result
                .map(|_| ())
                .map_err(|e| format!("{}: `{}` failed: {e}", command.at, command.line)),
        );
        if failed {
            break;
        }
    }
    outcomes
}

#[test]
fn the_durable_sample_configuration_keeps_data_and_spells_out_the_defaults() {
    use distgo_db::config::{Config, SyncPolicy};

    let path = run::root().join("fixtures/worker-durable.yaml");
    let sample = Config::load(&path).unwrap();
    assert_eq!(sample.wal.path.as_deref(), Some(Path::new("data/worker_1")));
    assert_eq!(sample.wal.sync, SyncPolicy::Always);
    // Its comments explain each value as the default: they must be.
    let defaults = Config::from_yaml("name: worker_1\nwal:\n  path: data/worker_1\n").unwrap();
    assert_eq!(sample, defaults);
    // And the README sends readers to it.
    let readme = std::fs::read_to_string(run::root().join("README.md")).unwrap();
    assert!(readme.contains("fixtures/worker-durable.yaml"));
}

/// The recipes of the justfile with the comment line right above each.
fn recipes() -> Vec<(String, Option<String>)> {
    let text = std::fs::read_to_string(run::root().join("justfile")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut recipes = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let header = !line.starts_with([' ', '\t', '#'])
            && !line.starts_with("set ")
            && line.trim_end().ends_with(':')
            && !line.contains(":=");
        if !header {
            continue;
        }
        let name = line.split([' ', ':']).next().unwrap().to_owned();
        let doc = i
            .checked_sub(1)
            .and_then(|j| lines[j].strip_prefix("# "))
            .map(str::to_owned);
        // Two comment lines in a row: `just --list` would show the last one
        // only, which is how one recipe came to be described as
        // "transactions at 16 clients in memory and with `sync: always`.".
        let second = i.checked_sub(2).is_some_and(|j| lines[j].starts_with('#'));
        recipes.push((name, doc.filter(|_| !second)));
    }
    recipes
}

#[test]
fn just_list_shows_one_whole_line_for_every_recipe() {
    let recipes = recipes();
    assert!(recipes.len() >= 8, "{recipes:?}");
    for (name, doc) in &recipes {
        let doc = doc
            .as_deref()
            .unwrap_or_else(|| panic!("recipe {name}: give it exactly one comment line"));
        assert!(
            doc.ends_with('.') && doc.chars().next().is_some_and(char::is_uppercase),
            "recipe {name}: {doc:?} should be one sentence"
        );
    }
    for wanted in ["setup", "test", "lint", "run", "conformance", "mutants"] {
        assert!(
            recipes.iter().any(|(n, _)| n == wanted),
            "no `just {wanted}`"
        );
    }
    // With just installed (CI installs it), what it lists is what we read.
    let listed = std::process::Command::new("just")
        .arg("--list")
        .current_dir(run::root())
        .output();
    match listed {
        Ok(out) => {
            assert!(out.status.success());
            let text = String::from_utf8_lossy(&out.stdout);
            for (name, doc) in &recipes {
                let doc = doc.as_deref().unwrap();
                assert!(
                    text.lines()
                        .any(|l| l.trim_start().starts_with(name.as_str()) && l.ends_with(doc)),
                    "just --list does not show `{name}` as {doc:?}:\n{text}"
                );
            }
        }
        Err(err) => assert!(
            std::env::var_os("CI").is_none(),
            "just is not installed ({err}); .ci/run installs it"
        ),
    }
}

#[test]
fn the_conformance_crates_unit_tests_ignore_distgo_addr() {
    // `DISTGO_ADDR=... cargo test -p distgo-conformance` once stopped in
    // two of these, which read --addr from the environment; cargo then
    // never ran the conformance cases. Nothing listens on port 1.
    let tests = artifacts::find(Kind::LibTests, "distgo-conformance").unwrap();
    let invocation = run::Invocation {
        program: tests.executable.clone(),
        args: vec!["--quiet".into()],
        env: vec![("DISTGO_ADDR".into(), "http://127.0.0.1:1".into())],
        dir: tests.dir.clone(),
    };
    if let Err(problem) = run::run(&invocation) {
        panic!("with DISTGO_ADDR set: {problem}");
    }
}
