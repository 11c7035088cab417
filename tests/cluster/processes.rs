//! One worker process under the harness: it starts where the OS puts it,
//! survives kill -9 with its data, comes back on its port even when the
//! port is briefly taken, freezes and thaws, and never outlives the test.

use std::time::{Duration, Instant};

use distgo_db::proto::database::{
    CreateDocumentRequest, Document, GetDatabaseRequest, GetDocumentRequest,
};
use tonic::Code;

use crate::harness::{
    HarnessError, Settings,
    client::Clients,
    config::WorkerConfig,
    load::ensure_collection,
    process::{Port, Worker, process_state, spawn_with_parent_death_signal},
};

const DEADLINE: Duration = Duration::from_secs(2);

async fn create_document(clients: &Clients, id: &str) -> Result<Document, tonic::Status> {
    let mut documents = clients.documents.clone();
    let request = clients.request(CreateDocumentRequest {
        parent: "databases/app/collections/items".into(),
        document_id: id.into(),
        document: Some(Document {
            value: format!(r#"{{"id":"{id}"}}"#),
            ..Document::default()
        }),
    });
    clients.call(documents.create_document(request)).await
}

async fn get_document(clients: &Clients, id: &str) -> Result<Document, tonic::Status> {
    let mut documents = clients.documents.clone();
    let request = clients.request(GetDocumentRequest {
        name: format!("databases/app/collections/items/documents/{id}"),
    });
    clients.call(documents.get_document(request)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_listens_where_the_os_put_it_and_answers() {
    let worker = Worker::start(WorkerConfig::new("solo")).await.unwrap();
    assert!(worker.address().ip().is_loopback());
    assert_ne!(
        worker.address().port(),
        0,
        "the bound port, read from the log"
    );
    let clients = Clients::new(worker.address(), DEADLINE);
    ensure_collection(&clients, "app", "items", DEADLINE)
        .await
        .unwrap();
    let mut databases = clients.databases.clone();
    let db = clients
        .call(databases.get_database(clients.request(GetDatabaseRequest {
            name: "databases/app".into(),
        })))
        .await
        .unwrap();
    assert_eq!(db.display_name, "app");
    assert!(worker.log().contains("distgo worker listening"));
}

/// CLUSTER_KILLS rounds of: acknowledged writes, kill -9, restart on the
/// same port; every acknowledged write is there after each restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_restarts_on_its_port_with_every_acknowledged_write() {
    let settings = Settings::from_env();
    let mut worker = Worker::start(WorkerConfig::new("phoenix")).await.unwrap();
    let address = worker.address();
    let clients = Clients::new(address, DEADLINE);
    ensure_collection(&clients, "app", "items", DEADLINE)
        .await
        .unwrap();
    let mut acknowledged = Vec::new();
    for round in 0..settings.kills {
        for i in 0..5 {
            let id = format!("r{round}-{i}");
            create_document(&clients, &id).await.unwrap();
            acknowledged.push(id);
        }
        let pid = worker.pid().unwrap();
        worker.kill();
        assert!(!worker.is_running());
        assert_eq!(process_state(pid), None, "killed and reaped: no zombie");
        worker.restart(Port::Same).await.unwrap();
        assert_eq!(worker.address(), address, "round {round}: same address");
        for id in &acknowledged {
            let document = get_document(&clients, id).await;
            assert!(document.is_ok(), "round {round}: {id} lost: {document:?}");
        }
    }
    let starts = worker.log().matches("distgo worker listening").count();
    assert_eq!(
        starts as u32,
        settings.kills + 1,
        "one log, appended by every start"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_waits_for_its_port_while_someone_else_holds_it() {
    let mut worker = Worker::start(WorkerConfig::new("patient")).await.unwrap();
    let address = worker.address();
    worker.kill();
    // Someone takes the port for a moment (as an outgoing connection could).
    let squatter = std::net::TcpListener::bind(address).unwrap();
    let released = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(600));
        drop(squatter);
    });
    let started = Instant::now();
    worker.restart(Port::Same).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(500), "it waited");
    assert_eq!(worker.address(), address);
    released.join().unwrap();

    // Port::Any takes whatever the OS gives instead.
    worker.restart(Port::Any).await.unwrap();
    assert!(worker.is_running());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_worker_answers_nothing_until_it_is_resumed() {
    let mut worker = Worker::start(WorkerConfig::new("sleeper")).await.unwrap();
    let clients = Clients::new(worker.address(), Duration::from_millis(300));
    ensure_collection(&clients, "app", "items", DEADLINE)
        .await
        .unwrap();
    create_document(&clients, "a").await.unwrap();

    worker.pause().await.unwrap();
    assert_eq!(process_state(worker.pid().unwrap()), Some('T'));
    let started = Instant::now();
    let answer = get_document(&clients, "a").await;
    // tonic enforces the request's own deadline as CANCELLED; the
    // harness's backstop would say DEADLINE_EXCEEDED. Both: no answer.
    let code = answer.unwrap_err().code();
    assert!(
        matches!(code, Code::Cancelled | Code::DeadlineExceeded),
        "{code:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "bounded by the client"
    );

    worker.resume().await.unwrap();
    assert_ne!(process_state(worker.pid().unwrap()), Some('T'));
    assert!(get_document(&clients, "a").await.is_ok(), "it serves again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_cannot_start_says_why_with_its_log() {
    let config = WorkerConfig::new("broken").section("no_such_key: 1");
    let started = Instant::now();
    let error = Worker::start(config).await.unwrap_err();
    let HarnessError::Start { reason, logs, .. } = &error else {
        panic!("not a start error: {error}");
    };
    assert!(reason.contains("exited"), "{reason}");
    assert!(
        logs.contains("no_such_key"),
        "the worker's own message: {logs}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orderly_stop_exits_cleanly() {
    let mut worker = Worker::start(WorkerConfig::new("polite")).await.unwrap();
    let status = worker.stop().await.expect("it exited by itself");
    assert!(status.success(), "{status}");
    assert!(worker.log().contains("shutting down"));
}

/// Every process the harness started is gone once its owner is dropped,
/// paused ones included, and also when the test panics.
#[test]
fn dropped_workers_leave_no_process_behind_even_on_panic() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let pids = runtime.block_on(async {
        let a = Worker::start(WorkerConfig::new("gone-a")).await.unwrap();
        let mut b = Worker::start(WorkerConfig::new("gone-b")).await.unwrap();
        b.pause().await.unwrap();
        vec![a.pid().unwrap(), b.pid().unwrap()]
    });
    for pid in pids {
        assert_eq!(process_state(pid), None, "process {pid} is gone");
    }

    let (sender, receiver) = std::sync::mpsc::channel();
    let panicked = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let worker = Worker::start(WorkerConfig::new("doomed")).await.unwrap();
            sender
                .send((worker.pid().unwrap(), worker.dir().to_owned()))
                .unwrap();
            panic!("a test fails while its worker runs");
        })
    })
    .join();
    assert!(panicked.is_err());
    let (pid, dir) = receiver.recv().unwrap();
    assert_eq!(
        process_state(pid),
        None,
        "the panicking test's worker is gone"
    );
    assert!(
        dir.join("worker.log").exists(),
        "its directory is kept to read"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// The backstop for a test binary killed from outside: a process started
/// by a thread dies when that thread does.
#[test]
fn a_process_dies_with_the_thread_that_started_it() {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let line = ["sleep", "30"].map(std::ffi::OsString::from).to_vec();
        let child = spawn_with_parent_death_signal(
            line,
            std::process::Stdio::null(),
            std::process::Stdio::null(),
            std::process::Stdio::null(),
        )
        .unwrap();
        // The signal is armed once setpriv has exec'ed `sleep`: a thread
        // that ended before that would go unnoticed (setpriv does not
        // check). Real spawning threads live for the whole test.
        let armed = Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(format!("/proc/{}/comm", child.id()))
            .is_ok_and(|comm| comm.trim() != "sleep")
            && Instant::now() < armed
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        sender.send(child).unwrap();
    })
    .join()
    .unwrap();
    let mut child = receiver.recv().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        let error = HarnessError::Unsupported(
            "no parent-death signal (is util-linux's setpriv installed?)".into(),
        );
        crate::harness::unsupported("a_process_dies_with_the_thread_that_started_it", &error);
        return;
    };
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status}");
}
