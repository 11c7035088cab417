//! A worker's log, read by the harness: the line that says where it
//! listens, and tails a person can read when a test fails.
//!
//! The worker logs JSON lines (`logging.format: json`), one object per
//! event: `{"timestamp":…,"level":"INFO","fields":{"message":…,…}}`. JSON
//! because the harness must *parse* one of them, the `distgo worker
//! listening` line, for the address the OS gave (`grpc.port: 0`); text
//! meant for people is not a format to parse. For people, the tail of a
//! failed test's log is rendered back into one short line per event.

use std::{fs::File, net::SocketAddr, path::Path};

use super::config::{LOG_FILE, STDERR_FILE};

/// The `address` of a `distgo worker listening` (or, for a master,
/// `distgo master listening`) JSON log line.
pub fn listening_address(line: &str) -> Option<SocketAddr> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = value.get("fields")?;
    let message = fields.get("message")?.as_str()?;
    if message != "distgo worker listening" && message != "distgo master listening" {
        return None;
    }
    fields.get("address")?.as_str()?.parse().ok()
}

/// The text of `path` after `offset` bytes; empty if unreadable.
pub fn read_from(path: &Path, offset: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let mut text = String::new();
    if let Ok(mut file) = File::open(path)
        && file.seek(SeekFrom::Start(offset)).is_ok()
    {
        let mut bytes = Vec::new();
        let _ = file.read_to_end(&mut bytes);
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    text
}

fn tail(text: &str, lines: usize) -> impl Iterator<Item = &str> {
    let all: Vec<&str> = text.lines().collect();
    let skip = all.len().saturating_sub(lines);
    all.into_iter().skip(skip)
}

/// A JSON log line as `time LEVEL message key=value ...`; other lines as is.
fn readable_line(line: &str) -> String {
    let Ok(serde_json::Value::Object(value)) = serde_json::from_str::<serde_json::Value>(line)
    else {
        return line.to_owned();
    };
    let text = |key: &str| value.get(key).and_then(|v| v.as_str()).unwrap_or("");
    let mut out = format!("{} {:5}", text("timestamp"), text("level"));
    if let Some(serde_json::Value::Object(fields)) = value.get("fields") {
        if let Some(message) = fields.get("message").and_then(|v| v.as_str()) {
            out.push(' ');
            out.push_str(message);
        }
        for (key, field) in fields.iter().filter(|(key, _)| *key != "message") {
            match field.as_str() {
                Some(text) => out.push_str(&format!(" {key}={text}")),
                None => out.push_str(&format!(" {key}={field}")),
            }
        }
    }
    out
}

/// The last `lines` of the JSON log in `dir` (made readable) and of its
/// standard error, headed by the worker's `name`.
pub fn tail_of(name: &str, dir: &Path, lines: usize) -> String {
    let log = read_from(&dir.join(LOG_FILE), 0);
    let readable: Vec<String> = tail(&log, lines).map(readable_line).collect();
    let mut text = format!(
        "--- {name} log ({}), last {} lines ---\n{}",
        dir.join(LOG_FILE).display(),
        readable.len(),
        readable.join("\n")
    );
    let stderr = read_from(&dir.join(STDERR_FILE), 0);
    if !stderr.trim().is_empty() {
        let stderr: Vec<&str> = tail(&stderr, lines).collect();
        text.push_str(&format!("\n--- {name} stderr ---\n{}", stderr.join("\n")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listening_line_gives_the_bound_address() {
        let line = r#"{"timestamp":"t","level":"INFO","fields":{"message":"distgo worker listening","node":"n","address":"127.0.0.1:4242"}}"#;
        assert_eq!(
            listening_address(line),
            Some(SocketAddr::from(([127, 0, 0, 1], 4242)))
        );
        let other = r#"{"fields":{"message":"shutting down","address":"127.0.0.1:1"}}"#;
        assert_eq!(listening_address(other), None);
        assert_eq!(listening_address("not json"), None);
    }

    #[test]
    fn a_json_log_line_reads_as_one_short_line() {
        let line = r#"{"timestamp":"12:00","level":"WARN","fields":{"message":"slow","ms":12}}"#;
        assert_eq!(readable_line(line), "12:00 WARN  slow ms=12");
    }
}
