//! Plain TCP servers for the proxy's own tests: an echo server, and a
//! server that says which node it is.

use std::{net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

/// How long a test waits for bytes it expects.
pub const EXPECT: Duration = Duration::from_secs(3);

/// A server on 127.0.0.1:0, stopped when dropped.
pub struct Server {
    pub address: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Echoes every byte back on every connection.
pub async fn echo_server() -> Server {
    serve(|mut stream| async move {
        let mut buffer = vec![0; 16 * 1024];
        while let Ok(n) = stream.read(&mut buffer).await {
            if n == 0 || stream.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
    })
    .await
}

/// Writes `node <id>\n` to every connection, then echoes.
pub async fn node_server(id: u64) -> Server {
    serve(move |mut stream| async move {
        if stream
            .write_all(format!("node {id}\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
        let mut buffer = vec![0; 1024];
        while let Ok(n) = stream.read(&mut buffer).await {
            if n == 0 || stream.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
    })
    .await
}

async fn serve<F, Fut>(handle: F) -> Server
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handle(stream));
        }
    });
    Server { address, task }
}

/// Reads exactly `n` bytes, or fails the test after [`EXPECT`].
pub async fn read_exactly(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    tokio::time::timeout(EXPECT, stream.read_exact(&mut bytes))
        .await
        .expect("the bytes arrived in time")
        .expect("the connection stayed open");
    bytes
}

/// Whether anything (bytes, EOF or an error) arrives within `within`.
pub async fn anything_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut byte = [0; 1];
    tokio::time::timeout(within, stream.read(&mut byte))
        .await
        .is_ok()
}

/// Reads the `node <id>` greeting of a [`node_server`].
pub async fn greeting(stream: &mut TcpStream) -> String {
    let bytes = read_exactly(stream, "node 1\n".len()).await;
    String::from_utf8(bytes).unwrap().trim().to_owned()
}
