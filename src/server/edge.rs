//! A tower layer in front of every service: the per-request deadline, and
//! the status of an oversized request.
//!
//! **Deadline.** Every request is bounded by the worker's `grpc.timeout` and,
//! when the client sent one, by its `grpc-timeout` header: whichever ends
//! first ([`Bound`]). Both are answered DEADLINE_EXCEEDED, as the contract
//! says. tonic's server would answer CANCELLED for either (its own timer,
//! for `Server::timeout` and the header alike), so the worker enforces both
//! itself, here, in one place for every method, and arranges to always end
//! before tonic's timer does: the [`deadline`](super::deadline) module
//! explains why that is deterministic rather than a race. When the deadline
//! passes, the handler's future is dropped, which cancels the work (a write
//! that already committed stays committed: a client that sees
//! DEADLINE_EXCEEDED must treat the outcome as unknown, as with any gRPC
//! deadline). A request whose deadline has passed by the time it is first
//! polled is answered without running its handler.
//!
//! **Message size.** tonic rejects a request larger than its decoding limit
//! with OUT_OF_RANGE; gRPC and the contract call that RESOURCE_EXHAUSTED. No
//! handler answers OUT_OF_RANGE, so this layer rewrites exactly that case.

use std::{
    future::{Future, poll_fn},
    pin::{Pin, pin},
    task::{Context, Poll},
    time::Duration,
};

use http::{HeaderValue, Request, Response};
use tokio::time::Instant;
use tonic::{Code, Status, body::Body};
use tower::{Layer, Service};

use super::deadline::Bound;
use crate::error::clip;

/// Wraps services in [`Edge`].
#[derive(Clone, Copy, Debug)]
pub struct EdgeLayer {
    timeout: Duration,
}

impl EdgeLayer {
    /// Requests running longer than `timeout`, or than the client's
    /// `grpc-timeout`, fail with DEADLINE_EXCEEDED.
    pub fn new(timeout: Duration) -> Self {
        EdgeLayer { timeout }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Edge {
            inner,
            timeout: self.timeout,
        }
    }
}

/// The service produced by [`EdgeLayer`].
#[derive(Clone, Debug)]
pub struct Edge<S> {
    inner: S,
    timeout: Duration,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S> Service<Request<Body>> for Edge<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Send,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let bound = Bound::of(self.timeout, request.headers());
        // Taken here, not in the future: tonic's `GrpcTimeout` starts its
        // clock only after this call returns, so this deadline is never the
        // later one (see `server::deadline`). `None`: so far off that the
        // instant overflows, which no request lives to see.
        let deadline = Instant::now().checked_add(bound.duration());
        let method = request.uri().path().to_owned();
        let response = self.inner.call(request);
        Box::pin(async move {
            let Some(deadline) = deadline else {
                return response.await.map(resource_exhausted_if_too_large);
            };
            match within(deadline, response).await {
                Some(Ok(response)) => Ok(resource_exhausted_if_too_large(response)),
                Some(Err(err)) => Err(err),
                None => {
                    // The path is the client's to choose: quoted bounded.
                    let method = clip(&method);
                    tracing::debug!(%method, ?bound, "request exceeded its deadline");
                    let status = Status::deadline_exceeded(bound.message(&method));
                    Ok(status.into_http())
                }
            }
        })
    }
}

/// Runs `work` until `deadline`: `None` if the deadline passed first.
///
/// The clock is read on every poll, before `work` is polled again: a poll
/// that happens at or after the deadline (tonic's own timer firing, say)
/// ends the request at once, even if the runtime has not yet fired this
/// future's timer. The timer only makes sure there *is* a poll at the
/// deadline when nothing else wakes the task.
async fn within<F: Future>(deadline: Instant, work: F) -> Option<F::Output> {
    let mut work = pin!(work);
    let mut timer = pin!(tokio::time::sleep_until(deadline));
    poll_fn(|cx| {
        if Instant::now() >= deadline {
            return Poll::Ready(None);
        }
        if let Poll::Ready(output) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Rewrites tonic's OUT_OF_RANGE for an oversized message to RESOURCE_EXHAUSTED.
fn resource_exhausted_if_too_large(mut response: Response<Body>) -> Response<Body> {
    let out_of_range = HeaderValue::from(Code::OutOfRange as i32);
    if response.headers().get("grpc-status") == Some(&out_of_range) {
        let code = HeaderValue::from(Code::ResourceExhausted as i32);
        response.headers_mut().insert("grpc-status", code);
    }
    response
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::ServiceExt;

    use super::*;

    fn slow(
        delay: Duration,
    ) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send> + Clone
    {
        tower::service_fn(move |_req: Request<Body>| async move {
            tokio::time::sleep(delay).await;
            Ok::<_, Infallible>(Response::new(Body::empty()))
        })
    }

    fn status_of(response: &Response<Body>) -> Option<&HeaderValue> {
        response.headers().get("grpc-status")
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_past_the_timeout_gets_deadline_exceeded() {
        let service = EdgeLayer::new(Duration::from_secs(4)).layer(slow(Duration::from_secs(5)));
        let response = service.oneshot(Request::new(Body::empty())).await.unwrap();
        let expected = HeaderValue::from(Code::DeadlineExceeded as i32);
        assert_eq!(status_of(&response), Some(&expected));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_within_the_timeout_passes_through() {
        let service = EdgeLayer::new(Duration::from_secs(4)).layer(slow(Duration::from_secs(3)));
        let response = service.oneshot(Request::new(Body::empty())).await.unwrap();
        assert_eq!(status_of(&response), None);
    }

    fn with_grpc_timeout(value: &'static str) -> Request<Body> {
        let mut request = Request::new(Body::empty());
        let value = HeaderValue::from_static(value);
        request.headers_mut().insert("grpc-timeout", value);
        request
    }

    fn message_of(response: &Response<Body>) -> String {
        let message = response.headers().get("grpc-message");
        message.map_or_else(String::new, |m| {
            String::from_utf8_lossy(m.as_bytes()).into_owned()
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_deadline_shorter_than_the_timeout_gets_deadline_exceeded() {
        let service = EdgeLayer::new(Duration::from_secs(4)).layer(slow(Duration::from_secs(2)));
        let response = service.oneshot(with_grpc_timeout("1S")).await.unwrap();
        let expected = HeaderValue::from(Code::DeadlineExceeded as i32);
        assert_eq!(status_of(&response), Some(&expected));
        assert!(message_of(&response).contains("client"), "{response:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_malformed_client_deadline_is_ignored() {
        let service = EdgeLayer::new(Duration::from_secs(4)).layer(slow(Duration::from_secs(2)));
        let response = service.oneshot(with_grpc_timeout("1s")).await.unwrap();
        assert_eq!(status_of(&response), None);
    }

    #[tokio::test]
    async fn a_request_past_its_deadline_on_arrival_never_runs_its_handler() {
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let witness = ran.clone();
        let inner = tower::service_fn(move |_req: Request<Body>| {
            let witness = witness.clone();
            async move {
                witness.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok::<_, Infallible>(Response::new(Body::empty()))
            }
        });
        let service = EdgeLayer::new(Duration::from_secs(4)).layer(inner);
        let response = service.oneshot(with_grpc_timeout("0n")).await.unwrap();
        let expected = HeaderValue::from(Code::DeadlineExceeded as i32);
        assert_eq!(status_of(&response), Some(&expected));
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }

    /// tonic 0.14's server `GrpcTimeout`, reduced to the order that matters:
    /// it reads the same header, calls the inner service and only then
    /// starts its sleep, and polls the inner future before the sleep; if the
    /// sleep wins it answers CANCELLED. hyper polls the future some time
    /// after the call, so `lag` passes in between.
    async fn behind_tonics_timer<S>(
        mut service: S,
        request: Request<Body>,
        lag: Duration,
    ) -> Response<Body>
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
    {
        let timeout = super::super::deadline::client_timeout(request.headers());
        let inner = service.call(request);
        let sleep = tokio::time::sleep(timeout.unwrap_or(Duration::MAX));
        tokio::time::advance(lag).await;
        let (mut inner, mut sleep) = (pin!(inner), pin!(sleep));
        poll_fn(|cx| {
            if let Poll::Ready(Ok(response)) = inner.as_mut().poll(cx) {
                return Poll::Ready(response);
            }
            match sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Status::cancelled("Timeout expired").into_http()),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// The edge's deadline starts in `call`, before tonic's sleep does, so
    /// it is never the later one, however late the first poll comes (a
    /// deadline taken at the first poll would lose here by `lag`).
    #[tokio::test(start_paused = true)]
    async fn the_edge_answers_before_tonics_own_timer() {
        let service = EdgeLayer::new(Duration::from_secs(4)).layer(slow(Duration::from_secs(1)));
        let request = with_grpc_timeout("10m");
        let response = behind_tonics_timer(service, request, Duration::from_millis(5)).await;
        let expected = HeaderValue::from(Code::DeadlineExceeded as i32);
        assert_eq!(status_of(&response), Some(&expected), "{response:?}");
    }

    #[tokio::test]
    async fn out_of_range_becomes_resource_exhausted() {
        let inner = tower::service_fn(|_req: Request<Body>| async {
            Ok::<_, Infallible>(Status::out_of_range("message length too large").into_http())
        });
        let service = EdgeLayer::new(Duration::from_secs(4)).layer(inner);
        let response = service.oneshot(Request::new(Body::empty())).await.unwrap();
        let expected = HeaderValue::from(Code::ResourceExhausted as i32);
        assert_eq!(status_of(&response), Some(&expected));
    }
}
