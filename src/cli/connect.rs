//! From the global flags to generated gRPC clients on one connection.
//!
//! Every command talks to the worker through [`Clients`]: one HTTP/2
//! connection (tonic's `Channel`, which multiplexes concurrent requests, so
//! an import's parallel transactions share it) and an interceptor that adds
//! what every request carries: the bearer token and the deadline.
//!
//! This is the one place that knows *which* API the address speaks: a
//! worker's `worker.database.v1` or a master's `master.database.v1`
//! (`--api`, found out by asking when not given: [`super::api`]).

use std::{str::FromStr, time::Duration};

use tonic::{
    Request, Status,
    metadata::AsciiMetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint},
};
use tonic_health::pb::health_client::HealthClient;

use crate::proto::{
    master::admin::admin_service_client::AdminServiceClient,
    replication::replication_service_client::ReplicationServiceClient,
};

use super::{
    api::{self, Api, Routed},
    args::Global,
    error::CliError,
};
use crate::proto::database::{
    collection_service_client::CollectionServiceClient,
    database_service_client::DatabaseServiceClient, document_service_client::DocumentServiceClient,
    transaction_service_client::TransactionServiceClient, wal_service_client::WalServiceClient,
};
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;

/// The largest response the client accepts: a page of 1,000 documents of
/// 4,096 characters (up to 4 bytes each) is ~16 MiB, beyond tonic's 4 MiB default.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// The transport of every generated client: the channel under the
/// address's package, plus [`Stamp`].
pub type Transport = InterceptedService<Routed, Stamp>;

/// The plain channel plus [`Stamp`]: what asks which API the address speaks.
pub type Stamped = InterceptedService<Channel, Stamp>;

/// What every request carries.
#[derive(Clone, Debug)]
pub struct Stamp {
    authorization: Option<AsciiMetadataValue>,
    timeout: Duration,
}

impl Interceptor for Stamp {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        // Sent as `grpc-timeout`: the worker bounds its work by it too.
        request.set_timeout(self.timeout);
        Ok(request)
    }
}

/// The generated clients, sharing one connection.
#[derive(Clone, Debug)]
pub struct Clients {
    channel: Routed,
    stamp: Stamp,
}

macro_rules! client {
    ($(#[$doc:meta])* $method:ident -> $client:ident) => {
        $(#[$doc])*
        pub fn $method(&self) -> $client<Transport> {
            $client::with_interceptor(self.channel.clone(), self.stamp.clone())
                .max_decoding_message_size(MAX_RESPONSE_BYTES)
        }
    };
}

impl Clients {
    client!(
        /// `DatabaseService`.
        databases -> DatabaseServiceClient
    );
    client!(
        /// `CollectionService`.
        collections -> CollectionServiceClient
    );
    client!(
        /// `DocumentService`.
        documents -> DocumentServiceClient
    );
    client!(
        /// `TransactionService`.
        transactions -> TransactionServiceClient
    );
    client!(
        /// `WALService`.
        wal -> WalServiceClient
    );
    client!(
        /// The standard `grpc.health.v1.Health`.
        health -> HealthClient
    );
    client!(
        /// `worker.replication.v1.ReplicationService` (replica set members).
        replication -> ReplicationServiceClient
    );
    client!(
        /// `master.admin.v1.AdminService` (masters).
        admin -> AdminServiceClient
    );
}

/// Connects as the global flags say, failing fast when the worker is not there.
pub async fn connect(global: &Global) -> Result<Clients, CliError> {
    let stamp = Stamp {
        authorization: authorization(global)?,
        timeout: global.timeout,
    };
    let channel = endpoint(global)?
        .connect()
        .await
        .map_err(|err| CliError::Connect {
            addr: global.addr.clone(),
            reason: causes(&err),
        })?;
    let master = match global.api {
        Api::Worker => false,
        Api::Master => true,
        Api::Auto => {
            let reflection =
                ServerReflectionClient::with_interceptor(channel.clone(), stamp.clone());
            api::serves_master(reflection).await
        }
    };
    Ok(Clients {
        channel: api::routed(channel, master),
        stamp,
    })
}

fn endpoint(global: &Global) -> Result<Endpoint, CliError> {
    let bad_addr = |reason: String| CliError::usage(format!("--addr {:?}: {reason}", global.addr));
    let mut endpoint = Endpoint::from_str(&global.addr)
        .map_err(|err| bad_addr(err.to_string()))?
        .connect_timeout(global.timeout)
        .tcp_nodelay(true);
    match &global.tls_ca {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|err| CliError::io(path, err))?;
            let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem));
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|err| bad_addr(causes(&err)))?;
        }
        None if global.addr.starts_with("https:") => {
            return Err(bad_addr(
                "https needs --tls-ca FILE, the CA that signed the worker's certificate".into(),
            ));
        }
        None => {}
    }
    Ok(endpoint)
}

/// `Bearer TOKEN` from --token (or DISTGO_TOKEN) or the first line of --token-file.
fn authorization(global: &Global) -> Result<Option<AsciiMetadataValue>, CliError> {
    let token = match (&global.token, &global.token_file) {
        (_, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|err| CliError::io(path, err))?;
            Some(text.lines().next().unwrap_or_default().trim().to_owned())
        }
        (Some(token), None) => Some(token.trim().to_owned()),
        (None, None) => None,
    };
    match token {
        None => Ok(None),
        Some(token) if token.is_empty() => Err(CliError::usage("the token is empty")),
        Some(token) => {
            let mut value = AsciiMetadataValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| CliError::usage("the token must not hold control characters"))?;
            value.set_sensitive(true);
            Ok(Some(value))
        }
    }
}

/// An error and its sources, `: `-joined: tonic's top-level transport
/// error alone ("transport error") says nothing a user can act on.
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::Format;

    fn global(token: Option<&str>, token_file: Option<std::path::PathBuf>) -> Global {
        Global {
            addr: "http://127.0.0.1:1".into(),
            tls_ca: None,
            token: token.map(str::to_owned),
            token_file,
            output: Format::Table,
            timeout: Duration::from_secs(1),
            api: Api::Auto,
        }
    }

    #[test]
    fn a_token_is_sent_as_a_sensitive_bearer_header() {
        let value = authorization(&global(Some(" s3cret \n"), None))
            .unwrap()
            .unwrap();
        assert_eq!(value.to_str().unwrap(), "Bearer s3cret");
        assert!(value.is_sensitive(), "never printed in debug output");
        assert!(authorization(&global(None, None)).unwrap().is_none());
    }

    #[test]
    fn a_token_file_gives_its_first_line() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, b"from-file\n# a comment\n").unwrap();
        let value = authorization(&global(None, Some(file.path().to_owned())));
        assert_eq!(
            value.unwrap().unwrap().to_str().unwrap(),
            "Bearer from-file"
        );
    }

    #[test]
    fn an_empty_or_unprintable_token_is_a_usage_error() {
        for token in ["", "  ", "a\u{1}b", "a\nb"] {
            let err = authorization(&global(Some(token), None)).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{token:?}");
        }
    }

    #[test]
    fn https_without_a_ca_is_a_usage_error() {
        let mut https = global(None, None);
        https.addr = "https://127.0.0.1:1".into();
        assert_eq!(endpoint(&https).unwrap_err().exit_code(), 2);
    }
}
