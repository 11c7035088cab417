//! Bearer tokens: who may call which method.
//!
//! With `auth.tokens_file` set, every request except the health check must
//! carry `authorization: Bearer <token>` metadata with a token from that
//! file. The file holds one token per line, optionally followed by its
//! role; blank lines and lines starting with `#` are ignored:
//!
//! ```text
//! # tokens of the worker
//! 3f9c0e7a51d24b6e8c1a   ro      # dashboards: read only
//! 8b2d4f6a0c1e3a5b7d9f           # applications: rw, the default
//! c0ffee0ddba11f00d000   admin   # operators: TruncateWAL, cluster calls
//! ```
//!
//! | role | may call |
//! |---|---|
//! | `ro` | List*, Get*, ListWALEntries, reflection |
//! | `rw` | everything `ro` may, and Create*, Update*, Delete*, Begin, Execute, Commit, Rollback |
//! | `admin` | everything, also TruncateWAL and ForgetConnection |
//!
//! Transactions are writes as a whole, Begin included: a read-only token
//! has no use for a transaction, and refusing Begin spares it a transaction
//! that could never commit. Health (`grpc.health.v1.Health`) stays open, so
//! a load balancer can probe the worker without a secret. The table of
//! methods and roles is [`METHODS`](super::methods::METHODS), shared with
//! routing, in one place; a test checks it names every method the worker
//! serves.
//!
//! Without `auth.tokens_file`, nobody is asked for a token: TruncateWAL is as
//! open as every other method, as it has always been. That suits a worker
//! on a laptop or behind a gateway that authenticates, and nothing else.
//!
//! ## Answers
//!
//! - no `authorization` metadata, a value that is not `Bearer <token>`, or an
//!   unknown token: UNAUTHENTICATED;
//! - a known token whose role is below the method's: PERMISSION_DENIED.
//!
//! Both go through the one error mapping (`api::status`), are answered
//! before the request's message is even decoded, and are logged at `warn`
//! with the method and the peer's address, never with the token.
//!
//! ## Comparing tokens
//!
//! The file's tokens are kept as SHA-256 digests, and a presented token is
//! hashed and compared with *every* digest using `subtle`'s constant-time
//! equality, without stopping at a match. So the time a check takes does
//! not depend on how many leading bytes of a guess were right, nor on which
//! entry matched, nor (the digests being of equal length) on the length of
//! the real tokens.
//!
//! ## Reloading
//!
//! On SIGHUP the worker reads the file again ([`Auth::reload`]). The new set
//! applies to every request that starts after it, on existing connections
//! too: no connection is dropped. A file that has become unreadable or
//! invalid is logged and ignored: the old tokens stay in force.

use std::{
    future::Future,
    path::{Path, PathBuf},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{HeaderMap, Request, Response};
use parking_lot::RwLock;
use ring::digest::{SHA256, digest};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use tonic::{Status, body::Body, transport::server::TcpConnectInfo};
use tower::{Layer, Service};

use crate::{config::ConfigError, error::Error};

/// What a token may do; each role includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// `ro`: reads only.
    Read = 1,
    /// `rw`, the default: reads and writes.
    Write = 2,
    /// `admin`: also the calls that manage the worker.
    Admin = 3,
}

impl Role {
    fn parse(word: &str) -> Option<Role> {
        match word {
            "ro" => Some(Role::Read),
            "rw" => Some(Role::Write),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// The role's name in the tokens file.
    pub fn name(self) -> &'static str {
        match self {
            Role::Read => "ro",
            Role::Write => "rw",
            Role::Admin => "admin",
        }
    }
}

/// Who may call a method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, with or without a token (health).
    Open,
    /// A token with at least this role.
    Needs(Role),
}

/// The package of the health service, which needs no token.
const HEALTH: &str = "/grpc.health.v1.Health/";

/// The access rule of the request path `/package.Service/Method`.
pub fn access(path: &str) -> Access {
    if path.starts_with(HEALTH) {
        return Access::Open;
    }
    // Anything else not in the table (reflection, a method that does not
    // exist) needs `ro`: a caller without a token cannot even learn which
    // methods exist.
    let role = super::methods::lookup(path).map(|method| method.role);
    Access::Needs(role.unwrap_or(Role::Read))
}

/// One token of the file, as its digest.
#[derive(Clone, Debug)]
struct Entry {
    digest: [u8; 32],
    role: Role,
}

/// The tokens of one reading of the file.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    entries: Vec<Entry>,
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

impl Tokens {
    /// Parses the text of a tokens file. An error names the line, never the
    /// token on it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut entries: Vec<Entry> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            // A `#` word starts a comment, at the start of a line or after.
            let words: Vec<&str> = line
                .split_whitespace()
                .take_while(|w| !w.starts_with('#'))
                .collect();
            let (token, role) = match words.as_slice() {
                [] => continue,
                [token] => (*token, Role::Write),
                [token, role] => {
                    let role = Role::parse(role).ok_or_else(|| {
                        format!("line {number}: unknown role {role:?}, expected ro, rw or admin")
                    })?;
                    (*token, role)
                }
                _ => return Err(format!("line {number}: expected `TOKEN [ro|rw|admin]`")),
            };
            if !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!(
                    "line {number}: a token must be printable ASCII (it travels in a header)"
                ));
            }
            let digest = sha256(token.as_bytes());
            if entries.iter().any(|e| e.digest == digest) {
                return Err(format!("line {number}: a token listed twice"));
            }
            entries.push(Entry { digest, role });
        }
        if entries.is_empty() {
            return Err("holds no token".to_owned());
        }
        Ok(Tokens { entries })
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none (never, for a parsed file).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The role of `presented`, if it is one of the tokens; in time that
    /// depends only on the number of tokens.
    pub fn role_of(&self, presented: &[u8]) -> Option<Role> {
        let digest = sha256(presented);
        let mut role = 0u8;
        for entry in &self.entries {
            let hit = entry.digest.ct_eq(&digest);
            role.conditional_assign(&(entry.role as u8), hit);
        }
        match role {
            1 => Some(Role::Read),
            2 => Some(Role::Write),
            3 => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The tokens in force and the file they come from: shared by every
/// connection, replaced as a whole on reload.
#[derive(Debug)]
pub struct Auth {
    path: PathBuf,
    tokens: RwLock<Arc<Tokens>>,
}

impl Auth {
    /// Reads `auth.tokens_file` at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Ok(Auth {
            path: path.to_owned(),
            tokens: RwLock::new(Arc::new(read(path)?)),
        })
    }

    /// Tokens from memory, not tied to a file (tests); reload re-reads nothing.
    pub fn from_tokens(tokens: Tokens) -> Self {
        Auth {
            path: PathBuf::new(),
            tokens: RwLock::new(Arc::new(tokens)),
        }
    }

    /// Reads the file again; on success the new tokens replace the old ones
    /// for every later request, on failure the old ones stay. Returns the
    /// number of tokens now in force.
    pub fn reload(&self) -> Result<usize, ConfigError> {
        let tokens = read(&self.path)?;
        let count = tokens.len();
        *self.tokens.write() = Arc::new(tokens);
        Ok(count)
    }

    /// The tokens in force.
    pub fn tokens(&self) -> Arc<Tokens> {
        self.tokens.read().clone()
    }

    /// The answer to a request for `path` with `headers`: `Ok` to serve it.
    pub fn check(&self, path: &str, headers: &HeaderMap) -> Result<(), Refusal> {
        let Access::Needs(needed) = access(path) else {
            return Ok(());
        };
        let presented = bearer(headers)?;
        let role = self
            .tokens()
            .role_of(presented)
            .ok_or(Refusal::UnknownToken)?;
        if role < needed {
            return Err(Refusal::Role { needed, role });
        }
        Ok(())
    }
}

fn read(path: &Path) -> Result<Tokens, ConfigError> {
    let invalid = |problem: String| ConfigError::Invalid {
        key: "auth.tokens_file".to_owned(),
        problem,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|err| invalid(format!("cannot read {}: {err}", path.display())))?;
    Tokens::parse(&text).map_err(|problem| invalid(format!("{}: {problem}", path.display())))
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No `authorization` metadata.
    Missing,
    /// `authorization` is not `Bearer <token>`.
    Malformed,
    /// The token is not in the file.
    UnknownToken,
    /// The token's role is below the method's.
    Role {
        /// What the method needs.
        needed: Role,
        /// What the token has.
        role: Role,
    },
}

impl Refusal {
    /// The error a client sees; `method` is the request's path.
    pub fn error(self, method: &str) -> Error {
        let method = crate::error::clip(method);
        match self {
            Refusal::Missing => Error::Unauthenticated(format!(
                "{method} needs `authorization: Bearer <token>` metadata"
            )),
            Refusal::Malformed => Error::Unauthenticated(
                "the authorization metadata is not `Bearer <token>`".to_owned(),
            ),
            Refusal::UnknownToken => {
                Error::Unauthenticated("the bearer token is not valid".to_owned())
            }
            Refusal::Role { needed, role } => Error::PermissionDenied(format!(
                "{method} needs a token with the {} role; this token's role is {}",
                needed.name(),
                role.name()
            )),
        }
    }
}

/// The token of `authorization: Bearer <token>`; the scheme is
/// case-insensitive (RFC 7235).
fn bearer(headers: &HeaderMap) -> Result<&[u8], Refusal> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or(Refusal::Missing)?;
    let bytes = value.as_bytes();
    let (scheme, token) = bytes.split_at_checked(7).ok_or(Refusal::Malformed)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") || token.is_empty() {
        return Err(Refusal::Malformed);
    }
    Ok(token)
}

/// Puts [`AuthService`] in front of a service; with `None`, nothing is checked.
#[derive(Clone, Debug, Default)]
pub struct AuthLayer {
    auth: Option<Arc<Auth>>,
}

impl AuthLayer {
    /// Checks every request against `auth`, or none when it is `None`.
    pub fn new(auth: Option<Arc<Auth>>) -> Self {
        AuthLayer { auth }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// The service produced by [`AuthLayer`].
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    auth: Option<Arc<Auth>>,
}

impl<S> Service<Request<Body>> for AuthService<S>
where
    S: Service<Request<Body>, Response = Response<Body>>,
    S::Future: Unpin,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = AuthFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let Some(auth) = &self.auth else {
            return AuthFuture::Allowed(self.inner.call(request));
        };
        let path = request.uri().path();
        match auth.check(path, request.headers()) {
            Ok(()) => AuthFuture::Allowed(self.inner.call(request)),
            Err(refusal) => {
                let peer = request
                    .extensions()
                    .get::<TcpConnectInfo>()
                    .and_then(TcpConnectInfo::remote_addr);
                let method = crate::error::clip(path);
                tracing::warn!(%method, ?peer, ?refusal, "request refused");
                let status = Status::from(refusal.error(path));
                AuthFuture::Refused(Some(status.into_http()))
            }
        }
    }
}

/// The future of [`AuthService`]: the inner service's, or a refusal that is
/// ready at once, so a request that is let through pays no extra box.
#[derive(Debug)]
pub enum AuthFuture<F> {
    /// The request was let through.
    Allowed(F),
    /// The request was refused; `None` once the response is taken.
    Refused(Option<Response<Body>>),
}

impl<F, E> Future for AuthFuture<F>
where
    F: Future<Output = Result<Response<Body>, E>> + Unpin,
{
    type Output = Result<Response<Body>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut *self {
            AuthFuture::Allowed(inner) => Pin::new(inner).poll(cx),
            AuthFuture::Refused(response) => Poll::Ready(Ok(response
                .take()
                .unwrap_or_else(|| Response::new(Body::empty())))),
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn a_tokens_file_has_comments_blank_lines_and_optional_roles() {
        let tokens = Tokens::parse(
            "# header\n\n  reader ro\nwriter\nwriter2 rw # trailing comment\nboss admin\n#off ro\n",
        )
        .unwrap();
        assert_eq!(tokens.len(), 4);
        assert_eq!(tokens.role_of(b"reader"), Some(Role::Read));
        assert_eq!(tokens.role_of(b"writer"), Some(Role::Write));
        assert_eq!(tokens.role_of(b"writer2"), Some(Role::Write));
        assert_eq!(tokens.role_of(b"boss"), Some(Role::Admin));
        assert_eq!(tokens.role_of(b"#off"), None);
        assert_eq!(tokens.role_of(b"reade"), None);
        assert_eq!(tokens.role_of(b""), None);
    }

    #[test]
    fn a_bad_line_is_named_by_its_number_and_never_quotes_the_token() {
        let cases = [
            (
                "a ro\nsecret-1 superuser\n",
                "line 2: unknown role \"superuser\", expected ro, rw or admin",
            ),
            (
                "secret-1 ro extra\n",
                "line 1: expected `TOKEN [ro|rw|admin]`",
            ),
            ("secret-1\nsecret-1 ro\n", "line 2: a token listed twice"),
            ("# nothing\n\n", "holds no token"),
        ];
        for (text, expected) in cases {
            let err = Tokens::parse(text).unwrap_err();
            assert_eq!(err, expected, "{text:?}");
            assert!(!err.contains("secret"), "{err}");
        }
    }

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn the_scheme_is_case_insensitive_and_must_be_bearer() {
        assert_eq!(bearer(&headers("Bearer abc")), Ok(&b"abc"[..]));
        assert_eq!(bearer(&headers("bearer abc")), Ok(&b"abc"[..]));
        assert_eq!(bearer(&headers("Basic abc")), Err(Refusal::Malformed));
        assert_eq!(bearer(&headers("Bearer ")), Err(Refusal::Malformed));
        assert_eq!(bearer(&headers("Bear")), Err(Refusal::Malformed));
        assert_eq!(bearer(&HeaderMap::new()), Err(Refusal::Missing));
    }

    #[test]
    fn health_is_open_unknown_paths_need_a_reader_and_roles_are_ordered() {
        assert_eq!(access("/grpc.health.v1.Health/Check"), Access::Open);
        assert_eq!(access("/grpc.health.v1.Health/Watch"), Access::Open);
        let reflection = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
        assert_eq!(access(reflection), Access::Needs(Role::Read));
        assert_eq!(access("/no.Such/Method"), Access::Needs(Role::Read));
        assert_eq!(access("garbage"), Access::Needs(Role::Read));
        let auth = Auth::from_tokens(Tokens::parse("r ro\nw rw\na admin\n").unwrap());
        let truncate = "/worker.database.v1.WALService/TruncateWAL";
        for (token, allowed) in [("r", false), ("w", false), ("a", true)] {
            let result = auth.check(truncate, &headers(&format!("Bearer {token}")));
            assert_eq!(result.is_ok(), allowed, "{token}: {result:?}");
        }
        let create = "/worker.database.v1.DocumentService/CreateDocument";
        let denied = auth.check(create, &headers("Bearer r")).unwrap_err();
        assert_eq!(
            denied,
            Refusal::Role {
                needed: Role::Write,
                role: Role::Read
            }
        );
    }

    #[test]
    fn a_refusal_says_what_is_missing_without_the_token() {
        let method = "/worker.database.v1.DatabaseService/CreateDatabase";
        let role = Refusal::Role {
            needed: Role::Write,
            role: Role::Read,
        }
        .error(method);
        assert_eq!(
            role.to_string(),
            "permission denied: /worker.database.v1.DatabaseService/CreateDatabase needs a \
             token with the rw role; this token's role is ro"
        );
        assert!(matches!(
            Refusal::UnknownToken.error(method),
            Error::Unauthenticated(_)
        ));
        assert!(matches!(
            Refusal::Missing.error(method),
            Error::Unauthenticated(_)
        ));
    }
}
