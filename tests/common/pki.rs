//! Certificates made at run time: a CA, identities it signs, and the files a
//! worker's `grpc.tls.*` keys point at. No private key is ever committed.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// A certificate authority.
pub struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate and its private key, as PEM.
#[derive(Clone)]
pub struct Issued {
    pub cert: String,
    pub key: String,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// An identity for `names` (IP addresses or DNS names), good for both
    /// ends of a connection, as a node's certificate is.
    pub fn issue(&self, names: &[&str]) -> Issued {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Issued {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

/// The files of one worker's TLS setup, in a temporary directory.
pub struct TlsFiles {
    pub dir: tempfile::TempDir,
    pub ca: Ca,
    pub server: Issued,
}

impl TlsFiles {
    /// A CA and a certificate for 127.0.0.1 signed by it, written out.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("distgo test CA");
        let server = ca.issue(&["127.0.0.1"]);
        let files = TlsFiles { dir, ca, server };
        std::fs::write(files.path("ca.pem"), files.ca.pem()).unwrap();
        std::fs::write(files.path("server.pem"), &files.server.cert).unwrap();
        std::fs::write(files.path("server.key"), &files.server.key).unwrap();
        files
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The `grpc.tls` section (under `grpc:`), with `client_ca` when `mutual`.
    pub fn yaml(&self, mutual: bool) -> String {
        let mut yaml = format!(
            "  tls:\n    cert: {}\n    key: {}\n",
            quoted(&self.path("server.pem")),
            quoted(&self.path("server.key"))
        );
        if mutual {
            yaml += &format!("    client_ca: {}\n", quoted(&self.path("ca.pem")));
        }
        yaml
    }

    /// A client that trusts the CA, without a certificate of its own.
    pub fn client(&self) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(self.ca.pem()))
            .domain_name("127.0.0.1")
    }

    /// A client that trusts the CA and presents `identity`.
    pub fn client_with(&self, identity: &Issued) -> ClientTlsConfig {
        self.client()
            .identity(Identity::from_pem(&identity.cert, &identity.key))
    }
}

fn quoted(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}
