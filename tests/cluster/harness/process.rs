//! One `distgo-worker` process: start, crash, freeze, restart, reap.
//!
//! The faults a process can suffer, and how the harness makes each:
//!
//! | fault | how | what the node sees |
//! |---|---|---|
//! | crash | `SIGKILL` ([`Worker::kill`]) | nothing: no shutdown, buffers lost, sockets reset by the kernel |
//! | freeze | `SIGSTOP` / `SIGCONT` ([`Worker::pause`], [`Worker::resume`]) | time jumps: a GC pause, a stalled VM; its peers see silence, not a closed socket |
//! | orderly stop | `SIGTERM` ([`Worker::stop`]) | the worker drains and syncs |
//! | restart | [`Worker::restart`] on the same directory and configuration | recovery from exactly what reached the disk |
//!
//! **Starting** means waiting for the worker to say where it listens: the
//! harness reads its JSON log (from the offset the file had before the
//! start, since the log is appended across restarts) until the
//! `distgo worker listening` line, whose `address` field is the bound
//! address. The wait is bounded, and ends early if the process exits; either
//! way the error carries the tail of the log.
//!
//! **Restarting on the same port.** A replica set's members know each other
//! by address, so by default a restart reuses the port the OS gave at the
//! first start ([`Port::Same`]). If that port is briefly taken (see
//! `ports`), the worker exits with "cannot listen", and the harness waits
//! and tries again, within a bound.
//!
//! **Reaping.** [`Worker`]'s `Drop` kills and waits for the process, so no
//! test leaves one behind, panicking or not. Each process is also spawned
//! through `setpriv --pdeathsig KILL` (util-linux, where present), which
//! execs the worker with a parent-death signal: if the test binary itself
//! is killed, the kernel kills its workers. That signal follows the *thread*
//! that spawned the process, so start workers from the test's thread or an
//! async task, never from `spawn_blocking` (whose threads come and go).

use std::{
    ffi::OsString,
    fs::OpenOptions,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

use super::{
    HarnessError, POLL, START_TIMEOUT,
    config::{CONFIG_FILE, LOG_FILE, STDERR_FILE, WorkerConfig},
    disk::Disk,
    logs, ports,
};

/// How long a restart keeps retrying a port that is busy.
const PORT_RETRY: Duration = Duration::from_secs(10);
/// How long an orderly stop may take before the harness kills.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How many log lines a failure shows per file.
pub const TAIL_LINES: usize = 30;

/// Which port a restarted worker listens on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Port {
    /// The port it had: peers and proxies keep working unchanged.
    Same,
    /// Whatever the OS gives (port 0).
    Any,
}

/// A `distgo-worker` process in its own directory; killed and reaped when
/// dropped.
#[derive(Debug)]
pub struct Worker {
    config: WorkerConfig,
    child: Option<Child>,
    /// Before `dir`: fields drop in order, and the namespace holding the
    /// disk goes before the directory it is mounted in.
    disk: Option<Disk>,
    /// `None` once kept for a post-mortem (the test panicked).
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    address: SocketAddr,
    paused: bool,
}

impl Worker {
    /// Starts a worker in a new temporary directory, its log on the same
    /// file system (`<dir>/wal`).
    pub async fn start(config: WorkerConfig) -> Result<Worker, HarnessError> {
        Self::start_in(config, None).await
    }

    /// Starts a worker whose log is on a tmpfs of `bytes` of its own (see
    /// [`Disk`]): the way to fill one node's disk. Fails with
    /// [`HarnessError::Unsupported`] where the machine cannot mount one.
    pub async fn start_on_small_disk(
        config: WorkerConfig,
        bytes: u64,
    ) -> Result<Worker, HarnessError> {
        Self::start_in(config, Some(bytes)).await
    }

    async fn start_in(config: WorkerConfig, disk: Option<u64>) -> Result<Worker, HarnessError> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("distgo-{}-", config.name))
            .tempdir()
            .map_err(HarnessError::io("create a worker directory"))?;
        let path = dir.path().to_owned();
        let disk = match disk {
            Some(bytes) => {
                let mount_point = path.join("disk");
                std::fs::create_dir(&mount_point)
                    .map_err(HarnessError::io("create the disk's mount point"))?;
                Some(Disk::new(&mount_point, bytes)?)
            }
            None => None,
        };
        let port = config.port;
        let mut worker = Worker {
            config,
            child: None,
            disk,
            dir: Some(dir),
            path,
            address: ports::loopback(port),
            paused: false,
        };
        worker.launch(port).await?;
        Ok(worker)
    }

    /// The worker's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The address it listens on (its last start's).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://` + [`Worker::address`], for a gRPC endpoint.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Its directory (configuration, logs, write-ahead log).
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// Its small disk, when started with [`Worker::start_on_small_disk`].
    pub fn disk(&self) -> Option<&Disk> {
        self.disk.as_ref()
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// The process id, while a process is running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is alive (a paused one is).
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Whether it is stopped by [`Worker::pause`].
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Crashes it: SIGKILL, then reaps it. Nothing is flushed, no shutdown
    /// runs. Does nothing if it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL also ends a stopped process; no SIGCONT needed.
            let _ = child.kill();
            let _ = child.wait();
        }
        self.paused = false;
    }

    /// Freezes it (SIGSTOP) and waits until the kernel shows it stopped.
    pub async fn pause(&mut self) -> Result<(), HarnessError> {
        self.signal(Signal::SIGSTOP)?;
        self.paused = true;
        self.wait_for_state(|state| state == 'T', "stopped").await
    }

    /// Thaws it (SIGCONT) and waits until the kernel shows it running.
    pub async fn resume(&mut self) -> Result<(), HarnessError> {
        self.signal(Signal::SIGCONT)?;
        self.paused = false;
        self.wait_for_state(|state| state != 'T', "running").await
    }

    /// Stops it the orderly way (SIGTERM), waiting at most [`STOP_TIMEOUT`]
    /// before killing. The exit status, or `None` if it was killed or not
    /// running.
    pub async fn stop(&mut self) -> Option<ExitStatus> {
        if self.paused {
            let _ = self.resume().await;
        }
        self.signal(Signal::SIGTERM).ok()?;
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            let child = self.child.as_mut()?;
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            tokio::time::sleep(POLL).await;
        }
        self.kill();
        None
    }

    /// Starts it again on the same directory and configuration (killing it
    /// first if it still runs), on the same port or a new one.
    pub async fn restart(&mut self, port: Port) -> Result<(), HarnessError> {
        self.kill();
        match port {
            Port::Any => self.launch(0).await,
            Port::Same => self.relaunch_on(self.address.port()).await,
        }
    }

    /// Restarts on `port`, waiting for it to be free and retrying while the
    /// worker reports it busy.
    async fn relaunch_on(&mut self, port: u16) -> Result<(), HarnessError> {
        let deadline = Instant::now() + PORT_RETRY;
        let _ = ports::wait_until_free(port, PORT_RETRY).await;
        loop {
            match self.launch(port).await {
                Err(HarnessError::Start { logs, .. })
                    if logs.contains("cannot listen") && Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => return other,
            }
        }
    }

    /// One attempt: spawns the process and waits for its "listening" line.
    async fn launch(&mut self, port: u16) -> Result<(), HarnessError> {
        let offset = self.spawn(port)?;
        match self.wait_for_listening(offset).await {
            Ok(address) => {
                self.address = address;
                Ok(())
            }
            Err(reason) => {
                self.kill();
                Err(HarnessError::Start {
                    name: self.config.name.clone(),
                    reason,
                    logs: self.log_tail(TAIL_LINES),
                })
            }
        }
    }

    /// Writes the configuration for `port` and spawns the process; returns
    /// where this start's lines begin in the (appended) log.
    fn spawn(&mut self, port: u16) -> Result<u64, HarnessError> {
        let wal = match &self.disk {
            Some(disk) => disk.mount_point().join("wal"),
            None => self.path.join("wal"),
        };
        let config_path = self.path.join(CONFIG_FILE);
        std::fs::write(&config_path, self.config.render(&self.path, &wal, port))
            .map_err(HarnessError::io("write the worker's configuration"))?;
        let offset = std::fs::metadata(self.path.join(LOG_FILE)).map_or(0, |meta| meta.len());
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path.join(STDERR_FILE))
            .map_err(HarnessError::io("open the worker's stderr file"))?;
        let mut line: Vec<OsString> = vec![
            self.config.program.path().into(),
            "--config".into(),
            config_path.into(),
        ];
        if let Some(disk) = &self.disk {
            line = disk.enter(line);
        }
        let child =
            spawn_with_parent_death_signal(line, Stdio::null(), Stdio::null(), Stdio::from(stderr))
                .map_err(HarnessError::io("spawn the node's binary"))?;
        self.child = Some(child);
        self.paused = false;
        Ok(offset)
    }

    /// Polls the log (after `offset`) for the bound address, while the
    /// process lives, for at most [`START_TIMEOUT`].
    async fn wait_for_listening(&mut self, offset: u64) -> Result<SocketAddr, String> {
        let log = self.path.join(LOG_FILE);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(address) = logs::read_from(&log, offset)
                .lines()
                .find_map(logs::listening_address)
            {
                return Ok(address);
            }
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("it exited ({status}) before listening"));
            }
            if Instant::now() >= deadline {
                return Err(format!("no \"listening\" line within {START_TIMEOUT:?}"));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn signal(&self, signal: Signal) -> Result<(), HarnessError> {
        let pid = self.pid().ok_or_else(|| HarnessError::Io {
            what: format!("send {signal} to {}", self.config.name),
            source: std::io::Error::other("not running"),
        })?;
        kill(Pid::from_raw(pid as i32), signal).map_err(|errno| HarnessError::Io {
            what: format!("send {signal} to {}", self.config.name),
            source: errno.into(),
        })
    }

    async fn wait_for_state(&self, done: fn(char) -> bool, what: &str) -> Result<(), HarnessError> {
        let pid = self.pid().unwrap_or(0);
        let bound = Duration::from_secs(5);
        let deadline = Instant::now() + bound;
        while Instant::now() < deadline {
            match process_state(pid) {
                Some(state) if done(state) => return Ok(()),
                None => break,
                Some(_) => tokio::time::sleep(Duration::from_millis(2)).await,
            }
        }
        Err(HarnessError::Timeout {
            what: format!("{} to be {what}", self.config.name),
            after: bound,
        })
    }

    /// The whole JSON log, every start included.
    pub fn log(&self) -> String {
        logs::read_from(&self.path.join(LOG_FILE), 0)
    }

    /// The last `lines` of its log (made readable) and of its stderr.
    pub fn log_tail(&self, lines: usize) -> String {
        logs::tail_of(&self.config.name, &self.path, lines)
    }

    /// Prints [`Worker::log_tail`], for a test to call when it fails.
    pub fn print_log_tail(&self) {
        eprintln!("{}", self.log_tail(TAIL_LINES));
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            self.print_log_tail();
            if let Some(dir) = self.dir.take() {
                let kept = dir.keep();
                eprintln!("--- {} kept in {} ---", self.config.name, kept.display());
            }
        }
    }
}

/// Spawns the command `line` (program first) through `setpriv --pdeathsig
/// KILL` where util-linux's `setpriv` exists (it sets the parent-death
/// signal and execs, so the child still is `line`'s program), directly
/// otherwise.
pub fn spawn_with_parent_death_signal(
    mut line: Vec<OsString>,
    stdin: Stdio,
    stdout: Stdio,
    stderr: Stdio,
) -> std::io::Result<Child> {
    static SETPRIV: OnceLock<bool> = OnceLock::new();
    let setpriv = *SETPRIV.get_or_init(|| {
        let found = Command::new("setpriv")
            .args(["--pdeathsig", "KILL", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !found {
            super::loud(
                "harness: no usable `setpriv` (util-linux): workers are reaped on drop, \
                 but would survive a test binary killed from outside",
            );
        }
        found
    });
    if setpriv {
        let wrapper = ["setpriv", "--pdeathsig", "KILL", "--"].map(OsString::from);
        line.splice(0..0, wrapper);
    }
    let Some((program, args)) = line.split_first() else {
        return Err(std::io::Error::other("an empty command line"));
    };
    Command::new(program)
        .args(args)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
}

/// The scheduler state letter of `/proc/<pid>/stat` (`R`, `S`, `T`, ...).
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces.
    stat.rsplit_once(") ")?.1.chars().next()
}
