//! Per-account call budgets over sliding windows of simulated time, as Meta's business-use-case limits work:
//! every call counts, failed ones too, except those refused for being over the limit (otherwise a client that
//! keeps retrying would never regain access).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// Which budget a call is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Bucket {
    /// Replies to posts, reels and everything but Live.
    Hour,
    /// Replies to Live comments.
    Live,
    /// Public replies to comments (`POST` and `GET /{comment_id}/replies`), against the account's Business Use
    /// Case budget.
    PublicReplies,
    /// Messages to a person (the Send API, `recipient.id`).
    SendApi,
}

/// What the usage headers report after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    /// Percent of the budget used, 0..=100.
    pub percent: u32,
    /// Minutes until a throttled account may call again; 0 when not throttled.
    pub regain_minutes: u32,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    pub calls: u32,
    pub window: Duration,
}

#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    calls: HashMap<(String, Bucket), VecDeque<DateTime<Utc>>>,
}

impl RateLimiter {
    /// Counts a call at `now`, or refuses it (`Err`) when the window is already full.
    pub fn call(
        &mut self,
        ig_id: &str,
        bucket: Bucket,
        limit: Limit,
        now: DateTime<Utc>,
    ) -> Result<Usage, Usage> {
        let window = TimeDelta::from_std(limit.window).unwrap_or(TimeDelta::MAX);
        let calls = self.calls.entry((ig_id.to_owned(), bucket)).or_default();
        while calls.front().is_some_and(|t| *t + window <= now) {
            calls.pop_front();
        }
        let used = u32::try_from(calls.len()).unwrap_or(u32::MAX);
        if used >= limit.calls {
            let regain = calls
                .front()
                .map_or(TimeDelta::zero(), |t| *t + window - now);
            return Err(Usage {
                percent: 100,
                regain_minutes: ceil_minutes(regain),
            });
        }
        calls.push_back(now);
        Ok(Usage {
            percent: percent(used + 1, limit.calls),
            regain_minutes: 0,
        })
    }
}

fn percent(used: u32, limit: u32) -> u32 {
    if limit == 0 {
        return 100;
    }
    u32::try_from(u64::from(used) * 100 / u64::from(limit))
        .unwrap_or(100)
        .min(100)
}

fn ceil_minutes(d: TimeDelta) -> u32 {
    let ms = d.num_milliseconds().max(0);
    u32::try_from((ms + 59_999) / 60_000).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(calls: u32, secs: u64) -> Limit {
        Limit {
            calls,
            window: Duration::from_secs(secs),
        }
    }

    #[test]
    fn calls_beyond_the_limit_are_refused_until_the_window_slides() {
        let mut r = RateLimiter::default();
        let t0 = Utc::now();
        for _ in 0..3 {
            assert!(r.call("a", Bucket::Hour, limit(3, 3600), t0).is_ok());
        }
        let refused = r.call(
            "a",
            Bucket::Hour,
            limit(3, 3600),
            t0 + TimeDelta::minutes(10),
        );
        assert_eq!(
            refused,
            Err(Usage {
                percent: 100,
                regain_minutes: 50
            })
        );
        let later = t0 + TimeDelta::hours(1);
        assert!(r.call("a", Bucket::Hour, limit(3, 3600), later).is_ok());
    }

    #[test]
    fn accounts_and_buckets_have_separate_budgets() {
        let mut r = RateLimiter::default();
        let t0 = Utc::now();
        assert!(r.call("a", Bucket::Hour, limit(1, 60), t0).is_ok());
        assert!(r.call("a", Bucket::Live, limit(1, 60), t0).is_ok());
        assert!(r.call("b", Bucket::Hour, limit(1, 60), t0).is_ok());
        assert!(r.call("a", Bucket::Hour, limit(1, 60), t0).is_err());
    }

    #[test]
    fn usage_is_reported_in_percent_of_the_budget() {
        let mut r = RateLimiter::default();
        let usage = r.call("a", Bucket::Hour, limit(750, 3600), Utc::now());
        assert_eq!(
            usage,
            Ok(Usage {
                percent: 0,
                regain_minutes: 0
            })
        );
        let mut r = RateLimiter::default();
        let usage = r.call("a", Bucket::Hour, limit(4, 3600), Utc::now());
        assert_eq!(usage.map(|u| u.percent), Ok(25));
    }
}
