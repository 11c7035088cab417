//! The reference worker, in-process, on 127.0.0.1:0, with the restart
//! capability.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use distgo_conformance::target::{HookFuture, Restart};
use tokio::{sync::oneshot, task::JoinHandle};

/// The in-process worker's configuration. The one place to extend it: the
/// durable log adds `wal:\n  path: DIR\n` here.
pub fn config_yaml(extra: &str) -> String {
    format!("name: conformance\ngrpc:\n  host: 127.0.0.1\n  port: 0\n{extra}")
}

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
}

impl Reference {
    /// Starts a worker on the current runtime.
    pub async fn start(yaml: String) -> Arc<Reference> {
        let running = launch(&yaml).await;
        Arc::new(Reference {
            yaml,
            running: Mutex::new(Some(running)),
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
    let task = tokio::spawn(distgo_db::Worker::new(config).serve(listener, async {
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
