//! A worker on its own thread and the real `distgo` binary run against it.

use std::{
    io::Write,
    net::SocketAddr,
    path::Path,
    process::{Command, Output, Stdio},
    thread::JoinHandle,
};

use distgo_db::{
    config::Config,
    master::{Master, MasterConfig},
};
use tokio::sync::oneshot;

/// The `distgo` binary cargo built for these tests.
pub const DISTGO: &str = env!("CARGO_BIN_EXE_distgo");

/// A worker on 127.0.0.1:0, served by a runtime on its own thread so that
/// tests can block on child processes; stopped and joined when dropped.
pub struct Worker {
    pub address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// The YAML every test worker starts from.
const BASE_YAML: &str = "name: cli\ngrpc:\n  host: 127.0.0.1\n  port: 0\n  timeout: 10s\n\
                         logging:\n  level: error\n";

impl Worker {
    /// A standalone worker in memory.
    pub fn start() -> Self {
        Self::start_with(|_| BASE_YAML.to_owned())
    }

    /// A replica set of one member (it bootstraps and leads at once), its
    /// log in `dir`.
    pub fn start_member(dir: &Path) -> Self {
        let wal = dir.display().to_string();
        Self::start_with(move |address| {
            format!(
                "{BASE_YAML}wal:\n  path: {wal:?}\ncluster:\n  node_id: 1\n  \
                 peers:\n    1: \"{address}\"\n  bootstrap: true\n"
            )
        })
    }

    /// A worker on the configuration `yaml` makes from its bound address.
    fn start_with(yaml: impl FnOnce(SocketAddr) -> String + Send + 'static) -> Self {
        Self::serve_on_thread(move |listener, stopped| async move {
            let address = listener.local_addr().unwrap();
            let config = Config::from_yaml(&yaml(address)).expect("a valid test config");
            let worker = distgo_db::Worker::open(config, Default::default())
                .await
                .expect("the worker opens");
            let _ = worker
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await;
        })
    }

    /// A master (`distgo-master`) in front of `set`, one replica set `a`.
    pub fn start_master(set: &Worker) -> Self {
        Self::start_master_over(&[set])
    }

    /// A master over `sets`, named `a`, `b`, ... in order.
    pub fn start_master_over(sets: &[&Worker]) -> Self {
        let listed: String = sets
            .iter()
            .zip('a'..)
            .map(|(set, name)| format!("    {name}: [{}]\n", set.address))
            .collect();
        let yaml = format!(
            "name: m\ngrpc:\n  host: 127.0.0.1\n  port: 0\nlogging:\n  level: error\n\
             master:\n  sets:\n{listed}"
        );
        Self::serve_on_thread(move |listener, stopped| async move {
            let config = MasterConfig::from_yaml(&yaml).expect("a valid master config");
            let _ = Master::new(config)
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await;
        })
    }

    /// Runs `serve` on a listener bound to 127.0.0.1:0, in a runtime of
    /// its own thread, until the returned handle is dropped.
    fn serve_on_thread<F, Fut>(serve: F) -> Self
    where
        F: FnOnce(tokio::net::TcpListener, oneshot::Receiver<()>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()>,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        let (bound, address) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                bound.send(listener.local_addr().unwrap()).unwrap();
                serve(listener, stopped).await;
            });
        });
        let address = address
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the server binds");
        Worker {
            address,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// `distgo ARGS` against this worker (through DISTGO_ADDR).
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_in(None, args, None)
    }

    /// `distgo ARGS` with `stdin` as standard input.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        self.run_in(None, args, Some(stdin))
    }

    /// `distgo ARGS` in directory `dir`.
    pub fn run_in(&self, dir: Option<&Path>, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let mut command = distgo_command(&self.url());
        command.args(args);
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        run(&mut command, stdin)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `distgo` with a clean environment: DISTGO_ADDR set to `addr`, no token.
pub fn distgo_command(addr: &str) -> Command {
    let mut command = Command::new(DISTGO);
    command
        .env("DISTGO_ADDR", addr)
        .env_remove("DISTGO_TOKEN")
        .env("NO_COLOR", "1");
    command
}

/// Runs a command to its end, feeding `stdin`.
pub fn run(command: &mut Command, stdin: Option<&[u8]>) -> Run {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("distgo starts");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("a stdin pipe");
        let bytes = bytes.to_vec();
        // A writer thread: a large input must not deadlock against full
        // output pipes.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    Run::from(child.wait_with_output().expect("distgo finishes"))
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts success and returns standard output.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "distgo failed: {self:#?}");
        &self.stdout
    }

    /// Asserts exit code `code` and returns standard error.
    #[track_caller]
    pub fn fails(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "distgo's exit code: {self:#?}");
        &self.stderr
    }

    /// Standard output parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|err| panic!("not JSON ({err}): {self:#?}"))
    }
}
