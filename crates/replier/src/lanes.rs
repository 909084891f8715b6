//! Within one instance, the comments of one account go through the budget one at a time. A batch sends its
//! comments concurrently, and without this every comment of a busy account would race for the same lease at
//! once: one would win it and the rest, seeing the slot taken, would be deferred although the lease held
//! calls for them. In a lane, the first comment leases calls for all of its account's comments still
//! [`Waiting`], the others spend that lease locally, and when the budget is spent the first reserves turns
//! for all that are left. The clock is read inside the lane, just before the budget is taken.

use crate::accounts::Bucket;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Lanes are dropped once nobody holds them and the map has grown past this.
const KEEP_IDLE_LANES: usize = 1024;

type Lane = Arc<tokio::sync::Mutex<()>>;

/// One async lock per account and bucket.
#[derive(Debug, Default)]
pub struct Lanes(Mutex<HashMap<(String, Bucket), Lane>>);

impl Lanes {
    /// Waits for the account's lane; it is held until the guard is dropped.
    pub async fn enter(
        &self,
        account_id: &str,
        bucket: Bucket,
    ) -> tokio::sync::OwnedMutexGuard<()> {
        let lane = {
            let mut lanes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            if lanes.len() > KEEP_IDLE_LANES {
                lanes.retain(|_, lane| Arc::strong_count(lane) > 1);
            }
            lanes
                .entry((account_id.to_owned(), bucket))
                .or_default()
                .clone()
        };
        lane.lock_owned().await
    }
}

/// How many comments of one account in a batch have still to go through the budget (be granted a call or
/// given a turn): the calls to lease, or the turns to reserve, at once.
#[derive(Debug)]
pub struct Waiting(AtomicU32);

impl Waiting {
    pub fn new(comments: u32) -> Self {
        Self(AtomicU32::new(comments.max(1)))
    }

    /// Comments still waiting, this one included (at least one).
    pub fn count(&self) -> u32 {
        self.0.load(Ordering::Relaxed).max(1)
    }

    /// Counts one comment as through the budget (or settled without it) when the guard is dropped.
    pub fn one_passing(&self) -> Passing<'_> {
        Passing(self)
    }
}

/// See [`Waiting::one_passing`].
#[derive(Debug)]
pub struct Passing<'a>(&'a Waiting);

impl Drop for Passing<'_> {
    fn drop(&mut self) {
        let _ = self
            .0
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_counts_down_once_per_comment_and_never_below_one() {
        let waiting = Waiting::new(3);
        assert_eq!(waiting.count(), 3);
        drop(waiting.one_passing());
        assert_eq!(waiting.count(), 2);
        for _ in 0..5 {
            drop(waiting.one_passing());
        }
        assert_eq!(waiting.count(), 1);
        assert_eq!(Waiting::new(0).count(), 1);
    }

    #[tokio::test]
    async fn one_comment_at_a_time_per_account_and_bucket() {
        let lanes = Lanes::default();
        let held = lanes.enter("a", Bucket::Posts).await;
        // Another account, or the other bucket, is not held up.
        drop(lanes.enter("b", Bucket::Posts).await);
        drop(lanes.enter("a", Bucket::Live).await);
        let waiting = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            lanes.enter("a", Bucket::Posts),
        )
        .await;
        assert!(waiting.is_err(), "the lane was entered twice");
        drop(held);
        drop(lanes.enter("a", Bucket::Posts).await);
    }
}
