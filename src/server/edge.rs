//! A tower layer in front of every service: the per-request deadline, and
//! the status of an oversized request.
//!
//! **Deadline.** `grpc.timeout` bounds every request. tonic's own server
//! timeout answers CANCELLED when it fires; the contract says
//! DEADLINE_EXCEEDED, so the worker enforces the bound itself, here, in one
//! place for every method. When it fires, the handler's future is dropped,
//! which cancels the work (a write that already committed stays committed:
//! a client that sees DEADLINE_EXCEEDED must treat the outcome as unknown,
//! as with any gRPC deadline).
//!
//! **Message size.** tonic rejects a request larger than its decoding limit
//! with OUT_OF_RANGE; gRPC and the contract call that RESOURCE_EXHAUSTED. No
//! handler answers OUT_OF_RANGE, so this layer rewrites exactly that case.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use http::{HeaderValue, Request, Response};
use tonic::{Code, Status, body::Body};
use tower::{Layer, Service};

/// Wraps services in [`Edge`].
#[derive(Clone, Copy, Debug)]
pub struct EdgeLayer {
    timeout: Duration,
}

impl EdgeLayer {
    /// Requests running longer than `timeout` fail with DEADLINE_EXCEEDED.
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
        let timeout = self.timeout;
        let method = request.uri().path().to_owned();
        let response = self.inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout(timeout, response).await {
                Ok(Ok(response)) => Ok(resource_exhausted_if_too_large(response)),
                Ok(Err(err)) => Err(err),
                Err(_) => {
                    tracing::debug!(method, ?timeout, "request exceeded grpc.timeout");
                    let status = Status::deadline_exceeded(format!(
                        "{method} took longer than the worker's grpc.timeout of {timeout:?}"
                    ));
                    Ok(status.into_http())
                }
            }
        })
    }
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
