//! Response writes coalesced across the requests that finish together.
//!
//! hyper's HTTP/2 server has one task per connection that owns the socket,
//! and one task per request. When a request task finishes, it hands its
//! response frames to the connection task and wakes it; tokio runs a task
//! woken that way next (its "LIFO slot", kept for exactly this
//! message-passing pattern), so the connection task writes that one
//! response at once, with the other requests that were about to finish still
//! waiting behind it. Under load every response then costs its own `writev`,
//! and a `writev` is the single largest cost of a call: on loopback the
//! sending CPU also runs the receiver's TCP path, about 8 µs per call here,
//! more than the store's whole share of a CreateDocument.
//!
//! [`Coalesced`] makes the connection task step aside once before it writes:
//! the first write attempt wakes the task and answers `Pending`, which puts
//! it at the *back* of the run queue (a task that wakes itself is treated as
//! having yielded). The requests already runnable finish first and queue
//! their frames too; the next write, a moment later, carries all of them in
//! one system call. If nothing else is runnable, the task is polled again
//! straight away, so a lone request waits one trip through the scheduler,
//! not a timer (Nagle's algorithm with a yield instead of a delay).
//!
//! Writes of a full HTTP/2 frame or more ([`FULL_WRITE`]) go out at once:
//! they fill a system call already, and a page of documents is paced by
//! flow control, where a step aside per window would only add latency
//! (List pages: 0.93 of the null worker with it, 0.965 without).
//!
//! Measured with `just bench` (server pinned to one core, client to the
//! other, 1 KiB values, 3 rounds beside the null worker, then still on
//! glibc; `src/performance.rs` has the pinned table): CreateDocument at c=64 went
//! from 1.71 `writev` per call to 1.14, from 36.1 µs of server CPU per call
//! to 27.0, and from 0.78 of the null worker's throughput to 0.98;
//! GetDocument at c=64 from 0.87 to 1.18. (The null worker is stock tonic:
//! it writes each response as soon as it is ready, 1.92 `writev` per call,
//! which is why the worker can now beat it.) At c=1 the extra poll costs
//! about 1 µs per call and no latency that the bench can see.

use std::{
    io::IoSlice,
    pin::Pin,
    task::{Context, Poll},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Writes this large go out at once: they already fill a system call, and
/// a large response (a page of documents) is paced by HTTP/2 flow control,
/// where every step aside would add a scheduler trip to each window's
/// round trip. 16 KiB is HTTP/2's default frame size.
const FULL_WRITE: usize = 16 * 1024;

/// A connection whose writes wait for one turn of the scheduler first.
pub(super) struct Coalesced<T> {
    inner: T,
    /// True once this write has stepped aside; cleared when bytes go out.
    yielded: bool,
}

impl<T> Coalesced<T> {
    pub(super) fn new(inner: T) -> Self {
        Coalesced {
            inner,
            yielded: false,
        }
    }

    /// Runs `write` on the inner connection, except the first time a write
    /// of fewer than [`FULL_WRITE`] bytes is tried since bytes last went
    /// out: that time it wakes the task and answers `Pending` (a yield).
    fn write_after_a_yield(
        &mut self,
        cx: &mut Context<'_>,
        len: usize,
        write: impl FnOnce(Pin<&mut T>, &mut Context<'_>) -> Poll<std::io::Result<usize>>,
    ) -> Poll<std::io::Result<usize>>
    where
        T: Unpin,
    {
        if !self.yielded && len < FULL_WRITE {
            self.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let poll = write(Pin::new(&mut self.inner), cx);
        if poll.is_ready() {
            // Bytes went out (or the write failed): the next one yields.
            self.yielded = false;
        }
        poll
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Coalesced<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Coalesced<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.get_mut()
            .write_after_a_yield(cx, buf.len(), |inner, cx| inner.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.get_mut()
            .write_after_a_yield(cx, len, |inner, cx| inner.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    use super::*;

    /// A writer that counts the writes reaching it.
    #[derive(Default)]
    struct Counting {
        writes: usize,
        bytes: Vec<u8>,
    }

    impl AsyncWrite for Counting {
        fn poll_write(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            let this = self.get_mut();
            this.writes += 1;
            this.bytes.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn the_first_write_steps_aside_and_wakes_the_task_the_second_goes_out() {
        let mut io = Coalesced::new(Counting::default());
        let mut task = tokio_test::task::spawn(());
        task.enter(|cx, _| {
            assert!(Pin::new(&mut io).poll_write(cx, b"ab").is_pending());
        });
        assert!(
            task.is_woken(),
            "a write that steps aside must wake its task"
        );
        assert_eq!(io.inner.writes, 0);
        task.enter(|cx, _| {
            let poll = Pin::new(&mut io).poll_write(cx, b"ab");
            assert!(matches!(poll, Poll::Ready(Ok(2))));
        });
        assert_eq!(io.inner.writes, 1);
        // Once bytes went out, the next write steps aside again.
        task.enter(|cx, _| {
            assert!(Pin::new(&mut io).poll_write(cx, b"c").is_pending());
        });
        assert_eq!(io.inner.bytes, b"ab");
    }

    #[test]
    fn vectored_writes_step_aside_the_same_way() {
        let mut io = Coalesced::new(Counting::default());
        let slices = [IoSlice::new(b"x"), IoSlice::new(b"y")];
        let mut task = tokio_test::task::spawn(());
        task.enter(|cx, _| {
            assert!(
                Pin::new(&mut io)
                    .poll_write_vectored(cx, &slices)
                    .is_pending()
            );
        });
        assert!(task.is_woken());
        task.enter(|cx, _| {
            assert!(
                Pin::new(&mut io)
                    .poll_write_vectored(cx, &slices)
                    .is_ready()
            );
        });
        assert_eq!(io.inner.writes, 1);
    }

    #[test]
    fn a_write_of_a_full_frame_or_more_goes_out_at_once() {
        let mut io = Coalesced::new(Counting::default());
        let big = vec![7u8; FULL_WRITE];
        let mut task = tokio_test::task::spawn(());
        task.enter(|cx, _| {
            assert!(Pin::new(&mut io).poll_write(cx, &big).is_ready());
        });
        assert!(!task.is_woken());
        assert_eq!(io.inner.writes, 1);
    }

    #[tokio::test]
    async fn every_byte_arrives_in_order_through_a_real_pipe() {
        let (near, mut far) = duplex(64);
        let mut io = Coalesced::new(near);
        let sent: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let expected = sent.clone();
        let writer = tokio::spawn(async move {
            io.write_all(&sent).await?;
            io.shutdown().await
        });
        let mut received = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), far.read_to_end(&mut received))
            .await
            .expect("the pipe drains")
            .expect("reads");
        writer.await.expect("joins").expect("writes");
        assert_eq!(received, expected);
    }
}
