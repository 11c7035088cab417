//! Calling the other kind of node: a worker calling its masters, a master
//! calling its workers.
//!
//! A node that serves TLS and demands tokens ([`super::Security`]) is only
//! reachable by callers that speak TLS, trust the CA its certificate comes
//! from, and present a token it knows. [`Outbound`] is that caller's half,
//! loaded once at start-up from the keys of [`crate::config::OutboundTls`]
//! and a token file:
//!
//! ```text
//! worker ── master.tls.ca_file, master.token_file ──────────────▶ master (Register)
//! master ── master.workers_tls.ca_file, master.workers_token_file ─▶ workers (every call)
//! ```
//!
//! - **TLS**: calls go to `https://`, the callee's chain must end in a
//!   certificate of `ca_file`, and its certificate must name `server_name`
//!   (by default the host of the address called, so `127.0.0.1:56001`
//!   checks the IP `127.0.0.1`). A caller that has its own `grpc.tls`
//!   certificate presents it as its client certificate, which is what a
//!   callee with `grpc.tls.client_ca` (mutual TLS) asks for.
//! - **Token**: with a token file, every call carries
//!   `authorization: Bearer <token>`, replacing whatever the request had.
//!
//! Only TLS through tonic's own `ClientTlsConfig` (rustls with *ring*, the
//! stack the servers use): no second TLS library. No system roots are
//! trusted: a TLS caller trusts its `ca_file` and nothing else.
//!
//! A handshake that fails is not the same as a callee that is down: the
//! next attempt fails the same way until someone fixes a file. So
//! [`tls_failure`] tells the two apart (by the rustls error in the
//! failure's chain of causes) and callers say "TLS" in what they report.

use std::{error::Error as StdError, path::Path};

use rustls::{
    RootCertStore,
    pki_types::{CertificateDer, pem::PemObject},
};
use tonic::{
    Request, Status,
    metadata::{Ascii, MetadataValue},
    transport::{Certificate, ClientTlsConfig, Endpoint, Identity},
};

use super::tls::Tls;
use crate::config::{ConfigError, OutboundTls};

/// How this node calls the other kind of node: plaintext and no token by
/// default. Its `Debug` says whether TLS and a token are set, not what
/// they are.
#[derive(Clone, Default)]
pub struct Outbound {
    tls: Option<Trust>,
    bearer: Option<MetadataValue<Ascii>>,
}

/// The TLS half: whom to trust, which name to expect, what to present.
#[derive(Clone)]
struct Trust {
    ca: Certificate,
    server_name: Option<String>,
    identity: Option<Identity>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("tls", &self.tls.is_some())
            .field("token", &self.bearer.is_some())
            .finish()
    }
}

impl Outbound {
    /// Reads the files: the CA of `tls` (errors name `tls_key.ca_file`)
    /// and the token of `token_file` (errors name `token_key`). `own` is the
    /// node's own TLS identity, presented as a client certificate.
    pub fn load(
        tls: Option<&OutboundTls>,
        tls_key: &str,
        token_file: Option<&Path>,
        token_key: &str,
        own: Option<&Tls>,
    ) -> Result<Self, ConfigError> {
        let tls = tls
            .map(|tls| {
                let key = format!("{tls_key}.ca_file");
                Ok::<_, ConfigError>(Trust {
                    ca: read_ca(&tls.ca_file, &key)?,
                    server_name: tls.server_name.clone(),
                    identity: own.map(Tls::identity),
                })
            })
            .transpose()?;
        let bearer = token_file
            .map(|path| {
                let token = super::security::read_token(path, token_key)?;
                format!("Bearer {token}")
                    .parse()
                    .map_err(|_| ConfigError::Invalid {
                        key: token_key.to_owned(),
                        problem: format!("{} holds no usable token", path.display()),
                    })
            })
            .transpose()?;
        Ok(Outbound { tls, bearer })
    }

    /// With this token (already read) and no TLS: the worker's
    /// `cluster.token_file`, which registration used before `master.token_file`.
    pub fn or_token(mut self, token: Option<&str>) -> Self {
        if self.bearer.is_none() {
            self.bearer = token.and_then(|t| format!("Bearer {t}").parse().ok());
        }
        self
    }

    /// Whether calls speak TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The endpoint of `address` (`host:port`, or a URI): `https` with
    /// this TLS configuration, or plain `http`.
    pub fn endpoint(&self, address: &str) -> Result<Endpoint, tonic::transport::Error> {
        let uri = crate::replication::raft::uri(address, self.tls.is_some());
        let endpoint = Endpoint::from_shared(uri)?;
        match &self.tls {
            None => Ok(endpoint),
            Some(trust) => endpoint.tls_config(trust.client_config(address)),
        }
    }

    /// Puts this node's token on `request`, replacing any other.
    pub fn authorize<T>(&self, request: &mut Request<T>) {
        if let Some(bearer) = &self.bearer {
            request
                .metadata_mut()
                .insert("authorization", bearer.clone());
        }
    }
}

impl Trust {
    fn client_config(&self, address: &str) -> ClientTlsConfig {
        let name = self
            .server_name
            .clone()
            .unwrap_or_else(|| host_of(address).to_owned());
        let config = ClientTlsConfig::new()
            .ca_certificate(self.ca.clone())
            .domain_name(name);
        match &self.identity {
            Some(identity) => config.identity(identity.clone()),
            None => config,
        }
    }
}

/// The host of a `[scheme://]host:port` address, brackets of an IPv6
/// literal removed: the name its certificate must carry.
fn host_of(address: &str) -> &str {
    let bare = address.split_once("://").map_or(address, |(_, rest)| rest);
    let host = bare.rsplit_once(':').map_or(bare, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// The CA certificates in the file at `path`: at least one, each usable
/// as a trust anchor.
fn read_ca(path: &Path, key: &str) -> Result<Certificate, ConfigError> {
    let bad = |problem: String| ConfigError::Invalid {
        key: key.to_owned(),
        problem: format!("{} {problem}", path.display()),
    };
    let pem = std::fs::read(path).map_err(|err| ConfigError::Invalid {
        key: key.to_owned(),
        problem: format!("cannot read {}: {err}", path.display()),
    })?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| bad(format!("is not valid PEM ({err})")))?;
    if certificates.is_empty() {
        return Err(bad("holds no PEM certificate".into()));
    }
    let mut roots = RootCertStore::empty();
    for certificate in certificates {
        roots
            .add(certificate)
            .map_err(|err| bad(format!("holds a certificate that cannot be a CA ({err})")))?;
    }
    Ok(Certificate::from_pem(pem))
}

/// The TLS error behind a failed call, if a TLS handshake is why it
/// failed: a callee whose certificate is not trusted, names another host,
/// or that does not speak TLS at all.
pub fn tls_failure(status: &Status) -> Option<String> {
    tls_cause(status.source()?)
}

/// How rustls words an alert from the peer (`Error::AlertReceived`).
const ALERT: &str = "received fatal alert: ";

/// The rustls error in `err`'s chain of causes (`err` included), if any.
pub fn tls_cause(err: &(dyn StdError + 'static)) -> Option<String> {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(err) = cause {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            // An I/O error carries the TLS error inside, not as its source.
            if let Some(tls) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
                return Some(tls.to_string());
            }
            // An alert from the peer that breaks a call already sent (under
            // TLS 1.3 a refused client certificate is only reported after
            // the handshake) reaches hyper as text: tokio-rustls has turned
            // rustls' AlertReceived into an InvalidData error with its message.
            let text = io.to_string();
            if io.kind() == std::io::ErrorKind::InvalidData && text.starts_with(ALERT) {
                return Some(text);
            }
        }
        cause = err.source();
    }
    None
}

/// `err` and its causes, as one line: tonic's transport errors say only
/// "transport error" at the top.
pub fn describe(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(err) = cause {
        let more = err.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = err.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_an_address_is_the_name_to_check() {
        assert_eq!(host_of("127.0.0.1:56001"), "127.0.0.1");
        assert_eq!(host_of("https://db.internal:443"), "db.internal");
        assert_eq!(host_of("[::1]:5"), "::1");
    }

    #[test]
    fn a_ca_file_without_a_certificate_names_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, "not pem at all\n").unwrap();
        let tls = OutboundTls {
            ca_file: file,
            server_name: None,
        };
        let err =
            Outbound::load(Some(&tls), "master.tls", None, "master.token_file", None).unwrap_err();
        assert!(err.to_string().starts_with("master.tls.ca_file: "), "{err}");
        assert!(
            err.to_string().contains("holds no PEM certificate"),
            "{err}"
        );
    }

    #[test]
    fn the_token_replaces_the_callers_and_debug_hides_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret-token\n").unwrap();
        let outbound = Outbound::load(None, "k", Some(&file), "k.token_file", None).unwrap();
        let mut request = Request::new(());
        request
            .metadata_mut()
            .insert("authorization", "Bearer client".parse().unwrap());
        outbound.authorize(&mut request);
        assert_eq!(
            request.metadata().get("authorization").unwrap(),
            "Bearer s3cret-token"
        );
        assert!(!format!("{outbound:?}").contains("s3cret"));
        assert!(!outbound.is_tls());
    }
}
