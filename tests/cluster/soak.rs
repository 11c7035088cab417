//! The harness under a soak: for `CLUSTER_SOAK_SECS`, clients write and
//! read while a seeded schedule of faults hits their worker (kill -9 and
//! restart, pause and resume) and the link in front of it (drop, cut,
//! delay). The replica-set soak of issue 10 is this loop with three
//! members and a linearizability check; here it shows the harness holds:
//! every operation ends within its deadline, whatever the fault, and the
//! worker ends up serving with nothing it did not receive.

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::harness::{
    Settings,
    client::Clients,
    config::WorkerConfig,
    load::{Load, document_names, ensure_collection},
    process::{Port, Worker},
    proxy::{Mode, Proxy},
    state::read_state,
};

/// One fault of the schedule.
#[derive(Clone, Copy, Debug)]
enum Fault {
    Kill,
    Pause(Duration),
    Link(Mode, Duration),
}

fn pick(rng: &mut StdRng) -> Fault {
    let lasting = Duration::from_millis(rng.random_range(100..400));
    match rng.random_range(0..5) {
        0 => Fault::Kill,
        1 => Fault::Pause(lasting),
        2 => Fault::Link(Mode::Drop, lasting),
        3 => Fault::Link(Mode::Cut, lasting),
        _ => Fault::Link(Mode::Delay(Duration::from_millis(30)), lasting),
    }
}

async fn inject(worker: &mut Worker, link: &Proxy, fault: Fault) {
    match fault {
        Fault::Kill => {
            worker.kill();
            worker.restart(Port::Same).await.unwrap();
        }
        Fault::Pause(lasting) => {
            worker.pause().await.unwrap();
            tokio::time::sleep(lasting).await;
            worker.resume().await.unwrap();
        }
        Fault::Link(mode, lasting) => {
            link.set_mode(mode);
            tokio::time::sleep(lasting).await;
            link.set_mode(Mode::Pass);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_ends_in_time_under_random_faults() {
    let settings = Settings::from_env();
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let mut worker = Worker::start(WorkerConfig::new("soaked")).await.unwrap();
    let link = Proxy::start(Some(worker.address())).await.unwrap();
    let deadline = Duration::from_millis(500);
    let clients = Clients::new(link.address(), deadline);
    ensure_collection(&clients, "app", "soak", Duration::from_secs(5))
        .await
        .unwrap();

    let documents = document_names("app", "soak", 3);
    let load = Load::new(4, documents.clone(), settings.soak, settings.seed);
    let running = tokio::spawn(load.run(vec![clients.clone()]));
    let started = Instant::now();
    let mut faults = Vec::new();
    while started.elapsed() + Duration::from_millis(500) < settings.soak {
        let fault = pick(&mut rng);
        inject(&mut worker, &link, fault).await;
        faults.push(fault);
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..250))).await;
    }
    let history = running.await.unwrap();
    eprintln!("soak: {} faults, {}", faults.len(), history.summary());

    assert!(!faults.is_empty(), "the schedule injected faults");
    let total = history.summary().total();
    assert!(total.ok > 0, "work got done between faults");
    assert!(
        total.unknown > 0,
        "the faults were felt: {}",
        history.summary()
    );
    for event in &history.events {
        let took = event.complete - event.invoke;
        assert!(took < deadline * 4, "{event:?} took {took:?}");
    }
    // Afterwards the worker serves, and holds only values that were written.
    let state = read_state(&clients, false).await.unwrap();
    let written: std::collections::BTreeSet<&str> =
        history.events.iter().filter_map(|e| e.op.value()).collect();
    for name in &documents {
        if let Some(resource) = state.get(name) {
            assert!(
                written.contains(resource.content.as_str()),
                "{name}: {resource:?}"
            );
        }
    }
}
