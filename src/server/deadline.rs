//! The deadline of one request: the worker's `grpc.timeout` or the client's
//! `grpc-timeout` header, whichever ends first.
//!
//! A gRPC client states its deadline as a relative timeout in the
//! `grpc-timeout` request header: 1 to 8 ASCII digits and a unit, `H`ours,
//! `M`inutes, `S`econds, `m`illis, `u` (micros) or `n`anos, e.g. `250m`
//! (see gRPC's PROTOCOL-HTTP2.md). The contract answers an expired deadline
//! with DEADLINE_EXCEEDED, whoever set it.
//!
//! ## Why the header is parsed exactly as tonic parses it
//!
//! (Since the worker serves connections itself (`server::limits`), tonic's
//! `Server` and its timer no longer run in front of it, so the race below
//! cannot happen in the worker as built. The reasoning stays, and the
//! parser still agrees with tonic's, because the edge must stay correct
//! when it is mounted behind tonic's `Server`, as it was until then and as
//! any user of [`EdgeLayer`](super::EdgeLayer) may mount it.)
//!
//! tonic's server runs its own timer for the same header (`GrpcTimeout`, in
//! `tonic::transport::server`), and when that timer wins it answers CANCELLED
//! "Timeout expired". That layer sits *outside* every layer a
//! `Server::builder().layer(..)` can add, so it has read the header before
//! the worker sees the request: removing or rewriting the header here comes
//! too late, and its CANCELLED is made outside the worker's reach, so it
//! cannot be rewritten either. What the worker can do is make sure its own
//! deadline always ends first, and that is a matter of two facts:
//!
//! 1. *The same duration.* [`client_timeout`] accepts exactly what tonic
//!    0.14 accepts and yields the same duration (including tonic's quirks: a
//!    leading `+` parses, as `u64::from_str` allows it). A value tonic
//!    refuses is ignored by both, so a malformed header means "no client
//!    deadline", never an error: a bad header should not fail a request that
//!    tonic itself would have served. Were the worker stricter, tonic's timer
//!    would be the only one running and CANCELLED would come back.
//! 2. *An earlier start.* The edge takes `Instant::now()` in its
//!    `Service::call`, which tonic's `GrpcTimeout::call` invokes before it
//!    starts its own sleep, so the worker's deadline is never later than
//!    tonic's.
//!
//! Together: whenever tonic's timer has fired, the clock has passed the
//! worker's deadline too. tonic polls the inner service before looking at its
//! timer, and the edge compares the clock with its deadline on every poll
//! (it does not wait for its own timer to be fired by the runtime, which
//! could lag by a tick), so it answers DEADLINE_EXCEEDED in that very poll
//! and tonic never gets to answer. No race: the outcome follows from the
//! order of two calls, not from which timer the runtime fires first.

use std::time::Duration;

use http::HeaderMap;

/// The request header in which a gRPC client sends its timeout.
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

/// The most digits the gRPC spec allows in a timeout (and tonic accepts);
/// it also keeps every conversion below far from overflow.
const MAX_DIGITS: usize = 8;

/// The client's timeout from the `grpc-timeout` header: `None` when absent or
/// malformed, exactly when tonic's server ignores it too.
///
/// Total: any header value a client can send gives `Some` or `None`, never a
/// panic.
pub fn client_timeout(headers: &HeaderMap) -> Option<Duration> {
    // tonic reads the first value only; so does this.
    let text = headers.get(GRPC_TIMEOUT)?.to_str().ok()?;
    // `to_str` admits visible ASCII only, so the last byte is a whole
    // character; `split_at_checked` would refuse anything else, not panic.
    let (value, unit) = text.split_at_checked(text.len().checked_sub(1)?)?;
    if value.len() > MAX_DIGITS {
        return None;
    }
    let value: u64 = value.parse().ok()?;
    // At most 99 999 999 of any unit: no multiplication can overflow.
    match unit {
        "H" => Some(Duration::from_secs(value * 60 * 60)),
        "M" => Some(Duration::from_secs(value * 60)),
        "S" => Some(Duration::from_secs(value)),
        "m" => Some(Duration::from_millis(value)),
        "u" => Some(Duration::from_micros(value)),
        "n" => Some(Duration::from_nanos(value)),
        _ => None,
    }
}

/// Which bound a request's deadline comes from, for the message that reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// The worker's `grpc.timeout`.
    Worker(Duration),
    /// The client's `grpc-timeout`.
    Client(Duration),
}

impl Bound {
    /// The shorter of the worker's `timeout` and the client's, if it sent one.
    /// On a tie the worker's is named: the client would have met it anyway.
    pub fn of(timeout: Duration, headers: &HeaderMap) -> Self {
        match client_timeout(headers) {
            Some(client) if client < timeout => Bound::Client(client),
            _ => Bound::Worker(timeout),
        }
    }

    /// How long the request may run.
    pub fn duration(self) -> Duration {
        match self {
            Bound::Worker(d) | Bound::Client(d) => d,
        }
    }

    /// What DEADLINE_EXCEEDED says about a request to `method`.
    pub fn message(self, method: &str) -> String {
        match self {
            Bound::Worker(d) => {
                format!("{method} took longer than the worker's grpc.timeout of {d:?}")
            }
            Bound::Client(d) => format!("{method} ran past the client's deadline of {d:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    fn parse(value: &[u8]) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert(GRPC_TIMEOUT, HeaderValue::from_bytes(value).ok()?);
        client_timeout(&headers)
    }

    #[test]
    fn every_unit_of_the_grpc_spec() {
        let cases = [
            ("3H", Duration::from_secs(3 * 3600)),
            ("1M", Duration::from_secs(60)),
            ("42S", Duration::from_secs(42)),
            ("13m", Duration::from_millis(13)),
            ("2u", Duration::from_micros(2)),
            ("1n", Duration::from_nanos(1)),
            ("0S", Duration::ZERO),
            ("00000250m", Duration::from_millis(250)),
            ("99999999H", Duration::from_secs(99_999_999 * 3600)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text.as_bytes()), Some(expected), "{text}");
        }
    }

    /// The values tonic 0.14 ignores are ignored here too, and the one it
    /// accepts beyond the spec (`+5S`) is accepted: the two must agree, or
    /// tonic's CANCELLED could win.
    #[test]
    fn agrees_with_tonic_on_malformed_values() {
        for ignored in [
            "",
            "S",
            "5",
            "5s",
            "5 S",
            " 5S",
            "-5S",
            "5.0S",
            "123456789H",
            "oneH",
            "5SS",
            "é5S",
            "\u{7f}5S",
        ] {
            assert_eq!(parse(ignored.as_bytes()), None, "{ignored:?}");
        }
        assert_eq!(parse(b"+5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse(b"\xff5S"), None);
    }

    #[test]
    fn an_absent_header_is_no_deadline() {
        assert_eq!(client_timeout(&HeaderMap::new()), None);
    }

    #[test]
    fn the_shorter_bound_wins_and_a_tie_names_the_worker() {
        let mut headers = HeaderMap::new();
        let worker = Duration::from_secs(4);
        assert_eq!(Bound::of(worker, &headers), Bound::Worker(worker));
        headers.insert(GRPC_TIMEOUT, HeaderValue::from_static("250m"));
        let client = Duration::from_millis(250);
        assert_eq!(Bound::of(worker, &headers), Bound::Client(client));
        assert_eq!(Bound::of(client, &headers), Bound::Worker(client));
        headers.insert(GRPC_TIMEOUT, HeaderValue::from_static("1H"));
        assert_eq!(Bound::of(worker, &headers), Bound::Worker(worker));
    }

    proptest! {
        #[test]
        fn any_header_value_parses_or_is_ignored(value in proptest::collection::vec(any::<u8>(), 0..24)) {
            let _ = parse(&value);
        }

        #[test]
        fn any_digits_and_unit_parse_like_tonic(digits in "[0-9+]{0,10}", unit in "[HMSmunx]") {
            let text = format!("{digits}{unit}");
            let tonic_accepts = digits.len() <= MAX_DIGITS
                && digits.parse::<u64>().is_ok()
                && unit != "x";
            prop_assert_eq!(parse(text.as_bytes()).is_some(), tonic_accepts);
        }
    }
}
