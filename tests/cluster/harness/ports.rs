//! Loopback ports: never a fixed one.
//!
//! A worker starts on `grpc.port: 0` and the OS picks a free port, which the
//! worker logs. A replica set, though, needs stable addresses: its members
//! know each other by address, so a member restarted after a crash must come
//! back on the port it had. The harness therefore reuses the port the OS
//! gave the first time, and has to live with one race: between the crash
//! and the restart, the port is free and anyone may take it, typically an
//! outgoing connection, since ephemeral ports come from the same range.
//! [`wait_until_free`] and the restart's bind retry (in `process`) close
//! that race in practice; they cannot close it in theory, which is why the
//! restart reports a port that stays busy instead of choosing another.
//!
//! [`free_port`] is for the rarer case where an address must be known
//! before a process starts (a configuration that names the node's own
//! address): it asks the OS for a port and releases it, with the same race.

use std::{
    net::{Ipv4Addr, SocketAddr, TcpListener},
    time::{Duration, Instant},
};

use super::{HarnessError, POLL};

/// The only interface the harness ever binds or connects to.
pub const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// A port on 127.0.0.1 that was free a moment ago (the OS's choice).
pub fn free_port() -> Result<u16, HarnessError> {
    let listener =
        TcpListener::bind((LOOPBACK, 0)).map_err(HarnessError::io("bind 127.0.0.1:0"))?;
    let port = listener
        .local_addr()
        .map_err(HarnessError::io("read a bound address"))?
        .port();
    Ok(port)
}

/// Whether 127.0.0.1:`port` can be bound right now.
pub fn is_free(port: u16) -> bool {
    TcpListener::bind((LOOPBACK, port)).is_ok()
}

/// Waits (at most `within`) until 127.0.0.1:`port` can be bound.
pub async fn wait_until_free(port: u16, within: Duration) -> Result<(), HarnessError> {
    let deadline = Instant::now() + within;
    loop {
        if is_free(port) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(HarnessError::Timeout {
                what: format!("port {port} to be free"),
                after: within,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `127.0.0.1:port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((LOOPBACK, port))
}
