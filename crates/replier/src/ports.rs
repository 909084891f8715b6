//! What the replier talks to, as traits, so the orchestrator ([`crate::Replier`]) is tested with DynamoDB Local
//! and the simulator as deployed, and can be handed faults or fakes: the comments table
//! ([`reply_core::store::CommentTable`]), the account ledger, the reply sender, the token source
//! ([`crate::TokenSource`]) and the clock ([`reply_core::Clock`]).

use crate::accounts::{AccountState, Bucket, BudgetGrant, TurnRequest};
use crate::config::Budget;
use crate::graph::SendResult;
use crate::tokens::{SendTarget, TokenFingerprint};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reply_core::store::StoreError;

/// Per-account state shared by every concurrent invocation: call budgets, pauses and rejected tokens.
#[async_trait]
pub trait AccountLedger: Send + Sync + std::fmt::Debug {
    /// The account's pause and rejected-token record (default when there is none).
    async fn get(&self, account_id: &str) -> Result<AccountState, StoreError>;

    /// Takes one call from the account's `bucket` budget, unless that would exceed `budget` in the window
    /// ending now; `want` is how many of the account's comments are about to be sent (calls may be leased
    /// for them at once).
    async fn take_budget(
        &self,
        account_id: &str,
        bucket: Bucket,
        budget: Budget,
        now: DateTime<Utc>,
        want: u32,
    ) -> Result<BudgetGrant, StoreError>;

    /// Returns a call that was taken but not spent (the comment went to another invocation).
    fn give_back(&self, account_id: &str, bucket: Bucket, budget: Budget, now: DateTime<Utc>);

    /// The next turn in the account's queue of comments waiting for `bucket` budget.
    async fn reserve_turn(
        &self,
        account_id: &str,
        bucket: Bucket,
        request: TurnRequest,
    ) -> Result<DateTime<Utc>, StoreError>;

    /// Pauses the account until `until`, unless it is already paused for longer.
    async fn pause(
        &self,
        account_id: &str,
        until: DateTime<Utc>,
        code: u32,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Records that Meta rejected the token with this fingerprint for the account.
    async fn mark_token_bad(
        &self,
        account_id: &str,
        fingerprint: &TokenFingerprint,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Forgets a rejected token once a send with another token worked (only if it is still the one recorded).
    async fn clear_bad_token(
        &self,
        account_id: &str,
        fingerprint: &TokenFingerprint,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// Sends one private reply; tells apart what happened on the wire (what it means is [`crate::classify`]'s).
#[async_trait]
pub trait ReplySender: Send + Sync + std::fmt::Debug {
    async fn send(&self, target: &SendTarget, comment_id: &str, text: &str) -> SendResult;

    /// Publishes a public reply under the comment (`Sent.message_id` is the new comment's ID).
    async fn post_public_reply(
        &self,
        target: &SendTarget,
        comment_id: &str,
        text: &str,
    ) -> SendResult;

    /// The IDs of the comment's replies written by `account_id`, or what went wrong reading them.
    async fn public_replies_by(
        &self,
        target: &SendTarget,
        comment_id: &str,
        account_id: &str,
    ) -> Result<Vec<String>, SendResult>;
}
