//! One link, four behaviours: a proxy in front of a plain TCP echo server
//! shows what each [`Mode`] does to a connection, so that a replica-set
//! test knows what its partitions mean.

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    harness::proxy::{Mode, Proxy},
    tcp::{EXPECT, anything_within, echo_server, read_exactly},
};

/// How long "nothing arrives" is watched for.
const SILENCE: Duration = Duration::from_millis(300);

async fn echo_through_proxy() -> (crate::tcp::Server, Proxy) {
    let echo = echo_server().await;
    let proxy = Proxy::start(Some(echo.address)).await.unwrap();
    (echo, proxy)
}

/// Whether a connection to `address` is refused or closed (reset, or
/// EOF) within [`EXPECT`], without a byte of data. The reset may already
/// show in the connect.
async fn is_refused(address: std::net::SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(address).await else {
        return true;
    };
    let mut byte = [0; 1];
    match tokio::time::timeout(EXPECT, stream.read(&mut byte)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) | Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_pass_both_ways_and_are_counted() {
    let (_echo, proxy) = echo_through_proxy().await;
    let mut stream = TcpStream::connect(proxy.address()).await.unwrap();
    let sent: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let (mut read, mut write) = stream.split();
    let writing = async { write.write_all(&sent).await.unwrap() };
    let reading = async {
        let mut back = vec![0; sent.len()];
        tokio::time::timeout(EXPECT, read.read_exact(&mut back))
            .await
            .unwrap()
            .unwrap();
        back
    };
    let ((), back) = tokio::join!(writing, reading);
    assert_eq!(back, sent, "the echo came back byte for byte");
    let stats = proxy.stats();
    assert_eq!(stats.to_target, sent.len() as u64);
    assert_eq!(stats.from_target, sent.len() as u64);
    assert_eq!(stats.connections, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_resets_established_connections_and_new_ones() {
    let (_echo, proxy) = echo_through_proxy().await;
    let mut established = TcpStream::connect(proxy.address()).await.unwrap();
    established.write_all(b"ping").await.unwrap();
    assert_eq!(read_exactly(&mut established, 4).await, b"ping");

    proxy.set_mode(Mode::Cut);
    let mut byte = [0; 1];
    let read = tokio::time::timeout(EXPECT, established.read(&mut byte)).await;
    let error = read
        .expect("the cut is seen at once")
        .expect_err("a reset, not EOF");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);

    // A new connection is accepted by the kernel, then reset.
    assert!(
        is_refused(proxy.address()).await,
        "a new connection is reset at once"
    );

    // After the cut, new connections work again.
    proxy.set_mode(Mode::Pass);
    let mut healed = TcpStream::connect(proxy.address()).await.unwrap();
    healed.write_all(b"pong").await.unwrap();
    assert_eq!(read_exactly(&mut healed, 4).await, b"pong");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_holds_the_bytes_and_a_heal_delivers_them_in_order() {
    let (_echo, proxy) = echo_through_proxy().await;
    let mut stream = TcpStream::connect(proxy.address()).await.unwrap();
    stream.write_all(b"one ").await.unwrap();
    assert_eq!(read_exactly(&mut stream, 4).await, b"one ");

    proxy.set_mode(Mode::Drop);
    stream.write_all(b"two ").await.unwrap();
    let mut late = TcpStream::connect(proxy.address()).await.unwrap();
    late.write_all(b"late").await.unwrap();
    assert!(
        !anything_within(&mut stream, SILENCE).await,
        "silence while dropping"
    );
    assert!(
        !anything_within(&mut late, SILENCE).await,
        "a new connection is silent too"
    );
    assert_eq!(
        proxy.stats().to_target,
        4,
        "nothing more reached the target"
    );

    proxy.set_mode(Mode::Pass);
    assert_eq!(
        read_exactly(&mut stream, 4).await,
        b"two ",
        "held, not lost"
    );
    assert_eq!(read_exactly(&mut late, 4).await, b"late");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_adds_latency_each_way_but_keeps_a_pipeline() {
    let (_echo, proxy) = echo_through_proxy().await;
    let delay = Duration::from_millis(150);
    proxy.set_mode(Mode::Delay(delay));
    let mut stream = TcpStream::connect(proxy.address()).await.unwrap();

    let started = Instant::now();
    stream.write_all(b"x").await.unwrap();
    read_exactly(&mut stream, 1).await;
    let round_trip = started.elapsed();
    assert!(round_trip >= 2 * delay, "there and back: {round_trip:?}");

    // Twenty messages in flight at once take about one round trip, not
    // twenty: the delay is latency, not a bandwidth limit.
    let started = Instant::now();
    for i in 0..20u8 {
        stream.write_all(&[i]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let back = read_exactly(&mut stream, 20).await;
    assert_eq!(back, (0..20u8).collect::<Vec<_>>(), "in order");
    let pipelined = started.elapsed();
    assert!(
        pipelined < 20 * delay,
        "20 messages took {pipelined:?}, as if each waited for the previous"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_named_after_start_gets_the_connections_that_waited() {
    let echo = echo_server().await;
    let proxy = Proxy::start(None).await.unwrap();
    let mut stream = TcpStream::connect(proxy.address()).await.unwrap();
    stream.write_all(b"early").await.unwrap();
    assert!(
        !anything_within(&mut stream, SILENCE).await,
        "no target yet: silence"
    );

    proxy.set_target(echo.address);
    assert_eq!(read_exactly(&mut stream, 5).await, b"early");
    assert_eq!(proxy.target(), Some(echo.address));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_is_down_closes_the_client_connection() {
    // A port nobody listens on: bind, note, release.
    let down = crate::harness::ports::loopback(crate::harness::ports::free_port().unwrap());
    let proxy = Proxy::start(Some(down)).await.unwrap();
    assert!(
        is_refused(proxy.address()).await,
        "the client learns the target is down"
    );
}
