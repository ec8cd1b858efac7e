//! How long one partition's renewals wait after a renewal failed for an
//! outage (FLT-04): what the provider asked (`Retry-After`), else a wait
//! that doubles from a few seconds to about a minute, with jitter so that
//! users whose renewals failed together do not all come back together.
//! The result is stored in the partition, so every instance sharing the
//! token cache waits too.

use std::time::{Duration, SystemTime};

use crate::cache::RenewalBackoff;

/// The first wait after a failure (before jitter).
const FIRST_WAIT: Duration = Duration::from_secs(4);
/// The longest wait (before jitter).
const MAX_WAIT: Duration = Duration::from_secs(60);
/// The longest `Retry-After` believed for one partition.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// Jitter: the wait is scaled by a factor in `1 ± JITTER`.
const JITTER: f64 = 0.25;

/// The back-off after one more failure at `now`, following `previous`
/// (the failures since the last renewal that worked: a success clears it,
/// so a wait that has run out still counts); `retry_after` is what the
/// provider asked.
pub(crate) fn after_failure(previous: Option<RenewalBackoff>, retry_after: Option<Duration>, now: SystemTime) -> RenewalBackoff {
    let failures = previous.map_or(0, |previous| previous.failures).saturating_add(1);
    let wait = match retry_after {
        // As asked, and a little more: every partition told the same does not return at once.
        Some(asked) => asked.min(MAX_RETRY_AFTER).mul_f64(1.0 + rand::random::<f64>() * JITTER / 2.0),
        None => {
            let doubled = FIRST_WAIT.saturating_mul(1 << (failures - 1).min(10)).min(MAX_WAIT);
            doubled.mul_f64(1.0 - JITTER + rand::random::<f64>() * 2.0 * JITTER)
        }
    };
    RenewalBackoff { failures, not_before: now + wait }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(backoff: RenewalBackoff, now: SystemTime) -> Duration {
        backoff.not_before.duration_since(now).unwrap()
    }

    #[test]
    fn flt_04_the_wait_grows_from_seconds_to_about_a_minute_with_jitter() {
        let now = SystemTime::now();
        let mut backoff = None;
        let mut waits = Vec::new();
        for _ in 0..8 {
            let next = after_failure(backoff, None, now);
            waits.push(wait(next, now));
            backoff = Some(next);
        }
        assert!(waits[0] >= Duration::from_secs(3) && waits[0] <= Duration::from_secs(5), "{waits:?}");
        assert!(waits[1] >= Duration::from_secs(6) && waits[1] <= Duration::from_secs(10), "{waits:?}");
        for late in &waits[5..] {
            assert!(*late >= Duration::from_secs(45) && *late <= Duration::from_secs(75), "{waits:?}");
        }
        assert_eq!(backoff.unwrap().failures, 8);
    }

    #[test]
    fn flt_04_retry_after_is_honoured_and_bounded() {
        let now = SystemTime::now();
        let asked = wait(after_failure(None, Some(Duration::from_secs(20)), now), now);
        assert!(asked >= Duration::from_secs(20) && asked <= Duration::from_secs(23), "{asked:?}");
        let capped = wait(after_failure(None, Some(Duration::from_secs(86_400)), now), now);
        assert!(capped <= MAX_RETRY_AFTER.mul_f64(1.0 + JITTER), "{capped:?}");
    }

    #[test]
    fn flt_04_jitter_spreads_partitions_that_failed_together() {
        let now = SystemTime::now();
        let waits: std::collections::BTreeSet<_> = (0..20).map(|_| wait(after_failure(None, None, now), now)).collect();
        assert!(waits.len() > 10, "{waits:?}");
    }
}
