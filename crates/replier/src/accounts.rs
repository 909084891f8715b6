//! Per-account state shared by every concurrent replier invocation, in the account state table (key `pk`,
//! TTL `expires_at`):
//!
//! - `budget#<ig_id>#<posts|live>#<window secs>#<window index>`: `calls` made in one fixed window, taken with
//!   an atomic `ADD` that is conditional on `calls < limit`, so no two invocations can overspend a budget;
//!   each item expires an hour after its window.
//! - `account#<ig_id>`: `paused_until` (after Meta throttled or blocked the account), `pause_code`, and
//!   `bad_token_fingerprint` (the fingerprint of a token Meta rejected with `190`), so that other comments of
//!   the account wait instead of spending calls that are bound to fail. Kept 30 days after its last change.

use crate::config::Budget;
use crate::store::{backend, is_condition_failure, s};
use crate::tokens::TokenFingerprint;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use reply_core::comment::format_time;
use reply_core::store::StoreError;
use std::collections::HashMap;

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
/// How long a budget counter outlives its window.
const BUDGET_RECORD_TTL_SECS: i64 = 3600;

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
    /// The window's calls are used up; the next window starts at `next_window`.
    Exhausted {
        next_window: DateTime<Utc>,
    },
}

#[derive(Debug, Clone)]
pub struct AccountStateStore {
    client: Client,
    table: String,
}

impl AccountStateStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn account_key(account_id: &str) -> String {
        format!("account#{account_id}")
    }

    pub fn budget_key(
        account_id: &str,
        bucket: Bucket,
        budget: Budget,
        window_index: i64,
    ) -> String {
        format!(
            "budget#{account_id}#{}#{}#{window_index}",
            bucket.as_str(),
            budget.window.as_secs()
        )
    }

    fn key(pk: String) -> HashMap<String, AttributeValue> {
        HashMap::from([(attr::PK.to_owned(), AttributeValue::S(pk))])
    }

    pub async fn get(&self, account_id: &str) -> Result<AccountState, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(Self::account_key(account_id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend(e, "reading the account state"))?;
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

    /// Takes one call from the account's budget for the window `now` falls in.
    pub async fn take_budget(
        &self,
        account_id: &str,
        bucket: Bucket,
        budget: Budget,
        now: DateTime<Utc>,
    ) -> Result<BudgetGrant, StoreError> {
        let (index, next_window) = crate::backoff::budget_window(now, budget.window);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(Self::budget_key(
                account_id, bucket, budget, index,
            ))))
            .update_expression("SET #ttl = if_not_exists(#ttl, :ttl) ADD #calls :one")
            .condition_expression("attribute_not_exists(#calls) OR #calls < :limit")
            .expression_attribute_names("#ttl", attr::EXPIRES_AT)
            .expression_attribute_names("#calls", attr::CALLS)
            .expression_attribute_values(
                ":ttl",
                n(next_window.timestamp() + BUDGET_RECORD_TTL_SECS),
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(i64::from(budget.limit)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(BudgetGrant::Granted),
            Err(e) if is_condition_failure(&e) => Ok(BudgetGrant::Exhausted { next_window }),
            Err(e) => Err(backend(e, "taking from the account's call budget")),
        }
    }

    /// Pauses the account until `until`, unless it is already paused for longer.
    pub async fn pause(
        &self,
        account_id: &str,
        until: DateTime<Utc>,
        code: u32,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let until = format_time(until);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(Self::account_key(account_id))))
            .update_expression("SET #until = :until, #code = :code, #updated = :now, #ttl = :ttl")
            .condition_expression("attribute_not_exists(#until) OR #until < :until")
            .expression_attribute_names("#until", attr::PAUSED_UNTIL)
            .expression_attribute_names("#code", attr::PAUSE_CODE)
            .expression_attribute_names("#updated", attr::UPDATED_AT)
            .expression_attribute_names("#ttl", attr::EXPIRES_AT)
            .expression_attribute_values(":until", s(&until))
            .expression_attribute_values(":code", n(i64::from(code)))
            .expression_attribute_values(":now", s(&format_time(now)))
            .expression_attribute_values(":ttl", n(now.timestamp() + ACCOUNT_RECORD_TTL_SECS))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(backend(e, "pausing the account")),
        }
    }

    /// Records that Meta rejected the token with this fingerprint for the account.
    pub async fn mark_token_bad(
        &self,
        account_id: &str,
        fingerprint: &TokenFingerprint,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(Self::account_key(account_id))))
            .update_expression("SET #fp = :fp, #failed = :now, #updated = :now, #ttl = :ttl")
            .expression_attribute_names("#fp", attr::BAD_TOKEN_FINGERPRINT)
            .expression_attribute_names("#failed", attr::TOKEN_FAILED_AT)
            .expression_attribute_names("#updated", attr::UPDATED_AT)
            .expression_attribute_names("#ttl", attr::EXPIRES_AT)
            .expression_attribute_values(":fp", s(fingerprint.as_str()))
            .expression_attribute_values(":now", s(&format_time(now)))
            .expression_attribute_values(":ttl", n(now.timestamp() + ACCOUNT_RECORD_TTL_SECS))
            .send()
            .await
            .map_err(|e| backend(e, "recording a rejected token"))?;
        Ok(())
    }

    /// Forgets a rejected token once a send with another token worked (only if it is still the one recorded).
    pub async fn clear_bad_token(
        &self,
        account_id: &str,
        fingerprint: &TokenFingerprint,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(Self::account_key(account_id))))
            .update_expression("SET #updated = :now REMOVE #fp, #failed")
            .condition_expression("#fp = :fp")
            .expression_attribute_names("#fp", attr::BAD_TOKEN_FINGERPRINT)
            .expression_attribute_names("#failed", attr::TOKEN_FAILED_AT)
            .expression_attribute_names("#updated", attr::UPDATED_AT)
            .expression_attribute_values(":fp", s(fingerprint.as_str()))
            .expression_attribute_values(":now", s(&format_time(now)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(backend(e, "clearing a rejected token")),
        }
    }
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn budget_keys_name_the_account_bucket_window_length_and_index() {
        let budget = Budget {
            limit: 750,
            window: Duration::from_secs(3600),
        };
        assert_eq!(
            AccountStateStore::budget_key("178", Bucket::Posts, budget, 494_444),
            "budget#178#posts#3600#494444"
        );
        assert_eq!(AccountStateStore::account_key("178"), "account#178");
    }
}
