//! When to try a comment again. Exponential backoff with full jitter (a uniformly random delay up to
//! `base * 2^(attempt-1)`, capped), so that a burst of failures does not come back as a burst; never before
//! Meta says access is regained; and never after the last moment a retry can still be sent before the
//! comment's reply deadline. Pure functions over an explicit `now` and random fraction, so they are tested
//! exactly.

use chrono::{DateTime, Duration as TimeDelta, DurationRound, Utc};
use reply_core::meta::PauseKind;
use std::time::Duration;

/// The shortest delay before a retry.
pub const MIN_DELAY: Duration = Duration::from_secs(1);
/// Time left before the expiry margin for the sweep (which runs every minute or so) to requeue a retry and a
/// replier to send it.
pub const DEADLINE_SLACK: Duration = Duration::from_secs(120);
/// A blocked account (`368`) without a stated regain time is left alone for at least this long.
pub const BLOCKED_MIN_PAUSE: Duration = Duration::from_secs(15 * 60);
/// Rate-limited comments spread over at most this much of the next window.
pub const WINDOW_JITTER_MAX: Duration = Duration::from_secs(30);

/// `base * 2^(attempt-1)`, at most `max`; attempt 0 counts as 1.
pub fn backoff_ceiling(attempt: u32, base: Duration, max: Duration) -> Duration {
    let doublings = attempt.saturating_sub(1);
    if doublings >= 31 {
        return max;
    }
    base.checked_mul(1u32 << doublings)
        .map_or(max, |d| d.min(max))
}

/// A delay uniformly spread over `[0, ceiling)` by `fraction` (in `[0, 1)`), but at least [`MIN_DELAY`].
pub fn full_jitter(ceiling: Duration, fraction: f64) -> Duration {
    ceiling.mul_f64(fraction.clamp(0.0, 1.0)).max(MIN_DELAY)
}

/// The last moment a retry may be scheduled for a comment with this reply deadline.
pub fn latest_retry(reply_deadline: DateTime<Utc>, expiry_margin: Duration) -> DateTime<Utc> {
    reply_deadline - delta(expiry_margin) - delta(DEADLINE_SLACK)
}

/// `wanted`, but not before `not_before` and not after `latest`, rounded up to a whole second (the stored
/// format). `None` when `latest` has passed: there is no time left to retry.
pub fn schedule(
    now: DateTime<Utc>,
    wanted: DateTime<Utc>,
    not_before: Option<DateTime<Utc>>,
    latest: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if latest <= now {
        return None;
    }
    let at = not_before.map_or(wanted, |t| wanted.max(t)).min(latest);
    Some(ceil_to_second(at.max(now)))
}

/// The retry time after a transient failure of attempt number `attempt`.
pub fn retry_at(
    now: DateTime<Utc>,
    attempt: u32,
    base: Duration,
    max: Duration,
    regain_after: Option<Duration>,
    latest: DateTime<Utc>,
    fraction: f64,
) -> Option<DateTime<Utc>> {
    let delay = full_jitter(backoff_ceiling(attempt, base, max), fraction);
    schedule(
        now,
        now + delta(delay),
        regain_after.map(|r| now + delta(r)),
        latest,
    )
}

/// Until when an account is paused after Meta throttled (`613`, `80002`) or blocked (`368`) it: Meta's regain
/// estimate when it gives one, else at least one backoff step `base` (throttled) or `blocked`
/// (`BLOCKED_PAUSE_SECS`, [`BLOCKED_MIN_PAUSE`] by default).
pub fn pause_until(
    now: DateTime<Utc>,
    kind: PauseKind,
    regain_after: Option<Duration>,
    base: Duration,
    blocked: Duration,
) -> DateTime<Utc> {
    let floor = match kind {
        PauseKind::Throttled => base,
        PauseKind::Blocked => blocked,
    };
    ceil_to_second(now + delta(regain_after.unwrap_or_default().max(floor)))
}

/// Jitter after the start of the next window: up to a tenth of the window, at most [`WINDOW_JITTER_MAX`].
pub fn window_jitter(window: Duration, fraction: f64) -> Duration {
    (window / 10)
        .min(WINDOW_JITTER_MAX)
        .mul_f64(fraction.clamp(0.0, 1.0))
}

pub fn ceil_to_second(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = t.duration_trunc(TimeDelta::seconds(1)).unwrap_or(t);
    if floor == t {
        t
    } else {
        floor + TimeDelta::seconds(1)
    }
}

pub(crate) fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_secs(60);
    const MAX: Duration = Duration::from_secs(21_600);

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + secs, 0).unwrap_or_default()
    }

    #[test]
    fn the_backoff_ceiling_doubles_from_the_base_up_to_the_cap() {
        let ceilings: Vec<u64> = (0..=10)
            .map(|a| backoff_ceiling(a, BASE, MAX).as_secs())
            .collect();
        assert_eq!(
            ceilings,
            [60, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600]
        );
        assert_eq!(backoff_ceiling(u32::MAX, BASE, MAX), MAX);
    }

    #[test]
    fn full_jitter_spreads_over_the_whole_range_but_waits_at_least_a_second() {
        let ceiling = Duration::from_secs(480);
        assert_eq!(full_jitter(ceiling, 0.0), MIN_DELAY);
        assert_eq!(full_jitter(ceiling, 0.5), Duration::from_secs(240));
        assert_eq!(full_jitter(ceiling, 0.999_999), ceiling.mul_f64(0.999_999));
        assert!(full_jitter(ceiling, 1.5) <= ceiling);
    }

    #[test]
    fn random_retries_stay_within_their_bounds() {
        let now = t(0);
        let latest = t(10 * 24 * 3600);
        for attempt in 1..12 {
            for _ in 0..200 {
                let at = retry_at(now, attempt, BASE, MAX, None, latest, rand::random::<f64>())
                    .unwrap_or(now);
                let waited = (at - now).num_seconds();
                let ceiling =
                    i64::try_from(backoff_ceiling(attempt, BASE, MAX).as_secs()).unwrap_or(0);
                assert!(
                    (1..=ceiling).contains(&waited),
                    "attempt {attempt}: {waited}s"
                );
            }
        }
    }

    #[test]
    fn a_retry_is_never_earlier_than_metas_regain_estimate() {
        let at = retry_at(
            t(0),
            1,
            BASE,
            MAX,
            Some(Duration::from_secs(600)),
            t(86_400),
            0.0,
        );
        assert_eq!(at, Some(t(600)));
    }

    #[test]
    fn a_retry_is_clamped_to_happen_before_the_deadline_or_not_at_all() {
        let deadline = t(3600);
        let latest = latest_retry(deadline, Duration::from_secs(600));
        assert_eq!(latest, t(3600 - 600 - 120));
        // Meta asks for an hour, but only 48 minutes remain: retry at the last useful moment.
        let at = retry_at(
            t(0),
            9,
            BASE,
            MAX,
            Some(Duration::from_secs(3600)),
            latest,
            0.9,
        );
        assert_eq!(at, Some(latest));
        assert_eq!(retry_at(latest, 1, BASE, MAX, None, latest, 0.5), None);
    }

    #[test]
    fn scheduled_times_are_rounded_up_to_whole_seconds() {
        let now = t(0) + TimeDelta::milliseconds(250);
        assert_eq!(schedule(now, now, None, t(100)), Some(t(1)));
        assert_eq!(ceil_to_second(t(5)), t(5));
    }

    #[test]
    fn pauses_follow_metas_estimate_with_a_floor_per_kind() {
        assert_eq!(
            pause_until(t(0), PauseKind::Throttled, None, BASE, BLOCKED_MIN_PAUSE),
            t(60)
        );
        assert_eq!(
            pause_until(
                t(0),
                PauseKind::Throttled,
                Some(Duration::from_secs(420)),
                BASE,
                BLOCKED_MIN_PAUSE
            ),
            t(420)
        );
        assert_eq!(
            pause_until(t(0), PauseKind::Blocked, None, BASE, BLOCKED_MIN_PAUSE),
            t(900)
        );
        assert_eq!(
            pause_until(
                t(0),
                PauseKind::Blocked,
                Some(Duration::from_secs(7200)),
                BASE,
                BLOCKED_MIN_PAUSE
            ),
            t(7200)
        );
        let short = Duration::from_secs(5);
        assert_eq!(
            pause_until(t(0), PauseKind::Blocked, None, BASE, short),
            t(5)
        );
    }

    #[test]
    fn window_jitter_is_a_tenth_of_the_window_at_most_30_seconds() {
        assert_eq!(
            window_jitter(Duration::from_secs(3600), 0.999),
            Duration::from_secs(30).mul_f64(0.999)
        );
        assert_eq!(
            window_jitter(Duration::from_secs(10), 0.5),
            Duration::from_millis(500)
        );
        assert_eq!(window_jitter(Duration::from_secs(1), 0.0), Duration::ZERO);
    }
}
