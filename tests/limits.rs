//! Connection limits: what a socket that only takes gets, and that real
//! clients are still served while such sockets fill the worker.
//!
//! The hostile connections are raw TCP, written byte by byte as a hostile
//! client would: an HTTP/2 connection preface (`PRI * HTTP/2.0...` and an
//! empty SETTINGS frame) and then nothing, or the preface one byte at a
//! time (slowloris), or nothing at all.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's unwrap is its assertion

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use common::TestWorker;
use distgo_db::proto::database::{
    CreateDatabaseRequest, CreateDocumentRequest, Database, Document, GetDatabaseRequest,
    database_service_client::DatabaseServiceClient, document_service_client::DocumentServiceClient,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tonic::Code;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// A SETTINGS frame with no settings: length 0, type 4, no flags, stream 0.
const EMPTY_SETTINGS: [u8; 9] = [0, 0, 0, 4, 0, 0, 0, 0, 0];
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;

/// What the worker did next on a raw connection.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Frame { kind: u8, payload: Vec<u8> },
    Closed,
    Quiet,
}

async fn next(stream: &mut TcpStream, within: Duration) -> Next {
    let mut header = [0u8; 9];
    match tokio::time::timeout(within, stream.read_exact(&mut header)).await {
        Err(_) => return Next::Quiet,
        Ok(Err(_)) => return Next::Closed,
        Ok(Ok(_)) => {}
    }
    let len =
        (usize::from(header[0]) << 16) | (usize::from(header[1]) << 8) | usize::from(header[2]);
    let mut payload = vec![0u8; len];
    match tokio::time::timeout(within, stream.read_exact(&mut payload)).await {
        Ok(Ok(_)) => Next::Frame {
            kind: header[3],
            payload,
        },
        Ok(Err(_)) => Next::Closed,
        Err(_) => Next::Quiet,
    }
}

/// A connection that has sent its whole preface; the worker's SETTINGS are
/// read and acknowledged, and returned.
async fn handshaken(worker: &TestWorker) -> (TcpStream, Vec<u8>) {
    let mut stream = TcpStream::connect(worker.address).await.unwrap();
    stream.write_all(PREFACE).await.unwrap();
    stream.write_all(&EMPTY_SETTINGS).await.unwrap();
    let settings = match next(&mut stream, Duration::from_secs(5)).await {
        Next::Frame {
            kind: SETTINGS,
            payload,
        } => payload,
        other => panic!("expected the worker's SETTINGS, got {other:?}"),
    };
    // SETTINGS with the ACK flag.
    stream
        .write_all(&[0, 0, 0, 4, 1, 0, 0, 0, 0])
        .await
        .unwrap();
    (stream, settings)
}

/// Reads until the worker closes the connection or `within` passes;
/// whether it closed, and the kinds of the frames it sent first.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> (bool, Vec<u8>) {
    let deadline = Instant::now() + within;
    let mut kinds = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match next(stream, left).await {
            Next::Frame { kind, .. } => kinds.push(kind),
            Next::Closed => return (true, kinds),
            Next::Quiet => break,
        }
    }
    (false, kinds)
}

fn limits(extra: &str) -> distgo_db::config::Config {
    let yaml = format!(
        "name: limits\ngrpc:\n  host: 127.0.0.1\n  port: 0\n{extra}logging:\n  level: error\n"
    );
    distgo_db::config::Config::from_yaml(&yaml).unwrap()
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_at_the_handshake_timeout() {
    let worker = TestWorker::start_with(limits("  handshake_timeout: 500ms\n")).await;
    let started = Instant::now();
    let mut stream = TcpStream::connect(worker.address).await.unwrap();
    let (closed, _) = until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(closed, "a silent connection was kept open");
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_preface_sent_one_byte_at_a_time_is_closed_at_the_handshake_timeout() {
    let worker = TestWorker::start_with(limits("  handshake_timeout: 500ms\n")).await;
    let stream = TcpStream::connect(worker.address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let started = Instant::now();
    let trickle = tokio::spawn(async move {
        for byte in PREFACE.iter().chain(EMPTY_SETTINGS.iter()) {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    // The worker's own SETTINGS come first; then the connection must end.
    let mut buf = [0u8; 64];
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(5), reader.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(_)) => continue,
            Err(_) => break false,
        }
    };
    assert!(closed, "a trickling client was kept open");
    // 33 bytes at 10 a second would have finished after 3.3 s.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    trickle.abort();
}

/// The handshake deadline applies to the handshake only: a connection that
/// finished it stays, however long it then lasts (the regression: it used
/// to be closed when the deadline's timer fired later anyway).
#[tokio::test]
async fn a_connection_that_finished_its_handshake_outlives_the_handshake_timeout() {
    let config = limits("  handshake_timeout: 300ms\n  max_concurrent_streams: 7\n");
    let worker = TestWorker::start_with(config).await;
    let (mut stream, settings) = handshaken(&worker).await;
    // The worker announces its bound on streams per connection.
    let announced = settings.chunks(6).find_map(|s| {
        (u16::from_be_bytes([s[0], s[1]]) == SETTINGS_MAX_CONCURRENT_STREAMS)
            .then(|| u32::from_be_bytes([s[2], s[3], s[4], s[5]]))
    });
    assert_eq!(announced, Some(7), "{settings:?}");
    let (closed, kinds) = until_closed(&mut stream, Duration::from_millis(1200)).await;
    assert!(!closed, "closed after its handshake; frames {kinds:?}");
    assert!(!kinds.contains(&GOAWAY), "{kinds:?}");
}

#[tokio::test]
async fn an_idle_connection_gets_a_goaway_at_the_idle_timeout_and_is_closed() {
    let worker = TestWorker::start_with(limits("  idle_timeout: 700ms\n")).await;
    let (mut stream, _) = handshaken(&worker).await;
    let started = Instant::now();
    let (closed, kinds) = until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(closed, "frames {kinds:?}");
    assert!(
        kinds.contains(&GOAWAY),
        "closed without a GOAWAY: {kinds:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
}

/// A connection doing requests is not idle: requests spaced closer than
/// the idle timeout keep it, on the same channel, for several timeouts.
#[tokio::test]
async fn requests_keep_a_connection_from_idling_out() {
    let worker = TestWorker::start_with(limits("  idle_timeout: 400ms\n")).await;
    let mut client = DatabaseServiceClient::new(worker.channel().await);
    for _ in 0..8 {
        let status = client
            .get_database(GetDatabaseRequest {
                name: "databases/none".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

#[tokio::test]
async fn a_request_larger_than_max_request_bytes_is_resource_exhausted_naming_the_key() {
    let worker = TestWorker::start_with(limits("  max_request_bytes: 2048\n")).await;
    let clients = worker.clients().await;
    let mut databases = clients.databases.clone();
    databases
        .create_database(CreateDatabaseRequest {
            database_id: "big".into(),
            database: Some(Database {
                display_name: "Big".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let mut documents: DocumentServiceClient<_> = clients.documents.clone();
    let value = format!("{{\"pad\": \"{}\"}}", "x".repeat(3000));
    let status = documents
        .create_document(CreateDocumentRequest {
            parent: "databases/big/collections/c".into(),
            document_id: "d".into(),
            document: Some(Document {
                value,
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status
            .message()
            .contains("larger than grpc.max_request_bytes (2048)"),
        "{status:?}"
    );
}

/// What an attacker holds: `idle` handshaken connections that never send a
/// request and `slow` ones that trickle their preface, each reopened soon
/// after the worker closes it, until `stop`.
struct Siege {
    stop: Arc<AtomicBool>,
    reopened: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Siege {
    fn start(address: std::net::SocketAddr, idle: usize, slow: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let reopened = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..idle + slow {
            let (stop, reopened) = (stop.clone(), reopened.clone());
            let slowloris = i >= idle;
            tasks.push(tokio::spawn(async move {
                // Bounded: at most 200 reconnections per attacker.
                for _ in 0..200 {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    if let Ok(stream) = TcpStream::connect(address).await {
                        hold(stream, slowloris, &stop).await;
                    }
                    reopened.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }));
        }
        Siege {
            stop,
            reopened,
            tasks,
        }
    }

    async fn end(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        self.reopened.load(Ordering::Relaxed)
    }
}

/// Holds one attacking connection until the worker closes it or `stop`.
async fn hold(mut stream: TcpStream, slowloris: bool, stop: &AtomicBool) {
    let mut preface = PREFACE.iter().chain(EMPTY_SETTINGS.iter());
    if !slowloris {
        let _ = stream.write_all(PREFACE).await;
        let _ = stream.write_all(&EMPTY_SETTINGS).await;
    }
    let mut buf = [0u8; 1024];
    while !stop.load(Ordering::Relaxed) {
        if slowloris
            && let Some(byte) = preface.next()
            && stream.write_all(&[*byte]).await.is_err()
        {
            return;
        }
        match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            _ => {}
        }
    }
}

/// The lesson of the hostile test: with its connections full of
/// sockets that only sit there (three times more than it admits), a worker
/// still answers every request of clients that arrive afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clients_are_served_while_idle_and_slowloris_connections_fill_the_worker() {
    let config = limits("  max_connections: 24\n  handshake_timeout: 1s\n");
    let worker = TestWorker::start_with(config).await;
    let siege = Siege::start(worker.address, 60, 12);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..4 {
        let address = worker.address;
        clients.push(tokio::spawn(async move {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
                .unwrap()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(5))
                .connect()
                .await
                .unwrap();
            let mut client = DatabaseServiceClient::new(channel);
            let mut answered = 0;
            for _ in 0..25 {
                let status = client
                    .get_database(GetDatabaseRequest {
                        name: "databases/none".into(),
                    })
                    .await
                    .unwrap_err();
                assert_eq!(status.code(), Code::NotFound, "{status:?}");
                answered += 1;
            }
            answered
        }));
    }
    let mut answered = 0;
    for client in clients {
        answered += client.await.unwrap();
    }
    let reopened = siege.end().await;
    assert_eq!(answered, 100);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    // The worker did close attacking connections to make room.
    assert!(reopened > 0, "no attacking connection was ever closed");
}
