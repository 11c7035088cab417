//! The processes of these tests: real `distgo-master` and `distgo-worker`
//! binaries on 127.0.0.1, their configurations, and waits that are all
//! bounded in time.

use std::{
    fs,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use distgo_db::proto::master::cluster::{
    ListWorkersRequest, cluster_service_client::ClusterServiceClient,
};
use tonic::transport::{Channel, Endpoint};

/// One child process, killed when dropped.
pub struct Node {
    child: Child,
    log: PathBuf,
    pub address: SocketAddr,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    /// Starts `binary` on `yaml` and waits (at most 20 s) for its
    /// "listening" line.
    pub fn start(binary: &str, dir: &Path, name: &str, yaml: &str) -> Node {
        let config = dir.join(format!("{name}.yaml"));
        let log = dir.join(format!("{name}.log"));
        let _ = fs::remove_file(&log);
        fs::write(&config, yaml).unwrap();
        let child = Command::new(binary)
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Owned by a Node from here on, so a failed start still kills it.
        let mut node = Node {
            child,
            log,
            address: SocketAddr::from(([0, 0, 0, 0], 0)),
        };
        let started = Instant::now();
        loop {
            let text = fs::read_to_string(&node.log).unwrap_or_default();
            if let Some(address) = text.lines().find_map(listening_address) {
                node.address = address;
                return node;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{name} did not start; log:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `address` of a "distgo ... listening" JSON log line.
fn listening_address(line: &str) -> Option<SocketAddr> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = value.get("fields")?;
    let message = fields.get("message")?.as_str()?;
    if !message.ends_with("listening") {
        return None;
    }
    fields.get("address")?.as_str()?.parse().ok()
}

pub fn master_yaml(dir: &Path, name: &str, port: u16) -> String {
    format!(
        "name: {name}\ngrpc:\n  host: 127.0.0.1\n  port: {port}\n  timeout: 2s\n\
         logging:\n  level: info\n  format: json\n  output: {}\nmaster:\n  refresh: 500ms\n",
        dir.join(format!("{name}.log")).display()
    )
}

pub fn worker_yaml(dir: &Path, name: &str, masters: &[SocketAddr]) -> String {
    let list: Vec<String> = masters.iter().map(ToString::to_string).collect();
    format!(
        "name: {name}\ngrpc:\n  host: 127.0.0.1\n  port: 0\n\
         logging:\n  level: info\n  format: json\n  output: {}\n\
         master:\n  address: [{}]\n  set: {name}\n  interval: 200ms\n",
        dir.join(format!("{name}.log")).display(),
        list.join(", ")
    )
}

pub async fn channel(address: SocketAddr) -> Option<Channel> {
    Endpoint::from_shared(format!("http://{address}"))
        .ok()?
        .connect_timeout(Duration::from_millis(300))
        .timeout(Duration::from_secs(1))
        .connect()
        .await
        .ok()
}

/// Waits (bounded) until the master at `address` lists `count` workers.
pub async fn wait_for_workers(address: SocketAddr, count: usize) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if let Some(ch) = channel(address).await {
            let listed = ClusterServiceClient::new(ch)
                .list_workers(ListWorkersRequest {})
                .await
                .map(|r| r.into_inner().workers.len())
                .unwrap_or(0);
            if listed >= count {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("master {address} never listed {count} workers");
}

/// A free loopback port (the OS's pick; released for the process to bind).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

pub fn member_yaml(dir: &Path, id: u64, ports: &[u16; 3]) -> String {
    format!(
        "name: r{id}\ngrpc:\n  host: 127.0.0.1\n  port: {}\n  timeout: 4s\n\
         logging:\n  level: info\n  format: json\n  output: {}\n",
        ports[id as usize - 1],
        dir.join(format!("r{id}.log")).display(),
    ) + &log_and_group(dir, &format!("wal-{id}"), id, ports)
}

/// The `wal:` and `cluster:` sections of member `id` of a group of three
/// on `ports` (member 1 forms it), its log in `dir/wal_dir`: the same for
/// a worker's replica set and for the masters' catalog group.
pub fn log_and_group(dir: &Path, wal_dir: &str, id: u64, ports: &[u16; 3]) -> String {
    format!(
        "wal:\n  path: {}\n\
         cluster:\n  node_id: {id}\n  bootstrap: {}\n  heartbeat: 50ms\n  election_timeout: 300ms..600ms\n\
         \x20 peers:\n    1: 127.0.0.1:{}\n    2: 127.0.0.1:{}\n    3: 127.0.0.1:{}\n",
        dir.join(wal_dir).display(),
        id == 1,
        ports[0],
        ports[1],
        ports[2]
    )
}

/// The member that says it leads, if one does.
pub async fn leader(ports: &[u16; 3]) -> Option<usize> {
    use distgo_db::proto::replication::{
        StatusRequest, replication_service_client::ReplicationServiceClient,
    };
    for (index, port) in ports.iter().enumerate() {
        let Some(ch) = channel(SocketAddr::from(([127, 0, 0, 1], *port))).await else {
            continue;
        };
        if let Ok(status) = ReplicationServiceClient::new(ch)
            .status(StatusRequest {})
            .await
            && status.into_inner().state == "leader"
        {
            return Some(index);
        }
    }
    None
}
