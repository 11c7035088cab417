//! The reference worker, in-process, on 127.0.0.1:0, with the restart
//! capability: a durable one keeps its write-ahead log in a temporary
//! directory, so a restart recovers what the cases wrote.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use distgo_conformance::target::{HookFuture, Restart, TxnLimits};
use tokio::{sync::oneshot, task::JoinHandle};

/// The in-process worker's configuration, with `extra` YAML appended: small
/// transaction bounds ([`TXN_LIMITS`]) so their cases run in seconds.
pub fn config_yaml(extra: &str) -> String {
    format!(
        "name: conformance\ngrpc:\n  host: 127.0.0.1\n  port: 0\n\
         transactions:\n  ttl: 3s\n  max_operations: 64\n  max_open: 48\n{extra}"
    )
}

/// The bounds [`config_yaml`] configures, declared to the suite. The ttl is
/// long enough that no other case's transaction outlives it on a loaded
/// 2-core machine, short enough that the expiry case waits little.
pub const TXN_LIMITS: TxnLimits = TxnLimits {
    ttl: Some(Duration::from_secs(3)),
    max_operations: Some(64),
    max_open: Some(48),
};

struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), distgo_db::ServeError>>,
}

/// A reference worker that can be restarted with the same configuration
/// (and so, once it has one, the same data directory).
pub struct Reference {
    yaml: String,
    running: Mutex<Option<Running>>,
    /// The log directory of a durable worker, removed when it is dropped.
    _wal_dir: Option<tempfile::TempDir>,
}

impl Reference {
    /// Starts a memory-only worker on the current runtime.
    pub async fn start(yaml: String) -> Arc<Reference> {
        Self::start_with(yaml, None).await
    }

    /// Starts a worker whose write-ahead log lives in a fresh temporary
    /// directory (`sync: always`, as a user would run it), so that the
    /// restart cases see what survives a restart.
    pub async fn start_durable() -> Arc<Reference> {
        let dir = tempfile::tempdir().expect("a temporary log directory");
        let yaml = config_yaml(&format!("wal:\n  path: {:?}\n", dir.path().display()));
        Self::start_with(yaml, Some(dir)).await
    }

    async fn start_with(yaml: String, wal_dir: Option<tempfile::TempDir>) -> Arc<Reference> {
        let running = launch(&yaml).await;
        Arc::new(Reference {
            yaml,
            running: Mutex::new(Some(running)),
            _wal_dir: wal_dir,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        let running = self.running.lock().unwrap();
        format!("http://{}", running.as_ref().expect("running").addr)
    }

    /// Stops the worker and waits until it has stopped.
    pub async fn stop(&self) {
        let running = self.running.lock().unwrap().take();
        if let Some(running) = running {
            let _ = running.stop.send(());
            let _ = running.task.await;
        }
    }
}

async fn launch(yaml: &str) -> Running {
    let config = distgo_db::config::Config::from_yaml(yaml).expect("reference config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (stop, stopped) = oneshot::channel::<()>();
    // `serve` opens the store the way the binary does: recovered from
    // `wal.path` when the configuration has one.
    let task = tokio::spawn(distgo_db::serve(config, listener, async {
        let _ = stopped.await;
    }));
    Running { addr, stop, task }
}

impl Restart for Reference {
    fn restart(&self) -> HookFuture<'_, String> {
        Box::pin(async move {
            self.stop().await;
            let running = launch(&self.yaml).await;
            let addr = format!("http://{}", running.addr);
            *self.running.lock().unwrap() = Some(running);
            Ok(addr)
        })
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        if let Some(running) = self.running.lock().unwrap().take() {
            let _ = running.stop.send(());
            running.task.abort();
        }
    }
}
