//! The replier over wrapped ports: the real DynamoDB adapters, with a hook around one call.

use crate::harness::*;
use async_trait::async_trait;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use replier::accounts::{AccountState, AccountStateStore, Bucket, BudgetGrant};
use replier::graph::GraphClient;
use replier::ports::AccountLedger;
use replier::{Budget, Ports, Replier, TokenFingerprint};
use reply_core::clock::ManualClock;
use reply_core::comment::{CommentRecord, CommentStatus};
use reply_core::lifecycle::{Claim, Precondition, Transition, Written};
use reply_core::store::dynamo::DynamoCommentStore;
use reply_core::store::{
    CommentStore, CommentTable, DuePage, Inserted, Item, Requeued, StoreError,
};
use std::sync::{Arc, Mutex};

/// The comments table, whose claims take `slow` of (manual) time.
#[derive(Debug)]
struct SlowClaims {
    inner: DynamoCommentStore,
    clock: Arc<ManualClock>,
    slow: TimeDelta,
}

#[async_trait]
impl CommentStore for SlowClaims {
    async fn insert_new(&self, record: &CommentRecord) -> Result<Inserted, StoreError> {
        self.inner.insert_new(record).await
    }
}

#[async_trait]
impl CommentTable for SlowClaims {
    async fn claim(
        &self,
        id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<Claim>, StoreError> {
        let claim = self.inner.claim(id, now, until).await;
        self.clock.advance(self.slow);
        claim
    }
    async fn transition(
        &self,
        id: &str,
        p: Precondition<'_>,
        t: &Transition,
        now: DateTime<Utc>,
    ) -> Result<Written, StoreError> {
        self.inner.transition(id, p, t, now).await
    }
    async fn due_page(
        &self,
        s: CommentStatus,
        now: DateTime<Utc>,
        limit: usize,
        start: Option<Item>,
    ) -> Result<DuePage, StoreError> {
        self.inner.due_page(s, now, limit, start).await
    }
    async fn requeue(
        &self,
        id: &str,
        p: Precondition<'_>,
        t: &Transition,
        now: DateTime<Utc>,
    ) -> Result<Requeued, StoreError> {
        self.inner.requeue(id, p, t, now).await
    }
    async fn get(&self, id: &str) -> Result<Option<Item>, StoreError> {
        self.inner.get(id).await
    }
}

/// The account ledger, remembering the time each budget call was taken at.
#[derive(Debug)]
struct BudgetTimes {
    inner: AccountStateStore,
    taken_at: Mutex<Vec<DateTime<Utc>>>,
}

#[async_trait]
impl AccountLedger for BudgetTimes {
    async fn get(&self, account_id: &str) -> Result<AccountState, StoreError> {
        self.inner.get(account_id).await
    }
    async fn take_budget(
        &self,
        account_id: &str,
        bucket: Bucket,
        budget: Budget,
        now: DateTime<Utc>,
    ) -> Result<BudgetGrant, StoreError> {
        self.taken_at.lock().unwrap().push(now);
        self.inner
            .take_budget(account_id, bucket, budget, now)
            .await
    }
    async fn pause(
        &self,
        account_id: &str,
        until: DateTime<Utc>,
        code: u32,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.pause(account_id, until, code, now).await
    }
    async fn mark_token_bad(
        &self,
        account_id: &str,
        fp: &TokenFingerprint,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.mark_token_bad(account_id, fp, now).await
    }
    async fn clear_bad_token(
        &self,
        account_id: &str,
        fp: &TokenFingerprint,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.clear_bad_token(account_id, fp, now).await
    }
}

#[tokio::test]
async fn the_budget_is_taken_at_the_time_after_the_claim_not_the_time_the_comment_was_read() {
    let app = spawn_app().await;
    let ledger = Arc::new(BudgetTimes {
        inner: AccountStateStore::new(app.dynamodb.clone(), &app.accounts_table),
        taken_at: Mutex::default(),
    });
    let ports = Ports {
        comments: Arc::new(SlowClaims {
            inner: DynamoCommentStore::new(app.dynamodb.clone(), &app.comments_table),
            clock: app.clock.clone(),
            slow: TimeDelta::seconds(3),
        }),
        accounts: ledger.clone(),
        sender: Arc::new(GraphClient::from_config(&app.config).unwrap()),
        tokens: app.tokens.clone(),
        clock: app.clock.clone(),
    };
    let replier = Replier::with_ports(app.config.clone(), ports).unwrap();
    let record = app.new_comment("c-slow-claim").await;
    let read_at = app.now();

    replier.process_comment(&record).await.unwrap();

    assert_eq!(
        app.stored("c-slow-claim").await.status,
        CommentStatus::Replied
    );
    assert_eq!(
        *ledger.taken_at.lock().unwrap(),
        [read_at + TimeDelta::seconds(3)],
        "the slot is the one the call is made in"
    );
}
