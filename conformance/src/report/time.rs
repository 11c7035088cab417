//! Timestamps as a reader wants them: RFC 3339 in UTC with nanoseconds.
//!
//! A failure that prints `Timestamp { seconds: -62135596800, nanos: 0 }`
//! hides that the worker sent year 1, the zero value of many languages'
//! time types; `0001-01-01T00:00:00.000000000Z (year 1: a zero timestamp)`
//! says it. An absent timestamp prints `(unset)`.

use std::fmt;

use prost_types::Timestamp;

/// Seconds from 1970 to 0001-01-01T00:00:00Z: the zero `time.Time` of Go
/// and `DateTime.MinValue` of .NET, as a protobuf Timestamp.
const YEAR_ONE: i64 = -62_135_596_800;

/// `ts` in RFC 3339 with nanoseconds, `(unset)`, or year 1 named as such.
pub fn rfc3339(ts: Option<&Timestamp>) -> String {
    let Some(ts) = ts else {
        return "(unset)".to_owned();
    };
    let days = ts.seconds.div_euclid(86_400);
    let secs = ts.seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let text = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        ts.nanos.clamp(0, 999_999_999)
    );
    if ts.seconds == YEAR_ONE && ts.nanos == 0 {
        format!("{text} (year 1: a zero timestamp)")
    } else {
        text
    }
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard
/// Hinnant's `civil_from_days`), for any year.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Debug-prints as [`rfc3339`], for resources compared with `{:?}`.
pub struct Rfc3339<'a>(pub Option<&'a Timestamp>);

impl fmt::Debug for Rfc3339<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&rfc3339(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(seconds: i64, nanos: i32) -> Option<Timestamp> {
        Some(Timestamp { seconds, nanos })
    }

    #[test]
    fn timestamps_print_in_rfc3339_with_nanoseconds() {
        assert_eq!(rfc3339(ts(0, 0).as_ref()), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339(ts(1_767_225_600, 5).as_ref()),
            "2026-01-01T00:00:00.000000005Z"
        );
        assert_eq!(
            rfc3339(ts(951_782_400 + 86_399, 0).as_ref()),
            "2000-02-29T23:59:59.000000000Z"
        );
        assert_eq!(
            rfc3339(ts(YEAR_ONE, 0).as_ref()),
            "0001-01-01T00:00:00.000000000Z (year 1: a zero timestamp)"
        );
        assert_eq!(rfc3339(None), "(unset)");
    }
}
