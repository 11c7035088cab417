//! A tower layer in front of every service: the per-request deadline, and
//! the statuses tonic makes itself (an oversized or undecodable request).
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
//! (`grpc.max_request_bytes`) with OUT_OF_RANGE; gRPC and the contract call
//! that RESOURCE_EXHAUSTED. No handler answers OUT_OF_RANGE, so this layer
//! rewrites exactly that case.
//!
//! **Undecodable requests.** A request whose bytes are not its message
//! (invalid UTF-8 in a string field, a length past the end, a bad varint, a
//! frame cut short) is refused by tonic's codec with INTERNAL, as gRPC's
//! status-code guide suggests for a *server's* parse failures. But the
//! fault is the client's, and the contract never answers INTERNAL for
//! anything a client did: this layer turns those statuses into
//! INVALID_ARGUMENT naming the request message and, where prost names it,
//! the field (`name: undecodable worker.database.v1.GetDocumentRequest:
//! invalid string value: data is not UTF-8 encoded`). It recognises them by
//! tonic's own words, so an INTERNAL from a handler (a real server fault)
//! passes untouched.
//!
//! Every status this layer writes is built from an [`Error`] through the one
//! mapping of `api::status`, like the handlers' statuses.

use std::{
    future::{Future, poll_fn},
    pin::{Pin, pin},
    task::{Context, Poll},
    time::Duration,
};

use std::{collections::HashMap, sync::Arc};

use http::{Request, Response};
use tokio::time::Instant;
use tonic::{Code, Status, body::Body};
use tower::{Layer, Service};

use super::deadline::Bound;
use crate::error::{Error, Violation, clip};

/// Wraps services in [`Edge`].
#[derive(Clone, Debug)]
pub struct EdgeLayer {
    timeout: Duration,
    requests: Arc<RequestTypes>,
}

impl EdgeLayer {
    /// Requests running longer than `timeout`, or than the client's
    /// `grpc-timeout`, fail with DEADLINE_EXCEEDED.
    pub fn new(timeout: Duration) -> Self {
        EdgeLayer {
            timeout,
            requests: Arc::new(RequestTypes::of_the_worker()),
        }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Edge {
            inner,
            timeout: self.timeout,
            requests: self.requests.clone(),
        }
    }
}

/// The service produced by [`EdgeLayer`].
#[derive(Clone, Debug)]
pub struct Edge<S> {
    inner: S,
    timeout: Duration,
    requests: Arc<RequestTypes>,
}

/// The request message of every method, by path (`/pkg.Service/Method` →
/// `pkg.MethodRequest`), from the compiled descriptors.
#[derive(Debug, Default)]
struct RequestTypes(HashMap<String, String>);

impl RequestTypes {
    fn of_the_worker() -> Self {
        use prost::Message;
        let Ok(set) = prost_types::FileDescriptorSet::decode(crate::proto::FILE_DESCRIPTOR_SET)
        else {
            return RequestTypes::default();
        };
        let mut types = HashMap::new();
        for file in &set.file {
            for service in &file.service {
                for method in &service.method {
                    let path = format!("/{}.{}/{}", file.package(), service.name(), method.name());
                    let input = method.input_type().trim_start_matches('.').to_owned();
                    types.insert(path, input);
                }
            }
        }
        RequestTypes(types)
    }

    /// The request message of `method`, or "the request message" for a
    /// path that is not one of the worker's.
    fn of(&self, method: &str) -> &str {
        self.0
            .get(method)
            .map_or("the request message", String::as_str)
    }
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
        let requests = self.requests.clone();
        let response = self.inner.call(request);
        Box::pin(async move {
            let rewrite = |response| rewrite_tonic_status(response, requests.of(&method));
            let Some(deadline) = deadline else {
                return response.await.map(rewrite);
            };
            match within(deadline, response).await {
                Some(Ok(response)) => Ok(rewrite(response)),
                Some(Err(err)) => Err(err),
                None => {
                    // The path is the client's to choose: quoted bounded.
                    let method = clip(&method);
                    tracing::debug!(%method, ?bound, "request exceeded its deadline");
                    let error = Error::DeadlineExceeded(bound.message(&method));
                    Ok(Status::from(error).into_http())
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

/// Rewrites the statuses tonic makes for a request it could not read into
/// the contract's: RESOURCE_EXHAUSTED for one too large, INVALID_ARGUMENT for
/// one undecodable; `request` names the request message. Any other
/// response passes untouched.
fn rewrite_tonic_status(response: Response<Body>, request: &str) -> Response<Body> {
    let code = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(Code::from_i32);
    // The common case, OK (no header in the response head), costs one lookup.
    if !matches!(code, Some(Code::OutOfRange | Code::Internal)) {
        return response;
    }
    let Some(status) = Status::from_header_map(response.headers()) else {
        return response;
    };
    match tonic_error(&status, request) {
        Some(error) => Status::from(error).into_http(),
        None => response,
    }
}

/// The error a status of tonic's codec stands for, if it is one.
fn tonic_error(status: &Status, request: &str) -> Option<Error> {
    let message = status.message();
    if status.code() == Code::OutOfRange {
        return Some(Error::ResourceExhausted(too_large(message)));
    }
    if status.code() != Code::Internal {
        return None;
    }
    let short = request.rsplit('.').next().unwrap_or(request);
    if let Some(detail) = message.strip_prefix("failed to decode Protobuf message: ") {
        let (field, reason) = split_decode_error(detail);
        let field = if field.is_empty() {
            short.to_owned()
        } else {
            field
        };
        let description = format!("undecodable {request}: {}", clip(reason));
        return Some(Violation::new(field, description).into());
    }
    let reason = match message {
        "Unexpected EOF decoding stream." => "the body ends inside a message frame",
        "Missing request message." => "the body holds no message",
        m if m.starts_with("protocol error: received message with") => m,
        m if m.starts_with("Error decompressing") => m,
        _ => return None,
    };
    Some(Violation::new(short, format!("undecodable {request}: {}", clip(reason))).into())
}

/// prost's `Document.value: CreateDocumentRequest.document: invalid string
/// value: ...` as the field path (`document.value`) and the reason. prost
/// lists the innermost field first.
fn split_decode_error(detail: &str) -> (String, &str) {
    let mut fields = Vec::new();
    let mut rest = detail;
    while let Some((segment, tail)) = rest.split_once(": ") {
        let Some((message, field)) = segment.split_once('.') else {
            break;
        };
        let ident =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident(message) || !ident(field) {
            break;
        }
        fields.push(field);
        rest = tail;
    }
    fields.reverse();
    (fields.join("."), rest)
}

/// tonic's "Error, decoded message length too large: found N bytes, the
/// limit is: M bytes" in the contract's words.
fn too_large(message: &str) -> String {
    let numbers: Vec<&str> = message
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .collect();
    match numbers.as_slice() {
        [found, limit] => format!(
            "the request message of {found} bytes is larger than grpc.max_request_bytes ({limit})"
        ),
        _ => format!("the request message is too large: {}", clip(message)),
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http::HeaderValue;
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

    fn answering(
        status: Status,
    ) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send> + Clone
    {
        tower::service_fn(move |_req: Request<Body>| {
            let status = status.clone();
            async move { Ok::<_, Infallible>(status.into_http()) }
        })
    }

    async fn through_the_edge(status: Status, path: &str) -> Status {
        let service = EdgeLayer::new(Duration::from_secs(4)).layer(answering(status));
        let mut request = Request::new(Body::empty());
        *request.uri_mut() = path.parse().unwrap();
        let response = service.oneshot(request).await.unwrap();
        Status::from_header_map(response.headers()).unwrap()
    }

    /// An INTERNAL that a handler answers is a fault of the worker's and
    /// must reach the client as such; only tonic's codec words are rewritten.
    #[tokio::test]
    async fn a_handlers_internal_passes_and_a_codec_failure_becomes_invalid_argument() {
        let path = "/worker.database.v1.DatabaseService/GetDatabase";
        let own = through_the_edge(Status::internal("internal error: disk on fire"), path).await;
        assert_eq!(own.code(), Code::Internal);
        assert_eq!(own.message(), "internal error: disk on fire");
        let codec = Status::internal("failed to decode Protobuf message: invalid varint");
        let rewritten = through_the_edge(codec, path).await;
        assert_eq!(rewritten.code(), Code::InvalidArgument);
        assert_eq!(
            rewritten.message(),
            "invalid argument: GetDatabaseRequest: undecodable \
             worker.database.v1.GetDatabaseRequest: invalid varint"
        );
    }

    #[test]
    fn prost_lists_the_innermost_field_first() {
        let detail = "Document.value: CreateDocumentRequest.document: invalid string value: x: y";
        assert_eq!(
            split_decode_error(detail),
            ("document.value".to_owned(), "invalid string value: x: y")
        );
        assert_eq!(
            split_decode_error("invalid varint"),
            (String::new(), "invalid varint")
        );
    }

    #[test]
    fn tonics_size_message_is_told_in_the_configurations_words() {
        let message =
            "Error, decoded message length too large: found 5000 bytes, the limit is: 4096 bytes";
        assert_eq!(
            too_large(message),
            "the request message of 5000 bytes is larger than grpc.max_request_bytes (4096)"
        );
    }
}
