//! Connections: accepting them, counting them, and closing the ones that
//! only take.
//!
//! Every open connection costs the worker a file descriptor and some
//! memory, whether or not it ever sends a request. A worker that accepts
//! whatever arrives and keeps it forever is at the mercy of anyone who can
//! open sockets: before this module, 400 idle TCP connections locked a
//! worker with 256 file descriptors out of `accept`, and real clients out
//! of the worker. So the worker runs its own accept loop, and each
//! connection lives under four rules:
//!
//! 1. **A bound on connections** (`grpc.max_connections`; by default the
//!    open-file limit less 64 descriptors kept for the log and snapshots, at
//!    most 10 000), counted here, so the worker reaches its own bound before
//!    the kernel's and can choose what to give up. When it is full, a new
//!    connection *evicts* one that is doing nothing: never one with a
//!    request in flight; first one that has never carried a request (a
//!    socket still in its handshake, or one that only sits there), the one
//!    useless the longest; only then the client connection idle the longest.
//!    The evicted connection is closed at once, as nginx closes idle
//!    keep-alive connections when it runs out of connections: it has nothing
//!    in flight to lose, and the newcomer should not wait for a round trip
//!    a hostile peer would never make. When every connection is busy, the
//!    newcomer is refused (closed at once). So sockets that only sit there
//!    can delay a real client by one eviction, never lock it out.
//! 2. **A handshake deadline** (`grpc.handshake_timeout`, 10 s): within it a
//!    connection must finish TLS and send the HTTP/2 connection preface
//!    (the 24-byte magic and its SETTINGS frame). A slowloris client that
//!    trickles bytes is closed when it runs out.
//! 3. **An idle timeout** (`grpc.idle_timeout`, 5 min): a connection with no
//!    request in flight for that long gets a GOAWAY and is closed. A well
//!    behaved client reconnects when it next needs to. (hyper's graceful
//!    close waits for the client to answer a PING; a peer that does not is
//!    closed 250 ms later, one that starts a request meanwhile gets
//!    `grpc.timeout` to finish it.)
//! 4. **HTTP/2's own bounds**, set on hyper: requests in flight per
//!    connection (`grpc.max_concurrent_streams`) and keepalive PINGs
//!    (`grpc.keepalive_interval`, `grpc.keepalive_timeout`), which close a
//!    connection whose peer has vanished.
//!
//! `accept` failing for want of descriptors (EMFILE, ENFILE) is not fatal:
//! the loop logs it, waits a moment (the pending connection stays in the
//! kernel's backlog) and tries again, instead of spinning.
//!
//! ## Why not tonic's server
//!
//! tonic's `Server` accepts and serves connections itself and offers none
//! of rules 1-3: no way to count connections against a bound or to close
//! one that idles or never finishes its preface. So the worker serves each
//! connection with hyper directly, the way tonic does inside, and hands
//! tonic only the routing: `Routes` is an ordinary tower service. The
//! shutdown is tonic's too: stop accepting, GOAWAY on every connection, let
//! in-flight requests finish for at most `grpc.timeout`, then close.
//!
//! ## What a connection costs here
//!
//! A request pays two atomic updates and a clock read: the count of
//! requests in flight on its connection, and the instant the last one
//! ended. Timers run per connection, not per request: the idle timer wakes
//! at the earliest moment the connection could have been idle long enough
//! and checks; the accept loop takes a lock only to add, evict or remove a
//! connection.

use std::{
    collections::HashMap,
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::{Pin, pin},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll, ready},
    time::Duration,
};

use http::{Request, Response};
use hyper::body::{Bytes, Incoming};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use parking_lot::Mutex;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Notify, watch},
    time::Instant,
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tonic::{Status, body::Body, transport::server::TcpConnectInfo};
use tower::Service;

use super::coalesce::Coalesced;
use crate::config::ConnectionLimits;

/// The most connections the default bound allows, whatever the file limit.
pub const MAX_DEFAULT_CONNECTIONS: usize = 10_000;

/// Descriptors the default bound leaves for everything but connections:
/// log segments, snapshots, the listener, logging.
pub const RESERVED_DESCRIPTORS: u64 = 64;

/// How long the accept loop waits after EMFILE/ENFILE before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How long a newcomer waits for the connection it evicted to close.
const EVICTION_WAIT: Duration = Duration::from_secs(1);

/// How long connections get to close once in-flight requests were given up on.
const FORCE_WAIT: Duration = Duration::from_secs(1);

/// How long an idle connection that was sent a GOAWAY (idle timeout,
/// eviction) has to close before it is closed for it. hyper's graceful
/// close waits for the client to answer a PING, which a well-behaved client
/// does within a round trip and a hostile one never does. A request that
/// arrived in the meantime extends it to `grpc.timeout`.
const CLOSE_GRACE: Duration = Duration::from_millis(250);

/// The default of `grpc.max_connections`: the open-file limit less
/// [`RESERVED_DESCRIPTORS`], at most [`MAX_DEFAULT_CONNECTIONS`].
pub fn default_max_connections() -> usize {
    match open_file_limit() {
        Some(limit) => usize::try_from(limit.saturating_sub(RESERVED_DESCRIPTORS))
            .unwrap_or(MAX_DEFAULT_CONNECTIONS)
            .clamp(1, MAX_DEFAULT_CONNECTIONS),
        None => 1_000,
    }
}

/// The process's soft limit on open files, if it can be read.
#[cfg(unix)]
pub fn open_file_limit() -> Option<u64> {
    use nix::sys::resource::{Resource, getrlimit};
    getrlimit(Resource::RLIMIT_NOFILE)
        .ok()
        .map(|(soft, _)| soft)
}

/// Unknown off Unix.
#[cfg(not(unix))]
pub fn open_file_limit() -> Option<u64> {
    None
}

/// What the accept loop needs besides the listener and the service.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The connection bounds and timeouts.
    pub limits: ConnectionLimits,
    /// Connections at once: `limits.max_connections` or its default.
    pub max_connections: usize,
    /// TLS for every connection, or plaintext.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// How long in-flight requests may run once shutdown begins: `grpc.timeout`.
    pub drain: Duration,
}

impl Settings {
    /// The settings of `limits`, its connection bound resolved.
    pub fn new(limits: ConnectionLimits, drain: Duration) -> Self {
        let max_connections = limits
            .max_connections
            .unwrap_or_else(default_max_connections);
        if let Some(files) = open_file_limit()
            && max_connections as u64 + RESERVED_DESCRIPTORS > files
        {
            tracing::warn!(
                max_connections,
                open_file_limit = files,
                "grpc.max_connections is close to or above the open-file limit: \
                 accept may fail for want of descriptors before the bound is reached"
            );
        }
        Settings {
            limits,
            max_connections,
            tls: None,
            drain,
        }
    }
}

/// The phase of the whole server, which every connection watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Serving,
    /// GOAWAY sent: finish what is in flight.
    Draining,
    /// Close now.
    Closing,
}

/// Serves `service` on every connection `listener` accepts until `shutdown`
/// completes, then drains: GOAWAY everywhere, in-flight requests get
/// `settings.drain`, and what is left is closed.
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + Unpin + 'static,
{
    let table = Arc::new(Table::new(settings.max_connections));
    let (phase_tx, phase_rx) = watch::channel(Phase::Serving);
    let shared = Arc::new(Shared {
        http: http2(&settings.limits),
        tls: settings.tls.clone().map(TlsAcceptor::from),
        limits: settings.limits,
        request_grace: settings.drain,
    });
    let mut shutdown = pin!(shutdown);
    let mut starved = false;
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                if out_of_descriptors(&err) {
                    if !starved {
                        tracing::warn!(%err, "cannot accept: out of file descriptors; retrying");
                        starved = true;
                    }
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                } else {
                    tracing::debug!(%err, "accept failed");
                }
                continue;
            }
        };
        starved = false;
        let Some(conn) = table.admit(peer).await else {
            tracing::debug!(%peer, "refused: every connection is busy");
            continue;
        };
        // Without TCP_NODELAY a response written in several small frames
        // waits for the client's delayed ACK, ~40 ms.
        let _ = tcp.set_nodelay(true);
        let task = connection(
            tcp,
            conn,
            table.clone(),
            shared.clone(),
            service.clone(),
            phase_rx.clone(),
        );
        tokio::spawn(task);
    }
    // Closing the listener now makes the kernel refuse new connections at
    // once, instead of completing them and leaving them unanswered.
    drop(listener);
    drain(&table, &phase_tx, settings.drain).await;
}

fn out_of_descriptors(err: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        use nix::errno::Errno;
        matches!(err.raw_os_error(), Some(code) if code == Errno::EMFILE as i32 || code == Errno::ENFILE as i32)
    }
    #[cfg(not(unix))]
    {
        let _ = err;
        false
    }
}

async fn drain(table: &Table, phase: &watch::Sender<Phase>, grace: Duration) {
    let _ = phase.send(Phase::Draining);
    if !table.wait_empty(grace).await {
        tracing::warn!(
            connections = table.len(),
            timeout = ?grace,
            "in-flight requests did not finish within grpc.timeout; closing their connections"
        );
        let _ = phase.send(Phase::Closing);
        table.wait_empty(FORCE_WAIT).await;
    }
}

/// The HTTP/2 server every connection is served with.
fn http2(limits: &ConnectionLimits) -> hyper::server::conn::http2::Builder<TokioExecutor> {
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams)
        .keep_alive_interval(limits.keepalive_interval)
        .keep_alive_timeout(limits.keepalive_timeout);
    builder
}

/// What every connection task shares.
struct Shared {
    http: hyper::server::conn::http2::Builder<TokioExecutor>,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    /// How long a request that arrived on a closing connection may still
    /// run: `grpc.timeout`.
    request_grace: Duration,
}

/// The open connections.
struct Table {
    max: usize,
    open: Mutex<Open>,
    /// Signalled whenever a connection is removed.
    freed: Notify,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    by_id: HashMap<u64, Arc<Conn>>,
}

impl Table {
    fn new(max: usize) -> Self {
        Table {
            max,
            open: Mutex::new(Open::default()),
            freed: Notify::new(),
        }
    }

    fn len(&self) -> usize {
        self.open.lock().by_id.len()
    }

    /// A place for a connection from `peer`: at once if there is room, after
    /// evicting the connection doing least if not, or `None` when every
    /// connection is busy (or the evicted one does not close in time).
    async fn admit(&self, peer: SocketAddr) -> Option<Arc<Conn>> {
        if let Some(conn) = self.insert(peer) {
            return Some(conn);
        }
        let freed = self.freed.notified();
        let mut freed = pin!(freed);
        freed.as_mut().enable();
        let victim = self.victim()?;
        tracing::debug!(%peer, evicted = %victim.peer, "at grpc.max_connections: evicting");
        victim.evict.notify_one();
        let _ = tokio::time::timeout(EVICTION_WAIT, freed).await;
        self.insert(peer)
    }

    fn insert(&self, peer: SocketAddr) -> Option<Arc<Conn>> {
        let mut open = self.open.lock();
        if open.by_id.len() >= self.max {
            return None;
        }
        open.next_id += 1;
        let conn = Arc::new(Conn::new(open.next_id, peer));
        open.by_id.insert(conn.id, conn.clone());
        Some(conn)
    }

    /// The connection to give up for a newcomer, marked as closing so that it
    /// is not chosen twice. Never one that is busy; first one that has never
    /// carried a request, then one that has; within each, the one that has
    /// gone longest without a request in flight (a connection still in its
    /// handshake counting from its accept).
    ///
    /// Why this order: sockets that only take never send a request, and if
    /// their owner reopens them as fast as they are closed they are always
    /// younger than a real client's connection; by age alone, a client that
    /// paused 10 ms between two requests would be the one to go. A
    /// connection that has served a request has shown itself to be a
    /// client; it is given up only when no other idle connection is left.
    fn victim(&self) -> Option<Arc<Conn>> {
        let open = self.open.lock();
        let now = Instant::now();
        let victim = open
            .by_id
            .values()
            .filter(|conn| !conn.closing.load(Ordering::Acquire))
            .filter_map(|conn| {
                let useless_for = if !conn.is_handshaken() {
                    now.duration_since(conn.started)
                } else if conn.active.load(Ordering::Acquire) == 0 {
                    conn.idle_for(now)
                } else {
                    return None;
                };
                let proven = conn.served.load(Ordering::Acquire);
                Some(((!proven, useless_for), conn))
            })
            .max_by_key(|(rank, _)| *rank)
            .map(|(_, conn)| conn.clone())?;
        victim.closing.store(true, Ordering::Release);
        Some(victim)
    }

    fn remove(&self, id: u64) {
        self.open.lock().by_id.remove(&id);
        self.freed.notify_waiters();
    }

    /// Whether the table empties within `within`.
    async fn wait_empty(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let freed = self.freed.notified();
            let mut freed = pin!(freed);
            freed.as_mut().enable();
            if self.len() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return self.len() == 0;
            }
        }
    }
}

/// One connection's state, shared by its task, its requests and the table.
struct Conn {
    id: u64,
    peer: SocketAddr,
    started: Instant,
    /// TLS done and the HTTP/2 preface received.
    handshaken: AtomicBool,
    /// Requests in flight.
    active: AtomicUsize,
    /// Whether the connection has carried a request.
    served: AtomicBool,
    /// When the connection last became quiet, in nanoseconds after `started`.
    quiet_since: AtomicU64,
    /// Chosen for eviction, or closing for another reason.
    closing: AtomicBool,
    evict: Notify,
    /// Signalled when `handshaken` becomes true, so the connection's task
    /// starts its idle timer.
    handshake_done: Notify,
}

impl Conn {
    fn new(id: u64, peer: SocketAddr) -> Self {
        Conn {
            id,
            peer,
            started: Instant::now(),
            handshaken: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            quiet_since: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            evict: Notify::new(),
            handshake_done: Notify::new(),
        }
    }

    fn is_handshaken(&self) -> bool {
        self.handshaken.load(Ordering::Acquire)
    }

    fn mark_quiet(&self) {
        let nanos = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.quiet_since.store(nanos, Ordering::Release);
    }

    /// How long the connection has had nothing in flight (zero while busy).
    fn idle_for(&self, now: Instant) -> Duration {
        if self.active.load(Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        let quiet = self.started + Duration::from_nanos(self.quiet_since.load(Ordering::Acquire));
        now.saturating_duration_since(quiet)
    }

    /// The earliest instant at which the connection can have idled for `timeout`.
    fn idle_deadline(&self, timeout: Duration) -> Instant {
        let now = Instant::now();
        now + timeout.saturating_sub(self.idle_for(now))
    }
}

/// Removes its connection from the table when the connection's task ends,
/// however it ends.
struct Registered {
    table: Arc<Table>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.table.remove(self.id);
    }
}

/// Why a connection's task ended, for the debug log.
#[derive(Debug)]
enum Ended {
    Closed,
    NoPreface,
    Evicted,
    Shutdown,
    GraceOver,
}

/// One connection, from TLS to its last byte.
async fn connection<S>(
    tcp: TcpStream,
    conn: Arc<Conn>,
    table: Arc<Table>,
    shared: Arc<Shared>,
    service: S,
    mut phase: watch::Receiver<Phase>,
) where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + Unpin + 'static,
{
    let _registered = Registered { table, id: conn.id };
    let peer = conn.peer;
    let info = TcpConnectInfo {
        local_addr: tcp.local_addr().ok(),
        remote_addr: Some(peer),
    };
    let handshake_deadline = conn.started + shared.limits.handshake_timeout;
    let io = match &shared.tls {
        None => Io::Plain(tcp),
        Some(acceptor) => {
            let accept = tokio::time::timeout_at(handshake_deadline, acceptor.accept(tcp));
            tokio::select! {
                accepted = accept => match accepted {
                    Ok(Ok(stream)) => Io::Tls(Box::new(stream)),
                    Ok(Err(err)) => {
                        tracing::debug!(%peer, %err, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "no TLS handshake within grpc.handshake_timeout");
                        return;
                    }
                },
                () = conn.evict.notified() => return,
                _ = phase.wait_for(|p| *p != Phase::Serving) => return,
            }
        }
    };
    let io = Coalesced::new(Preface::new(io, conn.clone()));
    let counted = Counted {
        inner: service,
        conn: conn.clone(),
        info,
    };
    let served = shared
        .http
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(counted));
    let ended = run(served, &conn, &shared, &mut phase, handshake_deadline).await;
    tracing::debug!(%peer, ?ended, "connection closed");
}

/// Drives `served` until it ends or one of the connection's rules ends it.
async fn run<C>(
    served: C,
    conn: &Conn,
    shared: &Shared,
    phase: &mut watch::Receiver<Phase>,
    handshake_deadline: Instant,
) -> Ended
where
    C: Future<Output = Result<(), hyper::Error>> + GracefulShutdown,
{
    let mut served = pin!(served);
    let idle_timeout = shared.limits.idle_timeout;
    let mut closing_by: Option<Instant> = None;
    let mut extended = false;
    loop {
        let idle_deadline = conn.idle_deadline(idle_timeout);
        let grace_over = closing_by.unwrap_or(idle_deadline);
        let handshaken = conn.is_handshaken();
        tokio::select! {
            result = served.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(peer = %conn.peer, %err, "connection error");
                }
                return Ended::Closed;
            }
            // Each guard is read when the loop turns, which may be long
            // before a branch fires: every branch checks again.
            () = tokio::time::sleep_until(handshake_deadline), if !handshaken => {
                if !conn.is_handshaken() {
                    return Ended::NoPreface;
                }
            }
            () = tokio::time::sleep_until(idle_deadline), if handshaken && closing_by.is_none() => {
                if conn.idle_for(Instant::now()) >= idle_timeout {
                    tracing::debug!(peer = %conn.peer, "idle for grpc.idle_timeout: GOAWAY");
                    conn.closing.store(true, Ordering::Release);
                    served.as_mut().shutdown_gracefully();
                    closing_by = Some(Instant::now() + CLOSE_GRACE);
                }
            }
            // Evicted: closed at once, without the GOAWAY round trip, so the
            // newcomer waiting for the place gets it in microseconds, not
            // after a grace period that a hostile peer would always use up.
            // The connection has nothing in flight, so nothing is cut short.
            () = conn.evict.notified() => return Ended::Evicted,
            () = conn.handshake_done.notified(), if !handshaken => {}
            changed = phase.changed() => {
                let now = changed.map(|()| *phase.borrow()).unwrap_or(Phase::Closing);
                match now {
                    Phase::Serving => {}
                    Phase::Draining => served.as_mut().shutdown_gracefully(),
                    Phase::Closing => return Ended::Shutdown,
                }
            }
            () = tokio::time::sleep_until(grace_over), if closing_by.is_some() => {
                if extended || conn.active.load(Ordering::Acquire) == 0 {
                    return Ended::GraceOver;
                }
                extended = true;
                closing_by = Some(Instant::now() + shared.request_grace);
            }
        }
    }
}

/// hyper's `graceful_shutdown`, as a trait so that [`run`] needs no name
/// for the connection's long generic type.
trait GracefulShutdown {
    fn shutdown_gracefully(self: Pin<&mut Self>);
}

impl<I, S, E, B> GracefulShutdown for hyper::server::conn::http2::Connection<I, S, E>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: http_body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    fn shutdown_gracefully(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// A connection's bytes: plaintext or TLS.
enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// The connection's bytes, watched until the client's HTTP/2 preface is
/// complete: the 24-byte magic, then a SETTINGS frame (9-byte header and
/// its payload), RFC 9113 §3.4. hyper checks the bytes; this only notices
/// that enough of them have come, and marks the connection handshaken.
struct Preface {
    io: Io,
    conn: Arc<Conn>,
    seen: usize,
    frame_header: [u8; 9],
}

/// The connection preface's magic, `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`.
const MAGIC_LEN: usize = 24;
/// A frame header: 24-bit length, type, flags, stream id.
const FRAME_HEADER_LEN: usize = 9;
/// The largest SETTINGS payload waited for; hyper rejects larger frames.
const MAX_SETTINGS_LEN: usize = 16_384;

impl Preface {
    fn new(io: Io, conn: Arc<Conn>) -> Self {
        Preface {
            io,
            conn,
            seen: 0,
            frame_header: [0; 9],
        }
    }

    /// Counts newly read bytes; true once the preface is complete.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        let header_end = MAGIC_LEN + FRAME_HEADER_LEN;
        for (offset, &byte) in bytes.iter().enumerate() {
            if self.seen >= header_end {
                // The header is known: the rest only needs counting.
                self.seen += bytes.len() - offset;
                break;
            }
            if self.seen >= MAGIC_LEN {
                self.frame_header[self.seen - MAGIC_LEN] = byte;
            }
            self.seen += 1;
        }
        if self.seen < header_end {
            return false;
        }
        let [a, b, c, ..] = self.frame_header;
        let payload = (usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c);
        self.seen >= header_end + payload.min(MAX_SETTINGS_LEN)
    }
}

impl AsyncRead for Preface {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match &mut this.io {
            Io::Plain(tcp) => ready!(Pin::new(tcp).poll_read(cx, buf))?,
            Io::Tls(tls) => ready!(Pin::new(tls.as_mut()).poll_read(cx, buf))?,
        }
        if !this.conn.is_handshaken() && this.feed(&buf.filled()[before..]) {
            this.conn.mark_quiet();
            this.conn.handshaken.store(true, Ordering::Release);
            this.conn.handshake_done.notify_one();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Preface {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Io::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Io::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(tcp) => tcp.is_write_vectored(),
            Io::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Io::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Io::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The service of one connection: counts its requests in flight and tells
/// handlers who the peer is (`Request::remote_addr`).
#[derive(Clone)]
struct Counted<S> {
    inner: S,
    conn: Arc<Conn>,
    info: TcpConnectInfo,
}

impl<S> Service<Request<Incoming>> for Counted<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = CountedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let in_flight = InFlight::begin(self.conn.clone());
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(self.info.clone());
        CountedFuture {
            inner: self.inner.call(request),
            in_flight: Some(in_flight),
        }
    }
}

/// A request in flight on its connection, until dropped: with the response
/// body, so a response still being sent counts as in flight.
struct InFlight(Arc<Conn>);

impl InFlight {
    fn begin(conn: Arc<Conn>) -> Self {
        conn.active.fetch_add(1, Ordering::AcqRel);
        if !conn.served.load(Ordering::Relaxed) {
            conn.served.store(true, Ordering::Release);
        }
        InFlight(conn)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // Quiet from now on, unless another request is still running.
        self.0.mark_quiet();
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The future of [`Counted`].
struct CountedFuture<F> {
    inner: F,
    in_flight: Option<InFlight>,
}

impl<F> Future for CountedFuture<F>
where
    F: Future<Output = Result<Response<Body>, Infallible>> + Unpin,
{
    type Output = Result<Response<Body>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = ready!(Pin::new(&mut self.inner).poll(cx))?;
        let in_flight = self.in_flight.take();
        Poll::Ready(Ok(response.map(|body| {
            Body::new(Tracked {
                body,
                _in_flight: in_flight,
            })
        })))
    }
}

/// A response body that keeps its request counted until it is sent.
struct Tracked {
    body: Body,
    _in_flight: Option<InFlight>,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
