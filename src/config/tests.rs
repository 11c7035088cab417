use std::{fs, path::Path};

use super::*;

#[test]
fn the_embedded_default_is_the_contract_example() {
    let config = Config::embedded_default().unwrap();
    assert_eq!(config.name, "worker_1");
    assert_eq!(config.grpc.port, 55055);
    assert_eq!(config.grpc.timeout, Duration::from_secs(4));
    assert_eq!(config.grpc.host, "0.0.0.0".parse::<IpAddr>().unwrap());
    assert_eq!(config.logging.level, LogLevel::Info);
    assert_eq!(config.logging.format, LogFormat::Pretty);
    assert_eq!(config.logging.output, LogOutput::Stdout);
}

#[test]
fn only_the_name_is_required() {
    let config = Config::from_yaml("name: w\n").unwrap();
    assert_eq!(config.grpc.port, 55055);
    assert_eq!(config.logging.level, LogLevel::Info);
}

#[test]
fn every_setting_is_read() {
    let yaml = "name: w\ngrpc:\n  host: 127.0.0.1\n  port: 0\n  timeout: 1m30s\n\
                logging:\n  level: debug\n  format: json\n  output: /tmp/w.log\n";
    let config = Config::from_yaml(yaml).unwrap();
    assert_eq!(config.grpc.host, "127.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(config.grpc.port, 0);
    assert_eq!(config.grpc.timeout, Duration::from_secs(90));
    assert_eq!(config.logging.level, LogLevel::Debug);
    assert_eq!(config.logging.format, LogFormat::Json);
    assert_eq!(config.logging.output, LogOutput::File("/tmp/w.log".into()));
}

#[test]
fn durations_accept_the_usual_units() {
    for (text, expected) in [
        ("500ms", Duration::from_millis(500)),
        ("4s", Duration::from_secs(4)),
        ("1m", Duration::from_secs(60)),
        ("2h", Duration::from_secs(7200)),
    ] {
        assert_eq!(parse_duration(text, "k"), Ok(expected), "{text}");
    }
    for bad in ["", "4", "4x", "-1s", "0s", "s"] {
        assert!(parse_duration(bad, "k").is_err(), "{bad:?}");
    }
}

/// Every file in `fixtures/configs/bad/` starts with `# expect: MESSAGE`; the
/// error must be exactly that one line. Every mismatch is listed, not just
/// the first, so one run shows what a change of wording touched.
#[test]
fn every_bad_config_fails_with_its_message() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/configs/bad");
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = fs::read_to_string(&path).unwrap();
        let expected = text
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} lacks an `# expect:` line", path.display()));
        let err = first_error(&text).expect_err(&path.display().to_string());
        if err.to_string() != expected {
            mismatches.push(format!(
                "{}:\n  expected {expected}\n  got      {err}",
                path.display()
            ));
        }
        assert!(!err.to_string().contains('\n'), "one line: {err}");
        checked += 1;
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert!(checked >= 10, "only {checked} bad configs");
}

/// What stops a worker from starting with `text`: a bad key or value, or
/// (once those are fine) a file that one names and that cannot be used.
/// Relative paths are relative to the package's root, where tests run.
fn first_error(text: &str) -> Result<(), ConfigError> {
    let config = Config::from_yaml(text)?;
    crate::server::Security::load(&config).map(drop)
}

#[test]
fn the_wal_section_is_optional_and_read_in_full() {
    let config = Config::from_yaml("name: w\n").unwrap();
    assert_eq!(config.wal, WalConfig::default());
    assert_eq!(config.wal.path, None, "memory only by default");
    assert_eq!(config.wal.sync, SyncPolicy::Always);
    assert_eq!(config.wal.sync_interval, Duration::from_millis(100));
    assert_eq!(config.wal.snapshot_bytes, 64 << 20);
    assert_eq!(config.wal.history_bytes, 64 << 20);
    let yaml = "name: w\nwal:\n  path: /var/lib/w\n  sync: interval\n  \
                sync_interval: 250ms\n  snapshot_bytes: 4096\n  history_bytes: 512\n";
    let config = Config::from_yaml(yaml).unwrap();
    assert_eq!(config.wal.path, Some(PathBuf::from("/var/lib/w")));
    assert_eq!(config.wal.sync, SyncPolicy::Interval);
    assert_eq!(config.wal.sync_interval, Duration::from_millis(250));
    assert_eq!(config.wal.snapshot_bytes, 4096);
    assert_eq!(config.wal.history_bytes, 512);
}

#[test]
fn transaction_bounds_are_read_and_default_to_the_contract() {
    let config = Config::from_yaml("name: w\n").unwrap();
    assert_eq!(config.transactions, crate::txn::Limits::default());
    let yaml = "name: w\ntransactions:\n  ttl: 2s\n  max_operations: 3\n  max_open: 4\n";
    let limits = Config::from_yaml(yaml).unwrap().transactions;
    assert_eq!(
        (limits.ttl, limits.max_operations, limits.max_open),
        (Duration::from_secs(2), 3, 4)
    );
}

#[test]
fn connection_limits_have_defaults_and_are_read_in_full() {
    let config = Config::from_yaml("name: w\n").unwrap();
    assert_eq!(config.grpc.max_request_bytes, 4 << 20);
    assert_eq!(config.grpc.limits, ConnectionLimits::default());
    let limits = config.grpc.limits;
    assert_eq!(limits.max_connections, None, "derived from the file limit");
    assert_eq!(limits.max_concurrent_streams, 200);
    assert_eq!(limits.keepalive_interval, Duration::from_secs(60));
    assert_eq!(limits.keepalive_timeout, Duration::from_secs(20));
    assert_eq!(limits.idle_timeout, Duration::from_secs(300));
    assert_eq!(limits.handshake_timeout, Duration::from_secs(10));
    let yaml = "name: w\ngrpc:\n  max_request_bytes: 1024\n  max_connections: 50\n  \
                max_concurrent_streams: 8\n  keepalive_interval: 5s\n  keepalive_timeout: 1s\n  \
                idle_timeout: 30s\n  handshake_timeout: 2s\n";
    let grpc = Config::from_yaml(yaml).unwrap().grpc;
    assert_eq!(grpc.max_request_bytes, 1024);
    assert_eq!(
        grpc.limits,
        ConnectionLimits {
            max_connections: Some(50),
            max_concurrent_streams: 8,
            keepalive_interval: Duration::from_secs(5),
            keepalive_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(2),
        }
    );
}

#[test]
fn tls_and_auth_are_off_unless_their_sections_are_given() {
    let config = Config::from_yaml("name: w\n").unwrap();
    assert_eq!(config.grpc.tls, None);
    assert_eq!(config.auth.tokens_file, None);
    let yaml = "name: w\ngrpc:\n  tls:\n    cert: /c.pem\n    key: /k.pem\n    client_ca: /ca.pem\n\
                auth:\n  tokens_file: /tokens\n";
    let config = Config::from_yaml(yaml).unwrap();
    assert_eq!(
        config.grpc.tls,
        Some(TlsFiles {
            cert: "/c.pem".into(),
            key: "/k.pem".into(),
            client_ca: Some("/ca.pem".into()),
        })
    );
    assert_eq!(config.auth.tokens_file, Some(PathBuf::from("/tokens")));
}

#[test]
fn metrics_are_off_without_a_port_and_bind_the_grpc_host_by_default() {
    assert_eq!(Config::from_yaml("name: w\n").unwrap().metrics, None);
    assert_eq!(
        Config::from_yaml("name: w\nmetrics: {}\n").unwrap().metrics,
        None
    );
    let yaml = "name: w\ngrpc:\n  host: 127.0.0.1\nmetrics:\n  port: 9464\n";
    let metrics = Config::from_yaml(yaml).unwrap().metrics.unwrap();
    assert_eq!(metrics.host, "127.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(metrics.port, 9464);
    let yaml = "name: w\nmetrics:\n  port: 0\n  host: \"::1\"\n";
    let metrics = Config::from_yaml(yaml).unwrap().metrics.unwrap();
    assert_eq!(metrics.host, "::1".parse::<IpAddr>().unwrap());
}
