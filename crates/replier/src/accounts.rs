//! Per-account state shared by every concurrent replier invocation, in the account state table (key `pk`,
//! TTL `expires_at`):
//!
//! - `budget#<ig_id>#<posts|live>#<slot millis>#<slot index>`: `calls` made in one slot of a budget window.
//!   Meta's limits slide (750 calls in *any* hour), so counting in fixed windows would let a burst straddling
//!   a window boundary spend twice the limit within one window length. Instead each window `W` is split into
//!   `k` epoch-aligned slots of `W/k` (the arithmetic is [`crate::budget`]); a call at `t` in slot `i` is granted
//!   only if the calls of slots `i-k ..= i` (which cover every sliding window `[t-W, t]`) stay within the
//!   limit: the `k` closed slots are read (they never change again, so their sum is cached per slot) and slot
//!   `i` is taken with an atomic `ADD` conditional on `calls < limit - closed`, so no two invocations can
//!   overspend a budget. At least `k/(k+1)` of the limit stays usable. Each item expires a window and an hour
//!   after its slot.
//! - `account#<ig_id>`: `paused_until` (after Meta throttled or blocked the account), `pause_code`, and
//!   `bad_token_fingerprint` (the fingerprint of a token Meta rejected with `190`), so that other comments of
//!   the account wait instead of spending calls that are bound to fail. Kept 30 days after its last change.

use crate::budget;
use crate::config::Budget;
use crate::ports::AccountLedger;
use crate::tokens::TokenFingerprint;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use reply_core::comment::format_time;
use reply_core::store::StoreError;
use reply_core::store::dynamo::is_condition_failure;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub mod attr {
    pub const PK: &str = "pk";
    pub const EXPIRES_AT: &str = "expires_at";
    pub const CALLS: &str = "calls";
    pub const PAUSED_UNTIL: &str = "paused_until";
    pub const PAUSE_CODE: &str = "pause_code";
    pub const BAD_TOKEN_FINGERPRINT: &str = "bad_token_fingerprint";
    pub const TOKEN_FAILED_AT: &str = "token_failed_at";
    pub const UPDATED_AT: &str = "updated_at";
}

/// How long an account record outlives its last change.
const ACCOUNT_RECORD_TTL_SECS: i64 = 30 * 24 * 3600;
/// Reads of unprocessed budget keys before giving up.
const BATCH_GET_ATTEMPTS: u32 = 5;

/// Which of Meta's per-account budgets a reply counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// Replies to posts, reels, stories and ads (Meta: 750 per hour).
    Posts,
    /// Replies to Live comments (Meta: 100 per second).
    Live,
}

impl Bucket {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Posts => "posts",
            Self::Live => "live",
        }
    }
}

/// What the account record says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountState {
    pub paused_until: Option<DateTime<Utc>>,
    pub pause_code: Option<u32>,
    pub bad_token: Option<TokenFingerprint>,
}

/// The outcome of asking for one call of budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetGrant {
    Granted,
    /// The window's calls are used up; `next_window` is the earliest time a call could be granted (if no other
    /// call is made meanwhile).
    Exhausted {
        next_window: DateTime<Utc>,
    },
}

/// The calls of the `k` closed slots before a slot, oldest first, by budget key of that slot.
type ClosedSlots = HashMap<String, ClosedCalls>;

#[derive(Debug, Clone)]
struct ClosedCalls {
    /// When the slot they precede ends; the entry is useless afterwards.
    slot_end: DateTime<Utc>,
    calls: Vec<u64>,
}

#[derive(Debug, Clone)]
pub struct AccountStateStore {
    client: Client,
    table: String,
    closed: Arc<Mutex<ClosedSlots>>,
    /// The budget read (with its own retries of unprocessed keys) counts as one request of this length.
    request_timeout: std::time::Duration,
}

impl AccountStateStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            closed: Arc::default(),
            request_timeout: reply_core::store::dynamo::DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Bounds the budget read, retries of unprocessed keys included, to `timeout`.
    pub fn with_request_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn account_key(account_id: &str) -> String {
        format!("account#{account_id}")
    }

    pub fn budget_key(account_id: &str, bucket: Bucket, slot_ms: i64, slot_index: i64) -> String {
        format!(
            "budget#{account_id}#{}#{slot_ms}#{slot_index}",
            bucket.as_str()
        )
    }

    /// An update of the account's record, with `#updated`/`:now` (`updated_at`) defined.
    fn account_update(
        &self,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(Self::account_key(account_id))))
            .expression_attribute_names("#updated", attr::UPDATED_AT)
            .expression_attribute_values(":now", s(&format_time(now)))
    }

    fn key(pk: String) -> HashMap<String, AttributeValue> {
        HashMap::from([(attr::PK.to_owned(), AttributeValue::S(pk))])
    }

    /// Takes one call from the account's budget, unless that would make more than `limit` calls in the window
    /// of slots ending with the one `now` falls in.
    async fn take(
        &self,
        account_id: &str,
        bucket: Bucket,
        budget: Budget,
        now: DateTime<Utc>,
    ) -> Result<BudgetGrant, StoreError> {
        let (slot_ms, index) = budget::budget_slot(now, budget.window);
        let key = Self::budget_key(account_id, bucket, slot_ms, index);
        let k = budget::budget_slots(budget.window);
        let mut calls = self
            .closed_calls(account_id, bucket, (slot_ms, index, k), &key, now)
            .await?;
        let room = budget::room(&calls, budget.limit);
        let exhausted = |calls: &[u64]| BudgetGrant::Exhausted {
            next_window: budget::next_grant(calls, budget.limit, index, slot_ms),
        };
        if room <= 0 {
            calls.push(0);
            return Ok(exhausted(&calls));
        }
        let ttl = budget::counter_expiry(index, slot_ms, budget.window);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(key)))
            .update_expression("SET #ttl = if_not_exists(#ttl, :ttl) ADD #calls :one")
            .condition_expression("attribute_not_exists(#calls) OR #calls < :room")
            .expression_attribute_names("#ttl", attr::EXPIRES_AT)
            .expression_attribute_names("#calls", attr::CALLS)
            .expression_attribute_values(":ttl", n(ttl))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":room", n(room))
            .send()
            .await;
        match result {
            Ok(_) => Ok(BudgetGrant::Granted),
            Err(e) if is_condition_failure(&e) => {
                // The current slot holds at least `room` calls.
                calls.push(u64::try_from(room).unwrap_or(0));
                Ok(exhausted(&calls))
            }
            Err(e) => Err(StoreError::backend(
                "taking from the account's call budget",
                e,
            )),
        }
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
        if let Some(cached) = self.cache().get(&cache_key) {
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
        cache.retain(|_, c| c.slot_end > now);
        cache.insert(
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

    fn cache(&self) -> std::sync::MutexGuard<'_, ClosedSlots> {
        self.closed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl AccountLedger for AccountStateStore {
    async fn get(&self, account_id: &str) -> Result<AccountState, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(Self::account_key(account_id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::backend("reading the account state", e))?;
        let Some(item) = out.item() else {
            return Ok(AccountState::default());
        };
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        Ok(AccountState {
            paused_until: text(attr::PAUSED_UNTIL)
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&Utc)),
            pause_code: item
                .get(attr::PAUSE_CODE)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok()),
            bad_token: text(attr::BAD_TOKEN_FINGERPRINT).map(TokenFingerprint::from_stored),
        })
    }

    async fn take_budget(
        &self,
        account_id: &str,
        bucket: Bucket,
        budget: Budget,
        now: DateTime<Utc>,
    ) -> Result<BudgetGrant, StoreError> {
        self.take(account_id, bucket, budget, now).await
    }

    async fn pause(
        &self,
        account_id: &str,
        until: DateTime<Utc>,
        code: u32,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let until = format_time(until);
        let result = self
            .account_update(account_id, now)
            .update_expression("SET #until = :until, #code = :code, #updated = :now, #ttl = :ttl")
            .condition_expression("attribute_not_exists(#until) OR #until < :until")
            .expression_attribute_names("#until", attr::PAUSED_UNTIL)
            .expression_attribute_names("#code", attr::PAUSE_CODE)
            .expression_attribute_names("#ttl", attr::EXPIRES_AT)
            .expression_attribute_values(":until", s(&until))
            .expression_attribute_values(":code", n(i64::from(code)))
            .expression_attribute_values(":ttl", n(now.timestamp() + ACCOUNT_RECORD_TTL_SECS))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(StoreError::backend("pausing the account", e)),
        }
    }

    async fn mark_token_bad(
        &self,
        account_id: &str,
        fingerprint: &TokenFingerprint,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.account_update(account_id, now)
            .update_expression("SET #fp = :fp, #failed = :now, #updated = :now, #ttl = :ttl")
            .expression_attribute_names("#fp", attr::BAD_TOKEN_FINGERPRINT)
            .expression_attribute_names("#failed", attr::TOKEN_FAILED_AT)
            .expression_attribute_names("#ttl", attr::EXPIRES_AT)
            .expression_attribute_values(":fp", s(fingerprint.as_str()))
            .expression_attribute_values(":ttl", n(now.timestamp() + ACCOUNT_RECORD_TTL_SECS))
            .send()
            .await
            .map_err(|e| StoreError::backend("recording a rejected token", e))?;
        Ok(())
    }

    async fn clear_bad_token(
        &self,
        account_id: &str,
        fingerprint: &TokenFingerprint,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let result = self
            .account_update(account_id, now)
            .update_expression("SET #updated = :now REMOVE #fp, #failed")
            .condition_expression("#fp = :fp")
            .expression_attribute_names("#fp", attr::BAD_TOKEN_FINGERPRINT)
            .expression_attribute_names("#failed", attr::TOKEN_FAILED_AT)
            .expression_attribute_values(":fp", s(fingerprint.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(StoreError::backend("clearing a rejected token", e)),
        }
    }
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_keys_name_the_account_bucket_slot_length_and_index() {
        assert_eq!(
            AccountStateStore::budget_key("178", Bucket::Posts, 300_000, 5_933_328),
            "budget#178#posts#300000#5933328"
        );
        assert_eq!(AccountStateStore::account_key("178"), "account#178");
    }
}
