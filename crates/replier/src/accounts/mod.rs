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

mod counters;
mod turns;

pub use turns::TurnRequest;

pub mod attr {
    pub const PK: &str = "pk";
    pub const EXPIRES_AT: &str = "expires_at";
    pub const CALLS: &str = "calls";
    pub const PAUSED_UNTIL: &str = "paused_until";
    pub const PAUSE_CODE: &str = "pause_code";
    pub const BAD_TOKEN_FINGERPRINT: &str = "bad_token_fingerprint";
    pub const TOKEN_FAILED_AT: &str = "token_failed_at";
    pub const UPDATED_AT: &str = "updated_at";
    /// The last turn given out in the account's queue of comments waiting for `posts` budget (ISO, ms).
    pub const QUEUE_TAIL_POSTS: &str = "queue_tail_posts";
    /// The same for `live` budget.
    pub const QUEUE_TAIL_LIVE: &str = "queue_tail_live";
    /// The same for public replies (which wait for their slot today rather than queue; kept apart so that
    /// a queue for them could never run in the Live one).
    pub const QUEUE_TAIL_PUBLIC_REPLIES: &str = "queue_tail_public_replies";
}

/// How long an account record outlives its last change.
const ACCOUNT_RECORD_TTL_SECS: i64 = 30 * 24 * 3600;

/// Which of Meta's per-account budgets a reply counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// Replies to posts, reels, stories and ads (Meta: 750 per hour).
    Posts,
    /// Replies to Live comments (Meta: 100 per second).
    Live,
    /// Public replies under comments (`PUBLIC_REPLIES_PER_HOUR`); never queued for turns.
    PublicReplies,
}

impl Bucket {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Posts => "posts",
            Self::Live => "live",
            Self::PublicReplies => "public_replies",
        }
    }
}

/// What the account record says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountState {
    pub paused_until: Option<DateTime<Utc>>,
    pub pause_code: Option<u32>,
    pub bad_token: Option<TokenFingerprint>,
    /// The last turn given out to a comment waiting for `posts` budget: while it is ahead, new comments queue
    /// behind it rather than take the calls the queue was promised.
    pub queue_tail_posts: Option<DateTime<Utc>>,
    /// The same for `live` budget.
    pub queue_tail_live: Option<DateTime<Utc>>,
    /// The same for public replies.
    pub queue_tail_public_replies: Option<DateTime<Utc>>,
}

impl AccountState {
    /// The last turn given out in `bucket`'s queue.
    pub fn queue_tail(&self, bucket: Bucket) -> Option<DateTime<Utc>> {
        match bucket {
            Bucket::Posts => self.queue_tail_posts,
            Bucket::Live => self.queue_tail_live,
            Bucket::PublicReplies => self.queue_tail_public_replies,
        }
    }
}

impl Bucket {
    /// The account record's attribute holding this bucket's queue tail.
    pub(crate) fn queue_tail_attribute(self) -> &'static str {
        match self {
            Self::Posts => attr::QUEUE_TAIL_POSTS,
            Self::Live => attr::QUEUE_TAIL_LIVE,
            Self::PublicReplies => attr::QUEUE_TAIL_PUBLIC_REPLIES,
        }
    }
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

#[derive(Debug, Clone)]
pub struct AccountStateStore {
    client: Client,
    table: String,
    closed: Arc<Mutex<counters::ClosedSlots>>,
    leases: Arc<Mutex<counters::Leases>>,
    turns: Arc<Mutex<turns::Turns>>,
    /// The budget read (with its own retries of unprocessed keys) counts as one request of this length.
    request_timeout: std::time::Duration,
}

impl AccountStateStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            closed: Arc::default(),
            leases: Arc::default(),
            turns: Arc::default(),
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

    /// The account's record, read consistently (the default when there is none).
    pub(crate) async fn get_account(&self, account_id: &str) -> Result<AccountState, StoreError> {
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
            queue_tail_posts: text(attr::QUEUE_TAIL_POSTS).and_then(|t| turns::parse_turn(&t)),
            queue_tail_live: text(attr::QUEUE_TAIL_LIVE).and_then(|t| turns::parse_turn(&t)),
            queue_tail_public_replies: text(attr::QUEUE_TAIL_PUBLIC_REPLIES)
                .and_then(|t| turns::parse_turn(&t)),
        })
    }

    fn key(pk: String) -> HashMap<String, AttributeValue> {
        HashMap::from([(attr::PK.to_owned(), AttributeValue::S(pk))])
    }
}

#[async_trait]
impl AccountLedger for AccountStateStore {
    async fn get(&self, account_id: &str) -> Result<AccountState, StoreError> {
        self.get_account(account_id).await
    }

    async fn take_budget(
        &self,
        account_id: &str,
        bucket: Bucket,
        budget: Budget,
        now: DateTime<Utc>,
        want: u32,
    ) -> Result<BudgetGrant, StoreError> {
        self.take(account_id, bucket, budget, now, want).await
    }

    fn give_back(&self, account_id: &str, bucket: Bucket, budget: Budget, now: DateTime<Utc>) {
        self.return_unused(account_id, bucket, budget, now);
    }

    async fn reserve_turn(
        &self,
        account_id: &str,
        bucket: Bucket,
        request: TurnRequest,
    ) -> Result<DateTime<Utc>, StoreError> {
        self.reserve(account_id, bucket, request).await
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
