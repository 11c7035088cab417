//! A fault-injecting TCP proxy: one direction of one network link.
//!
//! Node A reaches node B through a proxy that A's configuration names as
//! B's address. The proxy forwards bytes, and a test switches, at any
//! moment, what the link does:
//!
//! | [`Mode`] | new connections | established connections | like |
//! |---|---|---|---|
//! | `Pass` | forwarded | forwarded | a healthy network |
//! | `Delay(d)` | forwarded | every byte arrives `d` later (latency, not a bandwidth cap) | a slow WAN link |
//! | `Drop` | accepted, then silence | silence: nothing read, nothing delivered | a partition: packets vanish |
//! | `Cut` | reset at once | reset (RST) | a crashed router, a firewall that rejects |
//!
//! **Drop holds, it does not discard.** A real partition loses packets,
//! and TCP retransmits them once the network heals: the byte stream that
//! arrives is still whole. So in `Drop` the proxy simply stops reading and
//! writing; the sender's writes pile up in kernel buffers until it times
//! out, and after `Pass` the held bytes flow on, in order. Discarding them
//! would instead hand the receiver a stream with a hole in the middle,
//! which no network produces (HTTP/2 would see garbage, not a partition).
//!
//! **Delay keeps throughput.** Each chunk read is stamped with the time it
//! is due and queued; a writer delivers it at that time. Chunks travel in
//! a pipeline, so a 50 ms link still carries many chunks per 50 ms, as a
//! long cable does.
//!
//! **Cut resets.** Connections are closed with SO_LINGER 0, which sends a
//! TCP RST: the peer's next read or write fails at once ("connection reset
//! by peer"), as when a host's connections die with it.
//!
//! The proxy runs on the tokio runtime it is started on (tests use the
//! multi-threaded one); its target may be set or changed after it starts,
//! which lets a harness hand out link addresses before the nodes they lead
//! to exist, and keep them when a node moves to a new port. A changed
//! target applies to new connections.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{
        TcpListener, TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    sync::{mpsc, watch},
    task::JoinHandle,
    time::Instant,
};

use super::{HarnessError, ports::LOOPBACK};

/// How long the proxy tries to reach its target before it resets the
/// client's connection (the client then sees what a refused connect looks
/// like through a proxy).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The most chunks in flight per direction; a full queue stops reading,
/// so a slow (delayed) link pushes back on its sender like TCP does.
const QUEUE: usize = 64;
/// The largest chunk read at once.
const CHUNK: usize = 16 * 1024;

/// What the link does with traffic now (see the module docs' table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forward everything.
    Pass,
    /// Forward everything, each byte this much later.
    Delay(Duration),
    /// Forward nothing and answer nothing; held bytes flow after a heal.
    Drop,
    /// Reset every connection, new and established.
    Cut,
}

/// What went through a proxy since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes delivered to the target.
    pub to_target: u64,
    /// Bytes delivered back to the connecting side.
    pub from_target: u64,
    /// Connections accepted.
    pub connections: u64,
}

/// The state every connection of a proxy watches.
#[derive(Clone, Copy, Debug)]
struct State {
    mode: Mode,
    target: Option<SocketAddr>,
}

#[derive(Debug, Default)]
struct Counters {
    to_target: AtomicU64,
    from_target: AtomicU64,
    connections: AtomicU64,
}

/// A TCP proxy on 127.0.0.1 (any port) forwarding to a target, with a
/// [`Mode`] that can change at any time. Dropping it closes its listener
/// and every connection through it.
#[derive(Debug)]
pub struct Proxy {
    address: SocketAddr,
    state: watch::Sender<State>,
    counters: Arc<Counters>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Binds 127.0.0.1:0 and starts forwarding to `target` (none yet: new
    /// connections wait, silent, until one is set).
    pub async fn start(target: Option<SocketAddr>) -> Result<Proxy, HarnessError> {
        let listener = TcpListener::bind((LOOPBACK, 0))
            .await
            .map_err(HarnessError::io("bind a proxy on 127.0.0.1:0"))?;
        let address = listener
            .local_addr()
            .map_err(HarnessError::io("read a proxy's address"))?;
        let (state, watching) = watch::channel(State {
            mode: Mode::Pass,
            target,
        });
        let counters = Arc::new(Counters::default());
        let accept = tokio::spawn(accept_loop(listener, watching, counters.clone()));
        Ok(Proxy {
            address,
            state,
            counters,
            accept,
        })
    }

    /// Where to connect to go through this link.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Where it forwards to.
    pub fn target(&self) -> Option<SocketAddr> {
        self.state.borrow().target
    }

    /// Forwards new connections to `target`.
    pub fn set_target(&self, target: SocketAddr) {
        self.state.send_modify(|state| state.target = Some(target));
    }

    /// What the link does now.
    pub fn mode(&self) -> Mode {
        self.state.borrow().mode
    }

    /// Switches what the link does, for new and established connections.
    pub fn set_mode(&self, mode: Mode) {
        self.state.send_modify(|state| state.mode = mode);
    }

    /// Bytes and connections so far.
    pub fn stats(&self) -> Stats {
        Stats {
            to_target: self.counters.to_target.load(Ordering::Relaxed),
            from_target: self.counters.from_target.load(Ordering::Relaxed),
            connections: self.counters.connections.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Connections end when they see the state's sender gone.
        self.accept.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: watch::Receiver<State>,
    counters: Arc<Counters>,
) {
    // Ends when the proxy is dropped (aborted) or the listener fails.
    while let Ok((client, _)) = listener.accept().await {
        counters.connections.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(connection(client, state.clone(), counters.clone()));
    }
}

/// Why a connection stops forwarding.
enum Stop {
    /// The link was cut: reset both sides.
    Cut,
    /// The proxy is gone, or a side failed or closed: close both sides.
    Closed,
}

/// Waits until the link lets bytes flow (Pass or Delay) and a target is
/// known.
async fn flowing(state: &mut watch::Receiver<State>) -> Result<State, Stop> {
    loop {
        let now = *state.borrow_and_update();
        match now.mode {
            Mode::Cut => return Err(Stop::Cut),
            Mode::Pass | Mode::Delay(_) if now.target.is_some() => return Ok(now),
            _ => {}
        }
        state.changed().await.map_err(|_| Stop::Closed)?;
    }
}

/// Completes when the link is cut or the proxy dropped.
async fn until_cut(mut state: watch::Receiver<State>) -> Stop {
    loop {
        if state.borrow_and_update().mode == Mode::Cut {
            return Stop::Cut;
        }
        if state.changed().await.is_err() {
            return Stop::Closed;
        }
    }
}

/// One connection: wait for the link to flow, connect to the target, then
/// pump both directions until a side closes or the link is cut.
async fn connection(client: TcpStream, mut state: watch::Receiver<State>, counters: Arc<Counters>) {
    let now = match flowing(&mut state).await {
        Ok(now) => now,
        Err(_) => return reset(&client),
    };
    let Some(target) = now.target else {
        return reset(&client);
    };
    let upstream = tokio::select! {
        connected = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)) => connected,
        _ = until_cut(state.clone()) => return reset(&client),
    };
    let Ok(Ok(upstream)) = upstream else {
        return reset(&client);
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (client_read, mut client_write) = client.into_split();
    let (upstream_read, mut upstream_write) = upstream.into_split();
    let stop = {
        let there = pump(
            client_read,
            &mut upstream_write,
            state.clone(),
            &counters.to_target,
        );
        let back = pump(
            upstream_read,
            &mut client_write,
            state.clone(),
            &counters.from_target,
        );
        tokio::select! {
            // Both directions end on their own (each half-closes its
            // writer at its reader's EOF); a failure in one ends both.
            (a, b) = async { tokio::join!(there, back) } => match (a, b) {
                (Err(Stop::Cut), _) | (_, Err(Stop::Cut)) => Stop::Cut,
                _ => Stop::Closed,
            },
            stop = until_cut(state) => stop,
        }
    };
    if let Stop::Cut = stop {
        reset(client_write.as_ref());
        reset(upstream_write.as_ref());
        // Skip the FIN that dropping a write half sends, so the close is
        // the RST alone.
        client_write.forget();
        upstream_write.forget();
    }
}

/// One direction: a reader stamps each chunk with the time it is due, a
/// writer delivers it then; both stop while the link drops.
async fn pump(
    mut from: OwnedReadHalf,
    to: &mut OwnedWriteHalf,
    state: watch::Receiver<State>,
    delivered: &AtomicU64,
) -> Result<(), Stop> {
    // `None` marks the reader's EOF: only then is the half-close passed
    // on. A reader that stops for a cut or an error sends nothing more, so
    // the writer stops without a FIN and the reset is all the peer sees.
    let (queue, mut queued) = mpsc::channel::<Option<(Instant, Vec<u8>)>>(QUEUE);
    let mut reading = state.clone();
    let reader = async move {
        let mut buffer = vec![0; CHUNK];
        loop {
            let now = flowing(&mut reading).await?;
            let read = tokio::select! {
                read = from.read(&mut buffer) => read,
                // The mode changed while waiting for bytes: look again
                // (a read is cancel-safe: nothing was consumed).
                _ = reading.changed() => continue,
            };
            let chunk = match read {
                Ok(0) => None,
                Ok(n) => {
                    let delay = match now.mode {
                        Mode::Delay(delay) => delay,
                        _ => Duration::ZERO,
                    };
                    Some((Instant::now() + delay, buffer[..n].to_vec()))
                }
                Err(_) => return Err(Stop::Closed),
            };
            let eof = chunk.is_none();
            if queue.send(chunk).await.is_err() {
                return Err(Stop::Closed);
            }
            if eof {
                return Ok::<(), Stop>(());
            }
        }
    };
    let mut writing = state;
    let writer = async move {
        loop {
            match queued.recv().await {
                Some(Some((due, chunk))) => {
                    tokio::time::sleep_until(due).await;
                    flowing(&mut writing).await?;
                    to.write_all(&chunk).await.map_err(|_| Stop::Closed)?;
                    delivered.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
                Some(None) => {
                    let _ = to.shutdown().await;
                    return Ok(());
                }
                None => return Err(Stop::Closed),
            }
        }
    };
    let (read, written) = tokio::join!(reader, writer);
    read.and(written)
}

/// Makes the socket's close a reset (SO_LINGER 0).
fn reset(stream: &TcpStream) {
    let _ = stream.set_zero_linger();
}
