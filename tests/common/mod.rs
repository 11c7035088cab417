//! Starting a real worker in-process for integration tests.

#![allow(dead_code)]

pub mod pki;

use std::{net::SocketAddr, sync::Arc};

use distgo_db::{
    config::Config,
    proto::database::{
        collection_service_client::CollectionServiceClient,
        database_service_client::DatabaseServiceClient,
        document_service_client::DocumentServiceClient,
        transaction_service_client::TransactionServiceClient,
    },
    store::Store,
};
use tokio::{sync::oneshot, task::JoinHandle};
use tonic::transport::Channel;

/// A worker on 127.0.0.1:0, stopped when dropped.
pub struct TestWorker {
    pub address: SocketAddr,
    /// The worker's store, to observe its state atomically from the test.
    pub store: Arc<Store>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), distgo_db::ServeError>>>,
}

/// The YAML of a test worker: loopback, any free port, quiet logs.
pub fn test_config(extra: &str) -> Config {
    let yaml = format!(
        "name: test\ngrpc:\n  host: 127.0.0.1\n  port: 0\n  timeout: 4s\nlogging:\n  level: error\n{extra}"
    );
    Config::from_yaml(&yaml).expect("a valid test config")
}

impl TestWorker {
    pub async fn start() -> Self {
        Self::start_with(test_config("")).await
    }

    pub async fn start_with(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let worker = distgo_db::Worker::new(config);
        let store = worker.store().clone();
        let task = tokio::spawn(worker.serve(listener, async {
            let _ = stopped.await;
        }));
        TestWorker {
            address,
            store,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub async fn channel(&self) -> Channel {
        tonic::transport::Endpoint::from_shared(format!("http://{}", self.address))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub async fn clients(&self) -> Clients {
        let channel = self.channel().await;
        Clients {
            databases: DatabaseServiceClient::new(channel.clone()),
            collections: CollectionServiceClient::new(channel.clone()),
            documents: DocumentServiceClient::new(channel.clone()),
            transactions: TransactionServiceClient::new(channel),
        }
    }

    /// Stops the worker and waits for it to return.
    pub async fn stop(mut self) -> Result<(), distgo_db::ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap(),
            None => Ok(()),
        }
    }
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[derive(Clone)]
pub struct Clients {
    pub databases: DatabaseServiceClient<Channel>,
    pub collections: CollectionServiceClient<Channel>,
    pub documents: DocumentServiceClient<Channel>,
    pub transactions: TransactionServiceClient<Channel>,
}

/// A master on 127.0.0.1:0 from the whole of `yaml` (the listener is bound
/// here, so its `grpc.port` is not used), stopped when dropped. Each test
/// file adds the constructor and channels its own configurations need.
pub struct TestMaster {
    pub address: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl TestMaster {
    pub async fn from_yaml(yaml: &str) -> Self {
        let config = distgo_db::master::MasterConfig::from_yaml(yaml).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(
            distgo_db::master::Master::new(config).serve(listener, async {
                let _ = stopped.await;
            }),
        );
        TestMaster {
            address,
            _stop: stop,
        }
    }
}

impl TestMaster {
    /// A master over the sets in `master_yaml` (the YAML under `master:`).
    pub async fn with_sets(master_yaml: &str) -> Self {
        TestMaster::from_yaml(&format!(
            "name: m\ngrpc:\n  host: 127.0.0.1\n  port: 0\nlogging:\n  level: error\nmaster:\n{master_yaml}"
        ))
        .await
    }

    pub async fn plain_channel(&self) -> Channel {
        tonic::transport::Endpoint::from_shared(format!("http://{}", self.address))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }
}

/// Two in-process workers (sets `a` and `b`) behind one master.
pub async fn two_sets() -> (TestWorker, TestWorker, TestMaster) {
    let a = TestWorker::start().await;
    let b = TestWorker::start().await;
    let master = TestMaster::with_sets(&format!(
        "  sets:\n    a: [{}]\n    b: [{}]\n  refresh: 200ms\n",
        a.address, b.address
    ))
    .await;
    (a, b, master)
}
