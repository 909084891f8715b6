//! A comment's place in the `due` index, which the sweep reads: every comment still in progress is in it,
//! under one of [`SHARDS`] partitions chosen by its ID (so no partition takes every write), sorted by `due_at`.
//! A comment enters at insert (due to be re-driven [`DEFAULT_REDRIVE_AFTER`] later if nothing took it) and
//! leaves with its final outcome: two index writes on the happy path, since claiming does not move it.

use chrono::Duration;

/// Partitions of the `due` index.
pub const SHARDS: u32 = 16;

/// A `PENDING` comment not taken by then is re-driven by the sweep (`REDRIVE_AFTER_SECS`).
pub const DEFAULT_REDRIVE_AFTER: Duration = Duration::minutes(15);

/// Re-drives of a comment that stays `PENDING` wait longer each time, up to this.
pub const MAX_REDRIVE_WAIT: Duration = Duration::hours(6);

/// The partition of a comment ID: FNV-1a of its bytes (stable across versions and platforms), as two digits.
pub fn shard_of(comment_id: &str) -> String {
    shard_name(fnv1a(comment_id.as_bytes()) % SHARDS)
}

/// 32-bit FNV-1a: a hash that never changes between versions or platforms, for choices that must not.
pub fn fnv1a(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in bytes {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// The stored name of partition `index`.
pub fn shard_name(index: u32) -> String {
    format!("{index:02}")
}

/// How long the `redrives`-th re-drive of a comment waits: `after`, doubling, at most [`MAX_REDRIVE_WAIT`].
pub fn redrive_wait(after: Duration, redrives: u32) -> Duration {
    let doublings = redrives.min(16);
    after
        .checked_mul(1 << doublings)
        .map_or(MAX_REDRIVE_WAIT, |d| d.min(MAX_REDRIVE_WAIT))
        .max(after.min(MAX_REDRIVE_WAIT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread_ids_over_every_partition() {
        assert_eq!(shard_of("18058455121735594"), shard_of("18058455121735594"));
        let mut seen = std::collections::BTreeMap::new();
        for n in 0..1600u64 {
            *seen
                .entry(shard_of(&(18_000_000_000_000_000 + n * 7919).to_string()))
                .or_insert(0) += 1;
        }
        assert_eq!(seen.len(), SHARDS as usize, "{seen:?}");
        assert!(seen.values().all(|n| (50..=150).contains(n)), "{seen:?}");
        assert!(seen.keys().all(|k| k.len() == 2));
    }

    #[test]
    fn redrives_back_off_to_six_hours() {
        let after = Duration::minutes(15);
        assert_eq!(redrive_wait(after, 0), after);
        assert_eq!(redrive_wait(after, 1), Duration::minutes(30));
        assert_eq!(redrive_wait(after, 4), Duration::minutes(240));
        assert_eq!(redrive_wait(after, 5), Duration::hours(6));
        assert_eq!(redrive_wait(after, u32::MAX), Duration::hours(6));
    }
}
