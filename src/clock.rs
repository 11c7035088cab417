//! Time, as the store sees it.
//!
//! Every timestamp the worker hands out comes from a [`Clock`]. Production
//! uses [`SystemClock`]; tests use [`ManualClock`] and move time by hand, so
//! that "updated_at never goes backwards" or "a transaction expires after 60
//! seconds" can be tested without sleeping.
//!
//! Timestamps are nanoseconds since the Unix epoch in an `i64` ([`Timestamp`]):
//! eight bytes per field, totally ordered, and good until the year 2262.

use std::{
    fmt,
    sync::atomic::{AtomicI64, Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// A point in UTC time, in nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The earliest representable time; used as "unbounded" in ranges.
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    /// The latest representable time.
    pub const MAX: Timestamp = Timestamp(i64::MAX);

    /// A timestamp from nanoseconds since the Unix epoch.
    pub const fn from_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// The smallest timestamp strictly after this one.
    pub fn next(self) -> Self {
        Timestamp(self.0.saturating_add(1))
    }

    /// This timestamp moved forward by `duration` (saturating).
    pub fn plus(self, duration: Duration) -> Self {
        let nanos = i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(nanos))
    }

    /// The protobuf form; every `i64` of nanoseconds fits in it.
    pub fn to_proto(self) -> prost_types::Timestamp {
        prost_types::Timestamp {
            seconds: self.0.div_euclid(1_000_000_000),
            nanos: self.0.rem_euclid(1_000_000_000) as i32,
        }
    }

    /// Converts a protobuf timestamp, clamping times outside 1677..2262 to the
    /// ends of the range, and rejecting malformed nanos.
    pub fn from_proto(ts: &prost_types::Timestamp) -> Option<Self> {
        if !(0..1_000_000_000).contains(&ts.nanos) {
            return None;
        }
        let nanos = i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos);
        let clamped = nanos.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
        i64::try_from(clamped).ok().map(Timestamp)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with nanoseconds, e.g. `2026-11-28T15:56:54.123456789Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1_000_000_000);
        let nanos = self.0.rem_euclid(1_000_000_000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

/// Converts days since 1970-01-01 into a (year, month, day) of the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A source of the current time.
///
/// A trait because it is a real boundary: production reads the system clock,
/// tests need a clock they control.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Timestamp(i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX))
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug)]
pub struct ManualClock {
    nanos: AtomicI64,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            nanos: AtomicI64::new(start.0),
        }
    }

    /// Moves the clock forward (or backward, to test that the store copes).
    pub fn set(&self, to: Timestamp) {
        self.nanos.store(to.0, Ordering::SeqCst);
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let now = Timestamp(self.nanos.load(Ordering::SeqCst));
        self.set(now.plus(by));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.nanos.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_rfc3339_utc() {
        assert_eq!(
            Timestamp::from_nanos(0).to_string(),
            "1970-01-01T00:00:00.000000000Z"
        );
        // 2026-11-28T15:56:54.5Z
        let t = Timestamp::from_nanos(1_795_881_414_500_000_000);
        assert_eq!(t.to_string(), "2026-11-28T15:56:54.500000000Z");
        assert_eq!(
            Timestamp::from_nanos(-1).to_string(),
            "1969-12-31T23:59:59.999999999Z"
        );
    }

    #[test]
    fn proto_round_trip_keeps_negative_times() {
        for nanos in [0, 1, -1, 1_795_881_414_500_000_001, -5_000_000_001] {
            let t = Timestamp::from_nanos(nanos);
            assert_eq!(Timestamp::from_proto(&t.to_proto()), Some(t));
        }
    }

    #[test]
    fn proto_conversion_rejects_bad_nanos_and_clamps_far_times() {
        let bad = prost_types::Timestamp {
            seconds: 0,
            nanos: -1,
        };
        assert_eq!(Timestamp::from_proto(&bad), None);
        let far = prost_types::Timestamp {
            seconds: 253_402_300_799,
            nanos: 0,
        };
        assert_eq!(Timestamp::from_proto(&far), Some(Timestamp::MAX));
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(Timestamp::from_nanos(10));
        assert_eq!(clock.now(), Timestamp::from_nanos(10));
        clock.advance(Duration::from_nanos(5));
        assert_eq!(clock.now(), Timestamp::from_nanos(15));
    }
}
