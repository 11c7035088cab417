//! TLS: the worker's identity and, with mutual TLS, its clients'.
//!
//! A worker with `grpc.tls.cert` and `grpc.tls.key` speaks gRPC over TLS
//! only: a plaintext client's bytes are not a TLS ClientHello, the
//! handshake fails and the connection is closed. With `grpc.tls.client_ca`
//! too, the handshake also demands a client certificate signed by that CA
//! (mutual TLS): a client without one never reaches a handler.
//!
//! ```text
//! PEM files ──Tls::load──▶ Tls ──server_config()──▶ rustls::ServerConfig  (accept loop)
//!                              └─client_config()──▶ tonic ClientTlsConfig (calls to other nodes)
//! ```
//!
//! Both halves come from the same files on purpose: a node that calls
//! another node (replication, the master) presents its own certificate as a
//! client certificate, which is what the peer's `client_ca` expects, and
//! trusts the CA that signs its peers. The files are checked once, when the
//! worker starts: a certificate file that holds no certificate, a key that
//! does not belong to the certificate, a CA file that is not a CA's
//! certificate, each stops the worker with exit code 2 and the key at fault,
//! before anything is bound, instead of failing every handshake later.
//!
//! rustls with the *ring* provider, so no C toolchain is needed to build
//! the worker; ALPN offers `h2`, which gRPC clients require.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use rustls::{
    RootCertStore, ServerConfig,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::WebPkiClientVerifier,
};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use crate::config::{ConfigError, TlsFiles};

/// The worker's TLS material, checked: ready to accept connections and to
/// make them. Its `Debug` leaves the private key out.
#[derive(Clone)]
pub struct Tls {
    server: Arc<ServerConfig>,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    /// The PEM of the CA that peers' certificates come from, for the client half.
    peer_ca_pem: Vec<u8>,
    mutual: bool,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("mutual", &self.mutual)
            .field("cert_pem_bytes", &self.cert_pem.len())
            .finish_non_exhaustive()
    }
}

/// One of the TLS PEM inputs: what it is called in the configuration and
/// where it came from, for error messages.
struct Source<'a> {
    key: &'static str,
    origin: &'a Path,
}

impl Source<'_> {
    fn error(&self, problem: impl std::fmt::Display) -> ConfigError {
        ConfigError::Invalid {
            key: self.key.to_owned(),
            problem: format!("{}: {problem}", self.origin.display()),
        }
    }
}

impl Tls {
    /// Reads and checks the files of `grpc.tls.*`.
    pub fn load(files: &TlsFiles) -> Result<Self, ConfigError> {
        let read = |key: &'static str, path: &PathBuf| {
            std::fs::read(path).map_err(|err| ConfigError::Invalid {
                key: key.to_owned(),
                problem: format!("cannot read {}: {err}", path.display()),
            })
        };
        let cert = read("grpc.tls.cert", &files.cert)?;
        let key = read("grpc.tls.key", &files.key)?;
        let client_ca = match &files.client_ca {
            Some(path) => Some((read("grpc.tls.client_ca", path)?, path.as_path())),
            None => None,
        };
        Self::build(
            (&cert, &files.cert),
            (&key, &files.key),
            client_ca
                .as_ref()
                .map(|(pem, path)| (pem.as_slice(), *path)),
        )
    }

    /// The same checks on PEM text in memory (tests, and tools that hold
    /// certificates without files); errors name `grpc.tls.*` and `<memory>`.
    pub fn from_pem(
        cert: &[u8],
        key: &[u8],
        client_ca: Option<&[u8]>,
    ) -> Result<Self, ConfigError> {
        let memory = Path::new("<memory>");
        Self::build(
            (cert, memory),
            (key, memory),
            client_ca.map(|ca| (ca, memory)),
        )
    }

    fn build(
        (cert_pem, cert_path): (&[u8], &Path),
        (key_pem, key_path): (&[u8], &Path),
        client_ca: Option<(&[u8], &Path)>,
    ) -> Result<Self, ConfigError> {
        let cert_source = Source {
            key: "grpc.tls.cert",
            origin: cert_path,
        };
        let key_source = Source {
            key: "grpc.tls.key",
            origin: key_path,
        };
        let chain = certificates(cert_pem, &cert_source)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|err| match err {
            rustls::pki_types::pem::Error::NoItemsFound => {
                key_source.error("holds no PEM private key")
            }
            err => key_source.error(format!("is not a valid PEM private key ({err})")),
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|err| cert_source.error(err))?;
        let (builder, peer_ca_pem, mutual) = match client_ca {
            Some((ca_pem, ca_path)) => {
                let source = Source {
                    key: "grpc.tls.client_ca",
                    origin: ca_path,
                };
                let verifier = client_verifier(ca_pem, &source, &provider)?;
                (
                    builder.with_client_cert_verifier(verifier),
                    ca_pem.to_vec(),
                    true,
                )
            }
            None => {
                // Without a cluster CA, peers are trusted if their chain ends
                // where this node's does: its issuer when the file carries
                // it, or itself when self-signed.
                let last = chain
                    .last()
                    .map(|der| der.as_ref().to_vec())
                    .unwrap_or_default();
                let pem = pem_of_certificate(&last);
                (builder.with_no_client_auth(), pem, false)
            }
        };
        let mut server = builder
            .with_single_cert(chain, key)
            .map_err(|err| match err {
                rustls::Error::InconsistentKeys(_) => key_source.error(format!(
                    "is not the private key of the certificate in {}",
                    cert_path.display()
                )),
                err => key_source.error(format!("cannot be used with its certificate: {err}")),
            })?;
        server.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Tls {
            server: Arc::new(server),
            cert_pem: cert_pem.to_vec(),
            key_pem: key_pem.to_vec(),
            peer_ca_pem,
            mutual,
        })
    }

    /// The server half: what the accept loop hands each new connection.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.server.clone()
    }

    /// Whether clients must present a certificate (`grpc.tls.client_ca`).
    pub fn is_mutual(&self) -> bool {
        self.mutual
    }

    /// This node's certificate and key, presented as a client certificate
    /// when it calls a node that demands one ([`super::outbound`]).
    pub fn identity(&self) -> Identity {
        Identity::from_pem(&self.cert_pem, &self.key_pem)
    }

    /// The client half, for calls this node makes to other nodes: it
    /// presents this node's certificate and trusts `grpc.tls.client_ca` (the
    /// CA of the cluster), or, without one, the last certificate of this
    /// node's own chain. `domain` is the name the peer's certificate must
    /// carry (`127.0.0.1`, `worker-2.db.internal`).
    pub fn client_config(&self, domain: &str) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .domain_name(domain)
            .ca_certificate(Certificate::from_pem(&self.peer_ca_pem))
            .identity(Identity::from_pem(&self.cert_pem, &self.key_pem))
    }
}

/// Every certificate in `pem`, in order; at least one.
fn certificates(
    pem: &[u8],
    source: &Source<'_>,
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| source.error(format!("is not valid PEM ({err})")))?;
    if chain.is_empty() {
        return Err(source.error("holds no PEM certificate"));
    }
    Ok(chain)
}

/// A verifier that accepts only client certificates signed by the CAs in `pem`.
fn client_verifier(
    pem: &[u8],
    source: &Source<'_>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, ConfigError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(pem, source)? {
        roots.add(cert).map_err(|err| {
            source.error(format!("holds a certificate that cannot be a CA ({err})"))
        })?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|err| source.error(err))
}

/// DER back to PEM, for tonic's client configuration, which takes PEM.
fn pem_of_certificate(der: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem.into_bytes()
}
