//! The budget counters: calls per slot of each account's sliding windows (the arithmetic is
//! [`crate::budget`]). Closed slots never change, so their sum is cached until the slot they precede ends; an
//! instance leases several calls of the current slot at once (one conditional `ADD` for a batch's worth of an
//! account's comments) and spends them locally, so a reply costs a fraction of a write of budget.

use super::{AccountStateStore, Bucket, BudgetGrant, attr};
use crate::budget;
use crate::config::Budget;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use reply_core::store::StoreError;
use reply_core::store::dynamo::is_condition_failure;
use std::collections::HashMap;
use std::sync::{MutexGuard, PoisonError};

/// Reads of unprocessed budget keys before giving up.
const BATCH_GET_ATTEMPTS: u32 = 5;

/// The calls of the `k` closed slots before a slot, oldest first, by budget key of that slot.
#[derive(Debug, Default)]
pub(super) struct ClosedSlots(HashMap<String, ClosedCalls>);

#[derive(Debug, Clone)]
struct ClosedCalls {
    /// When the slot they precede ends; the entry is useless afterwards.
    slot_end: DateTime<Utc>,
    calls: Vec<u64>,
}

/// What this instance knows of the current slot of each account and bucket.
#[derive(Debug, Default)]
pub(super) struct Leases(HashMap<(String, Bucket), Lease>);

#[derive(Debug, Clone, Copy, Default)]
struct Lease {
    slot: i64,
    /// Calls leased and not spent yet.
    left: u32,
    /// Calls the slot is known to hold: those this instance added, or all it may hold once an `ADD` was
    /// refused. A slot's calls only grow, so this never overstates them.
    known: i64,
}

impl Leases {
    /// The lease of slot `index`, started afresh when the one kept is of an older slot (void: that slot is
    /// closed); `None` for a slot older than the one kept.
    fn of(&mut self, account_id: &str, bucket: Bucket, index: i64) -> Option<&mut Lease> {
        let lease = self
            .0
            .entry((account_id.to_owned(), bucket))
            .or_insert(Lease {
                slot: index,
                ..Lease::default()
            });
        if lease.slot < index {
            *lease = Lease {
                slot: index,
                ..Lease::default()
            };
        }
        (lease.slot == index).then_some(lease)
    }

    /// Spends one call of slot `index`, if one is left.
    fn take(&mut self, account_id: &str, bucket: Bucket, index: i64) -> bool {
        match self.of(account_id, bucket, index) {
            Some(lease) if lease.left > 0 => {
                lease.left -= 1;
                true
            }
            _ => false,
        }
    }

    /// Keeps `n` more calls of slot `index`.
    fn add(&mut self, account_id: &str, bucket: Bucket, index: i64, n: u32) {
        if let Some(lease) = self.of(account_id, bucket, index) {
            lease.left = lease.left.saturating_add(n);
        }
    }

    /// Calls slot `index` is known to hold.
    fn known(&mut self, account_id: &str, bucket: Bucket, index: i64) -> i64 {
        self.of(account_id, bucket, index)
            .map_or(0, |lease| lease.known)
    }

    /// Slot `index` holds at least `calls`.
    fn holds(&mut self, account_id: &str, bucket: Bucket, index: i64, calls: i64) {
        if let Some(lease) = self.of(account_id, bucket, index) {
            lease.known = lease.known.max(calls);
        }
    }

    /// This instance added `n` calls to slot `index`.
    fn added(&mut self, account_id: &str, bucket: Bucket, index: i64, n: u32) {
        if let Some(lease) = self.of(account_id, bucket, index) {
            lease.known = lease.known.saturating_add(i64::from(n));
        }
    }
}

impl AccountStateStore {
    /// Takes one call from the account's budget: from this instance's lease for the current slot if it has
    /// one left, else by leasing up to `want` calls at once with one conditional `ADD`, unless that would make
    /// more than `limit` calls in the window of slots ending with the one `now` falls in.
    pub(super) async fn take(
        &self,
        account_id: &str,
        bucket: Bucket,
        budget: Budget,
        now: DateTime<Utc>,
        want: u32,
    ) -> Result<BudgetGrant, StoreError> {
        let (slot_ms, index) = budget::budget_slot(now, budget.window);
        if self.leases().take(account_id, bucket, index) {
            return Ok(BudgetGrant::Granted);
        }
        let key = Self::budget_key(account_id, bucket, slot_ms, index);
        let k = budget::budget_slots(budget.window);
        let mut calls = self
            .closed_calls(account_id, bucket, (slot_ms, index, k), &key, now)
            .await?;
        let room = budget::room(&calls, budget.limit);
        let exhausted = |calls: &[u64]| BudgetGrant::Exhausted {
            next_window: budget::next_grant(calls, budget.limit, index, slot_ms),
        };
        let known = self.leases().known(account_id, bucket, index);
        if room - known <= 0 {
            // Full as far as this instance knows: no write can succeed until the slot ends.
            calls.push(u64::try_from(known.max(0)).unwrap_or(0));
            return Ok(exhausted(&calls));
        }
        let ttl = budget::counter_expiry(index, slot_ms, budget.window);
        let lease = budget::lease_size(want, room - known);
        for n in [lease, 1] {
            // At most `room` calls in the slot once these `n` are added.
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(Self::key(key.clone())))
                .update_expression("SET #ttl = if_not_exists(#ttl, :ttl) ADD #calls :n")
                .condition_expression("attribute_not_exists(#calls) OR #calls <= :most")
                .expression_attribute_names("#ttl", attr::EXPIRES_AT)
                .expression_attribute_names("#calls", attr::CALLS)
                .expression_attribute_values(":ttl", n_value(ttl))
                .expression_attribute_values(":n", n_value(i64::from(n)))
                .expression_attribute_values(":most", n_value(room - i64::from(n)))
                .send()
                .await;
            match result {
                Ok(_) => {
                    let mut leases = self.leases();
                    leases.added(account_id, bucket, index, n);
                    leases.add(account_id, bucket, index, n - 1);
                    return Ok(BudgetGrant::Granted);
                }
                Err(e) if is_condition_failure(&e) => {
                    self.leases()
                        .holds(account_id, bucket, index, room - i64::from(n) + 1);
                    if n == 1 {
                        break;
                    }
                }
                Err(e) => {
                    return Err(StoreError::backend(
                        "taking from the account's call budget",
                        e,
                    ));
                }
            }
        }
        // The current slot holds at least `room` calls.
        calls.push(u64::try_from(room).unwrap_or(0));
        Ok(exhausted(&calls))
    }

    /// Puts back a call taken for a comment that was not sent after all (another invocation claimed it): it
    /// stays with this instance for the rest of the slot.
    pub(super) fn return_unused(
        &self,
        account_id: &str,
        bucket: Bucket,
        budget: Budget,
        now: DateTime<Utc>,
    ) {
        let (_, index) = budget::budget_slot(now, budget.window);
        self.leases().add(account_id, bucket, index, 1);
    }

    /// The calls of the `k` slots before slot `index`, oldest first: from the cache, or read consistently in
    /// one batch (missing counters count 0) and cached until slot `index` ends, since closed slots never change.
    async fn closed_calls(
        &self,
        account_id: &str,
        bucket: Bucket,
        (slot_ms, index, k): (i64, i64, u32),
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<u64>, StoreError> {
        let cache_key = format!("{key}#{k}");
        if let Some(cached) = self.cache().0.get(&cache_key) {
            return Ok(cached.calls.clone());
        }
        let k = i64::from(k);
        let keys: Vec<String> = (index - k..index)
            .map(|i| Self::budget_key(account_id, bucket, slot_ms, i))
            .collect();
        let found = tokio::time::timeout(self.request_timeout, self.read_calls(&keys))
            .await
            .map_err(|_| {
                StoreError::other(
                    "reading the account's call budget",
                    anyhow::anyhow!("no answer within {:?}", self.request_timeout),
                )
            })??;
        let calls: Vec<u64> = keys
            .iter()
            .map(|k| found.get(k).copied().unwrap_or(0))
            .collect();
        let slot_end = budget::slot_start(index.saturating_add(1), slot_ms);
        let mut cache = self.cache();
        cache.0.retain(|_, c| c.slot_end > now);
        cache.0.insert(
            cache_key,
            ClosedCalls {
                slot_end,
                calls: calls.clone(),
            },
        );
        Ok(calls)
    }

    /// The `calls` of these budget keys (absent keys are absent), read consistently, retrying unprocessed keys.
    async fn read_calls(&self, keys: &[String]) -> Result<HashMap<String, u64>, StoreError> {
        let mut found: HashMap<String, u64> = HashMap::new();
        let mut pending: Vec<HashMap<String, AttributeValue>> =
            keys.iter().map(|k| Self::key(k.clone())).collect();
        for attempt in 0..BATCH_GET_ATTEMPTS {
            if pending.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
            }
            let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .projection_expression("#pk, #calls")
                .expression_attribute_names("#pk", attr::PK)
                .expression_attribute_names("#calls", attr::CALLS)
                .build()
                .map_err(|e| StoreError::other("reading the account's call budget", e.into()))?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| StoreError::backend("reading the account's call budget", e))?;
            for item in out
                .responses()
                .and_then(|r| r.get(&self.table))
                .into_iter()
                .flatten()
            {
                let pk = item.get(attr::PK).and_then(|v| v.as_s().ok());
                let calls = item
                    .get(attr::CALLS)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                if let (Some(pk), Some(calls)) = (pk, calls) {
                    found.insert(pk.clone(), calls);
                }
            }
            if let Some(left) = out
                .unprocessed_keys()
                .and_then(|u| u.get(&self.table))
                .map(|u| u.keys().to_vec())
            {
                pending = left;
            }
        }
        if !pending.is_empty() {
            return Err(StoreError::other(
                "reading the account's call budget",
                anyhow::anyhow!("{} keys left unprocessed", pending.len()),
            ));
        }
        Ok(found)
    }

    fn cache(&self) -> MutexGuard<'_, ClosedSlots> {
        self.closed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn leases(&self) -> MutexGuard<'_, Leases> {
        self.leases.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn n_value(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_spent_call_by_call_within_its_slot_and_void_after_it() {
        let mut leases = Leases::default();
        assert!(!leases.take("a", Bucket::Posts, 7));
        leases.add("a", Bucket::Posts, 7, 2);
        assert!(leases.take("a", Bucket::Posts, 7));
        assert!(!leases.take("a", Bucket::Live, 7), "buckets are separate");
        assert!(!leases.take("b", Bucket::Posts, 7), "accounts are separate");
        assert!(!leases.take("a", Bucket::Posts, 8), "the slot is closed");
        leases.add("a", Bucket::Posts, 8, 1);
        assert!(!leases.take("a", Bucket::Posts, 7));
        assert!(leases.take("a", Bucket::Posts, 8));
        assert!(!leases.take("a", Bucket::Posts, 8));
    }

    #[test]
    fn what_a_slot_is_known_to_hold_only_grows_and_ends_with_the_slot() {
        let mut leases = Leases::default();
        assert_eq!(leases.known("a", Bucket::Posts, 7), 0);
        leases.added("a", Bucket::Posts, 7, 5);
        leases.holds("a", Bucket::Posts, 7, 3);
        assert_eq!(leases.known("a", Bucket::Posts, 7), 5);
        leases.holds("a", Bucket::Posts, 7, 9);
        assert_eq!(leases.known("a", Bucket::Posts, 7), 9);
        assert_eq!(leases.known("a", Bucket::Live, 7), 0);
        assert_eq!(leases.known("a", Bucket::Posts, 8), 0, "a new slot");
        assert_eq!(leases.known("a", Bucket::Posts, 7), 0, "an older slot");
    }
}
