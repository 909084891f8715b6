//! Rate-budget arithmetic: Meta's per-account limits slide (750 calls in *any* hour), so a budget window `W` is
//! counted in `k` epoch-aligned slots of `W/k`, and a call in slot `i` is granted only if slots `i-k ..= i`
//! (which cover every sliding window ending in slot `i`) stay within the limit. At least `k/(k+1)` of the limit
//! stays usable. Pure functions; the account table's adapter ([`crate::accounts`]) stores the counters.

use chrono::{DateTime, Utc};
use std::time::Duration;

/// How long a budget counter outlives the last window it counts in.
pub const COUNTER_TTL_AFTER_WINDOW: Duration = Duration::from_secs(3600);

/// How many slots a budget window of `window` is counted in: 12 for windows of a minute or more, 4 for
/// shorter ones. More slots waste less of the budget (at least `k/(k+1)` of it is usable) but cost more reads.
pub fn budget_slots(window: Duration) -> u32 {
    if window >= Duration::from_secs(60) {
        12
    } else {
        4
    }
}

/// The slot `now` falls in, for a budget window of `window` split into [`budget_slots`] slots aligned to the
/// epoch: `(slot length in milliseconds, slot index)`. The slot length is rounded up, so that `k` slots always
/// cover a whole window.
pub fn budget_slot(now: DateTime<Utc>, window: Duration) -> (i64, i64) {
    let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1);
    let k = i64::from(budget_slots(window));
    let slot_ms = ((window_ms + k - 1) / k).max(1);
    (slot_ms, now.timestamp_millis().div_euclid(slot_ms))
}

/// When slot `index` (of `slot_ms` milliseconds) starts.
pub fn slot_start(index: i64, slot_ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(index.saturating_mul(slot_ms))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// How many slots after the current one the first call can be granted, given the calls of the `k` slots
/// before the current one and of the current one (`calls`, oldest first, `k + 1` values) and no further
/// calls: the first `d ≥ 1` for which the slots still inside the window of slot `current + d` hold fewer than
/// `limit` calls. At most `k + 1`, when the current slot alone is full.
pub fn slots_until_grant(calls: &[u64], limit: u32) -> i64 {
    let k = calls.len().saturating_sub(1);
    (1..=k)
        .find(|&d| calls[d..].iter().sum::<u64>() < u64::from(limit))
        .map_or(
            i64::try_from(k).unwrap_or(i64::MAX).saturating_add(1),
            |d| i64::try_from(d).unwrap_or(i64::MAX),
        )
}

/// Calls leased at once at most: a batch's worth of one account's comments.
pub const MOST_LEASED: u32 = 25;

/// How many calls to lease when `want` comments of an account are about to be sent and the slot has `room`.
pub fn lease_size(want: u32, room: i64) -> u32 {
    let room = u32::try_from(room.max(1)).unwrap_or(u32::MAX);
    want.clamp(1, MOST_LEASED).min(room)
}

/// The time between two turns of an account's queue: the window shared by the calls a sliding window really
/// grants (`k/(k+1)` of the limit, see the module header), so that turns never come faster than calls free up.
pub fn turn_gap(budget: crate::config::Budget) -> chrono::TimeDelta {
    let k = u64::from(budget_slots(budget.window));
    let usable = (u64::from(budget.limit) * k / (k + 1)).max(1);
    let gap_ms = u64::try_from(budget.window.as_millis()).unwrap_or(u64::MAX) / usable;
    chrono::TimeDelta::milliseconds(i64::try_from(gap_ms.max(1)).unwrap_or(i64::MAX))
}

/// The calls a slot may still take, given the calls of the `k` closed slots before it (`<= 0`: none).
pub fn room(closed_calls: &[u64], limit: u32) -> i64 {
    let closed: u64 = closed_calls.iter().sum();
    i64::from(limit) - i64::try_from(closed).unwrap_or(i64::MAX)
}

/// The earliest time a call could be granted when slot `index` (of `slot_ms`) is full, given `calls`: the `k`
/// closed slots and the current one, oldest first (if no other call is made meanwhile).
pub fn next_grant(calls: &[u64], limit: u32, index: i64, slot_ms: i64) -> DateTime<Utc> {
    slot_start(
        index.saturating_add(slots_until_grant(calls, limit)),
        slot_ms,
    )
}

/// The DynamoDB TTL (epoch seconds) of slot `index`'s counter: a window and [`COUNTER_TTL_AFTER_WINDOW`] after
/// the slot ends, when no sliding window can count it any more.
pub fn counter_expiry(index: i64, slot_ms: i64, window: Duration) -> i64 {
    let slot_end = slot_start(index.saturating_add(1), slot_ms);
    let window_secs = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
    let after = i64::try_from(COUNTER_TTL_AFTER_WINDOW.as_secs()).unwrap_or(i64::MAX);
    slot_end
        .timestamp()
        .saturating_add(1)
        .saturating_add(window_secs)
        .saturating_add(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn budget_windows_are_split_into_epoch_aligned_slots() {
        assert_eq!(budget_slots(Duration::from_secs(3600)), 12);
        assert_eq!(budget_slots(Duration::from_secs(60)), 12);
        assert_eq!(budget_slots(Duration::from_secs(3)), 4);
        let now = DateTime::from_timestamp(7_205, 0).unwrap_or_default();
        assert_eq!(budget_slot(now, Duration::from_secs(3600)), (300_000, 24));
        assert_eq!(slot_start(25, 300_000).timestamp(), 7_500);
        let now = now + TimeDelta::milliseconds(500);
        assert_eq!(budget_slot(now, Duration::from_secs(1)), (250, 28_822));
        assert_eq!(budget_slot(now, Duration::from_secs(3)), (750, 9_607));
        // A window that does not split evenly gets slightly longer slots, never a shorter cover.
        assert_eq!(budget_slot(now, Duration::from_secs(61)).0, 5_084);
    }

    #[test]
    fn the_next_grant_waits_until_enough_old_calls_leave_the_window() {
        // Limit 3, k = 4: three calls in the current slot keep it full until that slot leaves the window.
        assert_eq!(slots_until_grant(&[0, 0, 0, 0, 3], 3), 5);
        // Three calls two slots back: free three slots later, once that slot has left the window.
        assert_eq!(slots_until_grant(&[0, 0, 3, 0, 0], 3), 3);
        assert_eq!(slots_until_grant(&[1, 1, 1, 0, 0], 3), 1);
        assert_eq!(slots_until_grant(&[0, 2, 1, 0, 0], 3), 2);
    }

    #[test]
    fn room_is_what_the_closed_slots_leave_of_the_limit() {
        assert_eq!(room(&[1, 2, 3], 10), 4);
        assert_eq!(room(&[5, 5], 10), 0);
        assert_eq!(room(&[7, 7], 10), -4);
        assert_eq!(room(&[u64::MAX], 10), 10 - i64::MAX);
    }

    #[test]
    fn a_full_slot_grants_again_when_enough_calls_leave_the_window() {
        // k = 4, limit 3, the current slot (index 100 of 250 ms) holds all three calls.
        assert_eq!(
            next_grant(&[0, 0, 0, 0, 3], 3, 100, 250),
            slot_start(105, 250)
        );
        assert_eq!(
            next_grant(&[1, 1, 1, 0, 0], 3, 100, 250),
            slot_start(101, 250)
        );
    }

    #[test]
    fn leases_cover_the_batch_within_the_room_and_turns_follow_the_usable_rate() {
        assert_eq!(lease_size(1, 100), 1);
        assert_eq!(lease_size(10, 100), 10);
        assert_eq!(lease_size(10, 3), 3);
        assert_eq!(lease_size(100, 1000), MOST_LEASED);
        assert_eq!(lease_size(0, 5), 1);
        let posts = crate::config::Budget {
            limit: 750,
            window: Duration::from_secs(3600),
        };
        // 12 of 13 slots' worth: 692 calls an hour, one every 5.2 s.
        assert_eq!(turn_gap(posts), chrono::TimeDelta::milliseconds(5202));
        let live = crate::config::Budget {
            limit: 100,
            window: Duration::from_secs(1),
        };
        assert_eq!(turn_gap(live), chrono::TimeDelta::milliseconds(12));
    }

    #[test]
    fn a_counter_expires_a_window_and_an_hour_after_its_slot() {
        // Slot 24 of 300 s ends at 7500 s; + 1 s + 3600 s window + 3600 s.
        assert_eq!(
            counter_expiry(24, 300_000, Duration::from_secs(3600)),
            7_500 + 1 + 3_600 + 3_600
        );
    }
}
