//! Points in time on the command line: `2026-12-01T10:00:00Z`, `now`, `10m`.
//!
//! `wal list --since` and `wal truncate --before` take an RFC 3339
//! timestamp, `now`, or an age, read as "that long ago" (`90s`, `10m`,
//! `2h`, `1day`), the way people say "the last ten minutes".

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost_types::Timestamp;

use super::error::CliError;

/// Parses a TIME argument against the current clock.
pub fn parse(text: &str) -> Result<Timestamp, CliError> {
    parse_at(text, SystemTime::now())
}

/// Parses a TIME argument; ages count back from `now`.
pub fn parse_at(text: &str, now: SystemTime) -> Result<Timestamp, CliError> {
    let text = text.trim();
    if text == "now" {
        return Ok(timestamp(now));
    }
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts);
    }
    match humantime::parse_duration(text) {
        Ok(age) => Ok(timestamp(now.checked_sub(age).unwrap_or(UNIX_EPOCH))),
        Err(_) => Err(CliError::usage(format!(
            "{text:?} is not a time: expected RFC 3339 (2026-12-01T10:00:00Z), `now`, or an age (10m)"
        ))),
    }
}

/// A system time as a protobuf timestamp.
pub fn timestamp(time: SystemTime) -> Timestamp {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    Timestamp {
        seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_now_and_ages() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = |text| parse_at(text, now).unwrap().seconds;
        assert_eq!(at("1970-01-01T00:01:40Z"), 100);
        assert_eq!(at("now"), 1_000_000);
        assert_eq!(at("10m"), 1_000_000 - 600);
        assert_eq!(parse_at("yesterday-ish", now).unwrap_err().exit_code(), 2);
    }
}
