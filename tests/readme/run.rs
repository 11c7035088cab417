//! What the harness does with each documented command, and doing it.
//!
//! | command | plan |
//! |---|---|
//! | a comment with `needs: WHAT` | [`Plan::Marked`]: not run; the mark must say what |
//! | `cargo test --workspace` | [`Plan::ThisRun`]: it is the run executing this test |
//! | `cargo test -p P --test T` | [`Plan::Run`] of the test executable `T` the run built |
//! | `cargo run [--release] [-p P] [--bin B \| --example E] [-- ARGS]` | the built bin or example, with ARGS |
//! | `distgo-worker`, `./target/release/distgo-conformance`, ... | the built bin of that name |
//! | `cargo build ...` | [`Plan::Built`]: this run built the same targets; checked |
//! | `cargo install --locked --path DIR  # BIN, BIN` | [`Plan::Installs`]: DIR's binaries must be the ones the comment promises |
//!
//! A command naming `127.0.0.1:55055` (the README's worker) runs against a
//! worker the harness started on 127.0.0.1 with a free port. A command that
//! starts a worker itself ([`Plan::Serve`]) gets a copy of its configuration
//! on 127.0.0.1 port 0, with its log directory in a temporary directory; the
//! harness waits for `distgo worker listening`, then stops it with SIGTERM
//! and expects exit code 0. Release builds become the test profile's
//! executables: the same code, without compiling it twice.
//!
//! The commands of one ```` ```sh ```` block are the steps of one lesson and
//! run in order, against the same worker; blocks run side by side. Any
//! binary of the workspace can be named bare, so commands of a new binary
//! (the `distgo` CLI, say) need no new rule: written with the documented
//! address (`--addr http://127.0.0.1:55055`, or `DISTGO_ADDR=...`), they run
//! against the harness's worker. A command that reaches the worker only
//! through a default address it does not write out needs a line in
//! [`Invocation::needs_worker`].

use std::{
    io::Read,
    path::{Path, PathBuf},
    process::{Child, Command as Process, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

use super::{
    artifacts::{self, Kind},
    extract::Command,
};

/// The worker address the documentation uses.
pub const DOCUMENTED_ADDRESS: &str = "127.0.0.1:55055";
/// The longest any one command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);
/// The longest a worker may take to say it is listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// What to do with one command.
#[derive(Debug)]
pub enum Plan {
    /// Not run: it needs what its comment says.
    Marked(String),
    /// `cargo test --workspace`: the run that executes this harness.
    ThisRun,
    /// `cargo build`: these executables must have been built by this run.
    Built(Vec<String>),
    /// `cargo install --path DIR`: DIR's binaries must be `promised`.
    Installs {
        /// The package directory.
        dir: PathBuf,
        /// The binaries the comment names.
        promised: Vec<String>,
    },
    /// Runs to completion and must exit 0.
    Run(Invocation),
    /// Starts a worker: it must say it is listening and stop cleanly.
    Serve(Invocation),
}

/// A program with its arguments, environment and working directory.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments, as documented.
    pub args: Vec<String>,
    /// `NAME=value` words before the program.
    pub env: Vec<(String, String)>,
    /// Where to run it: the repository root, or a test's package.
    pub dir: PathBuf,
}

impl Invocation {
    /// Whether it talks to the documented worker.
    pub fn needs_worker(&self) -> bool {
        let mentions = |s: &String| s.contains(DOCUMENTED_ADDRESS);
        self.args.iter().any(mentions) || self.env.iter().any(|(_, v)| mentions(v))
    }

    /// The same invocation against the worker at `address`.
    pub fn against(&self, address: &str) -> Invocation {
        let swap = |s: &String| s.replace(DOCUMENTED_ADDRESS, address);
        Invocation {
            args: self.args.iter().map(swap).collect(),
            env: self.env.iter().map(|(k, v)| (k.clone(), swap(v))).collect(),
            ..self.clone()
        }
    }
}

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Decides what to do with `command`, or says why it cannot be run.
pub fn plan(command: &Command) -> Result<Plan, String> {
    if let Some(what) = command.needs() {
        if what.is_empty() {
            return Err(format!("{}: `needs:` must say what", command.at));
        }
        return Ok(Plan::Marked(what.to_owned()));
    }
    let mut words = command.words()?.into_iter().peekable();
    let mut env = Vec::new();
    while let Some((name, value)) = words.peek().and_then(|w| assignment(w)) {
        env.push((name, value));
        words.next();
    }
    let program = words
        .next()
        .ok_or_else(|| format!("{}: empty", command.at))?;
    let rest: Vec<String> = words.collect();
    let planned = match program.as_str() {
        "cargo" => cargo(&rest, env, command.comment.as_deref()),
        name => bin(name).map(|program| invocation(program, rest, env, root())),
    };
    planned.map_err(|e| {
        format!(
            "{}: {e}\n  command: {}\n  (run it in a rule of tests/readme/run.rs, or mark it `# needs: WHAT`)",
            command.at, command.line
        )
    })
}

/// `NAME=value`, the shell's environment prefix.
fn assignment(word: &str) -> Option<(String, String)> {
    let (name, value) = word.split_once('=')?;
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    valid.then(|| (name.to_owned(), value.to_owned()))
}

/// A worker binary serves until stopped; anything else runs to the end.
fn invocation(program: PathBuf, args: Vec<String>, env: Vec<(String, String)>, dir: &Path) -> Plan {
    let serves = program.file_name().is_some_and(|n| n == "distgo-worker")
        && !args
            .iter()
            .any(|a| matches!(a.as_str(), "--help" | "-h" | "--version" | "-V"));
    let invocation = Invocation {
        program,
        args,
        env,
        dir: dir.to_owned(),
    };
    if serves {
        Plan::Serve(invocation)
    } else {
        Plan::Run(invocation)
    }
}

/// A binary named bare (`distgo-conformance`) or by its path under target/.
fn bin(name: &str) -> Result<PathBuf, String> {
    let base = [
        "./target/release/",
        "./target/debug/",
        "target/release/",
        "target/debug/",
    ]
    .iter()
    .find_map(|prefix| name.strip_prefix(prefix))
    .unwrap_or(name);
    if base.contains('/') {
        return Err(format!("{name}: not a workspace binary"));
    }
    Ok(artifacts::find(Kind::Bin, base)?.executable.clone())
}

/// The options of a cargo subcommand this harness understands.
#[derive(Default)]
struct CargoArgs {
    package: Option<String>,
    bin: Option<String>,
    example: Option<String>,
    test: Option<String>,
    path: Option<String>,
    workspace: bool,
    rest: Vec<String>,
}

fn cargo_args(args: &[String]) -> Result<CargoArgs, String> {
    let mut parsed = CargoArgs::default();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let mut value = || words.next().cloned().ok_or(format!("{word} needs a value"));
        match word.as_str() {
            "--release" | "--locked" | "--quiet" | "-q" => {}
            "--workspace" => parsed.workspace = true,
            "-p" | "--package" => parsed.package = Some(value()?),
            "--bin" => parsed.bin = Some(value()?),
            "--example" => parsed.example = Some(value()?),
            "--test" => parsed.test = Some(value()?),
            "--path" => parsed.path = Some(value()?),
            "--" => {
                parsed.rest = words.cloned().collect();
                break;
            }
            other => return Err(format!("cargo option {other} is not understood here")),
        }
    }
    Ok(parsed)
}

fn cargo(
    args: &[String],
    env: Vec<(String, String)>,
    comment: Option<&str>,
) -> Result<Plan, String> {
    let (subcommand, args) = args.split_first().ok_or("cargo without a subcommand")?;
    let parsed = cargo_args(args)?;
    match subcommand.as_str() {
        "test" => cargo_test(parsed, env),
        "run" => {
            let program = match (&parsed.example, &parsed.bin) {
                (Some(example), _) => artifacts::find(Kind::Example, example)?,
                (None, Some(name)) => artifacts::find(Kind::Bin, name)?,
                (None, None) => artifacts::find(Kind::Bin, &default_run(&parsed.package)?)?,
            };
            check_package(&parsed.package, &program.package)?;
            Ok(invocation(
                program.executable.clone(),
                parsed.rest,
                env,
                root(),
            ))
        }
        "build" => {
            let bins = artifacts::all()
                .iter()
                .filter(|((kind, _), a)| {
                    *kind == Kind::Bin
                        && (parsed.workspace
                            || parsed.package.as_deref().is_none_or(|p| p == a.package))
                })
                .map(|((_, name), _)| name.clone())
                .collect();
            Ok(Plan::Built(bins))
        }
        "install" => {
            let path = parsed.path.ok_or("cargo install without --path")?;
            let promised = comment
                .unwrap_or_default()
                .split(',')
                .map(|w| w.trim().to_owned())
                .filter(|w| !w.is_empty())
                .collect();
            Ok(Plan::Installs {
                dir: root().join(path),
                promised,
            })
        }
        other => Err(format!("cargo {other} has no rule")),
    }
}

fn cargo_test(parsed: CargoArgs, env: Vec<(String, String)>) -> Result<Plan, String> {
    match (parsed.workspace, &parsed.package, &parsed.test) {
        (true, None, None) if env.is_empty() && parsed.rest.is_empty() => Ok(Plan::ThisRun),
        (false, Some(package), Some(test)) => {
            let artifact = artifacts::find(Kind::Test, test)?;
            check_package(&Some(package.clone()), &artifact.package)?;
            Ok(Plan::Run(Invocation {
                program: artifact.executable.clone(),
                args: parsed.rest,
                env,
                dir: artifact.dir.clone(),
            }))
        }
        _ => Err("only `cargo test --workspace` and `cargo test -p P --test T` have rules".into()),
    }
}

fn check_package(asked: &Option<String>, found: &str) -> Result<(), String> {
    match asked {
        Some(asked) if asked != found => Err(format!("that target is in {found}, not {asked}")),
        _ => Ok(()),
    }
}

/// The `default-run` binary of a package (the root one when none is named).
fn default_run(package: &Option<String>) -> Result<String, String> {
    let dir = match package {
        None => root().to_owned(),
        Some(name) => artifacts::all()
            .values()
            .find(|a| &a.package == name)
            .map(|a| a.dir.clone())
            .ok_or(format!("no package {name}"))?,
    };
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).map_err(|e| e.to_string())?;
    manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("default-run = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .map(str::to_owned)
        .ok_or("cargo run needs --bin, or default-run in the manifest".into())
}

/// Checks a plan that runs nothing: the mark, the build, the install.
pub fn check_static(plan: &Plan) -> Result<(), String> {
    match plan {
        Plan::Built(bins) if bins.is_empty() => Err("cargo build names no binary".into()),
        Plan::Installs { dir, promised } => {
            let mut installs: Vec<String> = artifacts::all()
                .iter()
                .filter(|((kind, _), a)| *kind == Kind::Bin && a.dir == *dir)
                .map(|((_, name), _)| name.clone())
                .collect();
            let mut promised = promised.clone();
            installs.sort();
            promised.sort();
            if installs == promised {
                Ok(())
            } else {
                Err(format!(
                    "installs {installs:?} but its comment names {promised:?} (say `# {}`)",
                    installs.join(", ")
                ))
            }
        }
        _ => Ok(()),
    }
}

/// A child process whose output is collected as it comes; killed if dropped
/// while running.
pub struct Running {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Running {
    /// Starts `invocation`.
    pub fn start(invocation: &Invocation) -> Result<Running, String> {
        let mut process = Process::new(&invocation.program);
        process
            .args(&invocation.args)
            .envs(invocation.env.iter().cloned())
            .current_dir(&invocation.dir)
            .env("CARGO_MANIFEST_DIR", &invocation.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = process
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", invocation.program.display()))?;
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = output.clone();
            std::thread::spawn(move || collect(stream, &output));
        }
        Ok(Running { child, output })
    }

    /// Everything written to stdout and stderr so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits up to `limit` for the output to contain `text`.
    pub fn wait_for(&mut self, text: &str, limit: Duration) -> Result<(), String> {
        let started = Instant::now();
        while !self.output().contains(text) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited ({status}) before saying {text:?}"));
            }
            if started.elapsed() > limit {
                return Err(format!("did not say {text:?} within {limit:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Waits up to `limit` for the exit; kills the process past it.
    pub fn wait(&mut self, limit: Duration) -> Result<std::process::ExitStatus, String> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                // Let the reader threads drain what the process wrote last.
                std::thread::sleep(Duration::from_millis(50));
                return Ok(status);
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!("still running after {limit:?}; killed"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asks the process to stop as Ctrl-C would (SIGTERM, the same path).
    pub fn terminate(&self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn collect(mut stream: Box<dyn Read + Send>, output: &Mutex<String>) {
    let mut buffer = [0u8; 8192];
    while let Ok(n) = stream.read(&mut buffer) {
        if n == 0 {
            break;
        }
        output
            .lock()
            .unwrap()
            .push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
}

/// Runs `invocation` to completion; it must exit 0.
pub fn run(invocation: &Invocation) -> Result<String, String> {
    let mut running = Running::start(invocation)?;
    let status = running.wait(COMMAND_TIMEOUT)?;
    let output = running.output();
    if status.success() {
        Ok(output)
    } else {
        Err(format!(
            "exited with {status}; its output:\n{}",
            tail(&output)
        ))
    }
}

/// Starts the worker of `invocation` on loopback, waits until it listens,
/// stops it, and expects a clean exit. Returns what it logged.
pub fn serve_and_stop(invocation: &Invocation) -> Result<String, String> {
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (local, wal) = on_loopback(invocation, scratch.path())?;
    let mut worker = Running::start(&local)?;
    worker
        .wait_for("distgo worker listening", START_TIMEOUT)
        .map_err(|e| format!("{e}; its output:\n{}", tail(&worker.output())))?;
    if let Some(wal) = wal.as_ref().filter(|wal| !wal.is_dir()) {
        return Err(format!(
            "wal.path is set but {} was not created",
            wal.display()
        ));
    }
    worker.terminate();
    let status = worker.wait(Duration::from_secs(15))?;
    let output = worker.output();
    if status.success() && output.contains("distgo worker stopped") {
        Ok(output)
    } else {
        Err(format!(
            "did not stop cleanly ({status}):\n{}",
            tail(&output)
        ))
    }
}

/// A worker for the commands that talk to one: the reference worker on
/// 127.0.0.1 and a free port, stopped when dropped.
pub struct Worker {
    /// `127.0.0.1:PORT`
    pub address: String,
    _running: Running,
    _scratch: tempfile::TempDir,
}

impl Worker {
    /// Starts the workspace's `distgo-worker` on the embedded default.
    pub fn start() -> Result<Worker, String> {
        let program = bin("distgo-worker")?;
        let invocation = Invocation {
            program,
            args: Vec::new(),
            env: Vec::new(),
            dir: root().to_owned(),
        };
        let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
        let (local, _) = on_loopback(&invocation, scratch.path())?;
        let mut running = Running::start(&local)?;
        running.wait_for("distgo worker listening", START_TIMEOUT)?;
        let output = running.output();
        let address = listening_address(&output).ok_or(format!("no address in {output}"))?;
        Ok(Worker {
            address,
            _running: running,
            _scratch: scratch,
        })
    }
}

/// `127.0.0.1:PORT` from the start-up line.
fn listening_address(log: &str) -> Option<String> {
    let line = log
        .lines()
        .find(|l| l.contains("distgo worker listening"))?;
    let start = line.find("127.0.0.1:")?;
    let port: String = line[start + 10..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!port.is_empty()).then(|| format!("127.0.0.1:{port}"))
}

/// The invocation with its configuration (`--config PATH`, or the embedded
/// default) copied into `scratch` and moved onto 127.0.0.1 port 0, its log
/// directory and log file into `scratch`. Returns the log directory if any.
fn on_loopback(
    invocation: &Invocation,
    scratch: &Path,
) -> Result<(Invocation, Option<PathBuf>), String> {
    let mut args = invocation.args.clone();
    let position = args.iter().position(|a| a == "--config");
    let yaml = match position {
        Some(i) => {
            let path = args.get(i + 1).ok_or("--config without a path")?;
            std::fs::read_to_string(invocation.dir.join(path))
                .map_err(|e| format!("{path}: {e}"))?
        }
        None => distgo_db::config::EMBEDDED_DEFAULT.to_owned(),
    };
    let mut config: serde_yaml::Value = serde_yaml::from_str(&yaml).map_err(|e| e.to_string())?;
    let set =
        |config: &mut serde_yaml::Value, section: &str, key: &str, value: serde_yaml::Value| {
            let mapping = config
                .as_mapping_mut()
                .expect("a configuration is a mapping")
                .entry(section.into())
                .or_insert_with(|| serde_yaml::Mapping::new().into());
            if let Some(mapping) = mapping.as_mapping_mut() {
                mapping.insert(key.into(), value);
            }
        };
    set(&mut config, "grpc", "host", "127.0.0.1".into());
    set(&mut config, "grpc", "port", 0.into());
    let output = config["logging"]["output"]
        .as_str()
        .unwrap_or("stdout")
        .to_owned();
    if output != "stdout" && output != "stderr" {
        set(&mut config, "logging", "output", "stdout".into());
    }
    let wal = config["wal"]["path"].as_str().map(|_| scratch.join("wal"));
    if let Some(wal) = &wal {
        set(&mut config, "wal", "path", wal.display().to_string().into());
    }
    let file = scratch.join("worker.yaml");
    std::fs::write(
        &file,
        serde_yaml::to_string(&config).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let file = file.display().to_string();
    match position {
        Some(i) => args[i + 1] = file,
        None => args.extend(["--config".to_owned(), file]),
    }
    Ok((
        Invocation {
            args,
            ..invocation.clone()
        },
        wal,
    ))
}

/// The last lines of a long output, for a failure message.
pub fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
