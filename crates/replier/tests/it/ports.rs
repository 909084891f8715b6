//! The replier over wrapped ports: the real DynamoDB adapters, with a hook around one call.

use crate::harness::*;
use async_trait::async_trait;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use replier::accounts::{AccountState, AccountStateStore, Bucket, BudgetGrant, TurnRequest};
use replier::graph::GraphClient;
use replier::ports::AccountLedger;
use replier::{Budget, Ports, Replier, TokenFingerprint};
use reply_core::clock::ManualClock;
use reply_core::comment::{CommentRecord, CommentStatus};
use reply_core::lifecycle::{
    Claim, Precondition, PublicPrecondition, PublicReplyMove, PublicReplyState, ReplyChoice,
    Transition, Written,
};
use reply_core::store::dynamo::DynamoCommentStore;
use reply_core::store::{
    CommentStore, CommentTable, DuePage, Inserted, Item, Requeued, StoreError,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The account ledger, whose reads take `slow` of (manual) time and which remembers the time each budget
/// call was taken at.
#[derive(Debug)]
struct BudgetTimes {
    inner: AccountStateStore,
    clock: Arc<ManualClock>,
    slow: TimeDelta,
    taken_at: Mutex<Vec<DateTime<Utc>>>,
}

#[async_trait]
impl AccountLedger for BudgetTimes {
    async fn get(&self, account_id: &str) -> Result<AccountState, StoreError> {
        let state = self.inner.get(account_id).await;
        self.clock.advance(self.slow);
        state
    }
    async fn take_budget(
        &self,
        account_id: &str,
        bucket: Bucket,
        budget: Budget,
        now: DateTime<Utc>,
        want: u32,
    ) -> Result<BudgetGrant, StoreError> {
        self.taken_at.lock().unwrap().push(now);
        self.inner
            .take_budget(account_id, bucket, budget, now, want)
            .await
    }
    fn give_back(&self, account_id: &str, bucket: Bucket, budget: Budget, now: DateTime<Utc>) {
        self.inner.give_back(account_id, bucket, budget, now);
    }
    async fn reserve_turn(
        &self,
        account_id: &str,
        bucket: Bucket,
        request: TurnRequest,
    ) -> Result<DateTime<Utc>, StoreError> {
        self.inner.reserve_turn(account_id, bucket, request).await
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
async fn the_budget_is_taken_at_the_time_it_is_spent_not_the_time_the_comment_was_read() {
    let app = spawn_app().await;
    let ledger = Arc::new(BudgetTimes {
        inner: AccountStateStore::new(app.dynamodb.clone(), &app.accounts_table),
        clock: app.clock.clone(),
        slow: TimeDelta::seconds(3),
        taken_at: Mutex::default(),
    });
    let ports = Ports {
        comments: Arc::new(DynamoCommentStore::new(
            app.dynamodb.clone(),
            &app.comments_table,
        )),
        campaigns: app.campaign_source(),
        accounts: ledger.clone(),
        sender: Arc::new(GraphClient::from_config(&app.config).unwrap()),
        tokens: app.tokens.clone(),
        clock: app.clock.clone(),
    };
    let replier = Replier::with_ports(app.config.clone(), ports).unwrap();
    let record = app.new_comment("c-slow-read").await;
    let read_at = app.now();

    replier
        .process_comment(&record, &replier::lanes::Waiting::new(1))
        .await
        .unwrap();

    assert_eq!(
        app.stored("c-slow-read").await.status,
        CommentStatus::Replied
    );
    assert_eq!(
        *ledger.taken_at.lock().unwrap(),
        [read_at + TimeDelta::seconds(3)],
        "the slot is the one the call is made in"
    );
}

/// The comments table, counting the writes that changed each comment's item (refused conditional writes
/// change nothing and cost no write to the item).
#[derive(Debug)]
struct CountedWrites {
    inner: DynamoCommentStore,
    writes: Mutex<HashMap<String, u32>>,
}

impl CountedWrites {
    fn count(&self, id: &str) {
        *self
            .writes
            .lock()
            .unwrap()
            .entry(id.to_owned())
            .or_default() += 1;
    }
    fn of(&self, id: &str) -> u32 {
        self.writes.lock().unwrap().get(id).copied().unwrap_or(0)
    }
}

#[async_trait]
impl CommentStore for CountedWrites {
    async fn insert_new(&self, record: &CommentRecord) -> Result<Inserted, StoreError> {
        let inserted = self.inner.insert_new(record).await?;
        if inserted == Inserted::Stored {
            self.count(record.comment_id.as_str());
        }
        Ok(inserted)
    }
}

#[async_trait]
impl CommentTable for CountedWrites {
    async fn claim(
        &self,
        id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        choice: Option<&ReplyChoice>,
    ) -> Result<Option<Claim>, StoreError> {
        let claim = self.inner.claim(id, now, until, choice).await?;
        if claim.is_some() {
            self.count(id);
        }
        Ok(claim)
    }
    async fn transition(
        &self,
        id: &str,
        p: Precondition<'_>,
        t: &Transition,
        now: DateTime<Utc>,
    ) -> Result<Written, StoreError> {
        let written = self.inner.transition(id, p, t, now).await?;
        if written == Written::Yes {
            self.count(id);
        }
        Ok(written)
    }
    async fn public_reply(
        &self,
        id: &str,
        p: PublicPrecondition<'_>,
        change: &PublicReplyMove,
        now: DateTime<Utc>,
    ) -> Result<Written, StoreError> {
        let written = self.inner.public_reply(id, p, change, now).await?;
        if written == Written::Yes {
            self.count(id);
        }
        Ok(written)
    }
    async fn claim_public_reply(
        &self,
        id: &str,
        claim_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<PublicReplyState>, StoreError> {
        let claim = self
            .inner
            .claim_public_reply(id, claim_id, until, now)
            .await?;
        if claim.is_some() {
            self.count(id);
        }
        Ok(claim)
    }
    async fn due_page(
        &self,
        shard: &str,
        now: DateTime<Utc>,
        limit: usize,
        start: Option<Item>,
    ) -> Result<DuePage, StoreError> {
        self.inner.due_page(shard, now, limit, start).await
    }
    async fn legacy_due_page(
        &self,
        status: CommentStatus,
        now: DateTime<Utc>,
        limit: usize,
        start: Option<Item>,
    ) -> Result<DuePage, StoreError> {
        self.inner.legacy_due_page(status, now, limit, start).await
    }
    async fn requeue(
        &self,
        id: &str,
        p: Precondition<'_>,
        t: &Transition,
        now: DateTime<Utc>,
    ) -> Result<Requeued, StoreError> {
        let requeued = self.inner.requeue(id, p, t, now).await?;
        if matches!(requeued, Requeued::Yes { .. }) {
            self.count(id);
        }
        Ok(requeued)
    }
    async fn get(&self, id: &str) -> Result<Option<Item>, StoreError> {
        self.inner.get(id).await
    }
}

/// Over budget, each waiting comment gets its own turn in the account's queue (spaced by the rate the budget
/// really grants), comes back at it and takes its call: five writes in all, never a retry every slot.
#[tokio::test]
async fn a_comment_deferred_for_budget_waits_for_its_turn_and_is_written_at_most_five_times() {
    const LIMIT: u32 = 13;
    let app = spawn_app_with(|c| {
        c.posts_budget = Budget {
            limit: LIMIT,
            window: std::time::Duration::from_secs(3600),
        }
    })
    .await;
    let table = Arc::new(CountedWrites {
        inner: DynamoCommentStore::new(app.replier_dynamodb.clone(), &app.comments_table),
        writes: Mutex::default(),
    });
    let replier = Replier::with_ports(
        app.config.clone(),
        Ports {
            comments: table.clone(),
            campaigns: app.campaign_source(),
            accounts: Arc::new(AccountStateStore::new(
                app.replier_dynamodb.clone(),
                &app.accounts_table,
            )),
            sender: Arc::new(GraphClient::from_config(&app.config).unwrap()),
            tokens: app.tokens.clone(),
            clock: app.clock.clone(),
        },
    )
    .unwrap();
    let ids: Vec<String> = (0..LIMIT + 4).map(|i| format!("c-queued-{i:02}")).collect();
    // Stored as the webhook stores them (its own client: the replier's role may not put items).
    let webhook = DynamoCommentStore::new(app.dynamodb.clone(), &app.comments_table);
    for id in &ids {
        let record = comment(id, TimeDelta::minutes(1), app.now());
        assert_eq!(webhook.insert_new(&record).await.unwrap(), Inserted::Stored);
        table.count(id);
    }
    let report = replier
        .process_stream_event(&app.stream_event(&ids).await)
        .await;

    assert_eq!(report.counts.rate_limited, 4, "{:?}", report.counts);
    let mut turns = Vec::new();
    for id in &ids {
        let stored = app.stored(id).await;
        if stored.status == CommentStatus::Retry {
            assert_eq!(stored.status_reason.as_deref(), Some("rate_limited"));
            assert_eq!(stored.attempts, None, "deferred before any claim");
            assert_eq!(stored.due(), stored.queue_turn());
            turns.push((stored.queue_turn(), id.clone()));
        }
    }
    turns.sort();
    // Each turn one usable call after the other (12 of 13 slots' worth of 13 an hour: one every 5 minutes).
    for pair in turns.windows(2) {
        assert_eq!(pair[1].0 - pair[0].0, TimeDelta::minutes(5), "{turns:?}");
    }
    assert!(turns[0].0 > app.now() + TimeDelta::hours(1), "{turns:?}");

    // At each turn the sweep puts the comment back and it takes its call.
    for (turn, id) in &turns {
        app.advance_past(*turn);
        let summary = replier.sweep().await.unwrap();
        assert_eq!(summary.requeued, 1, "{summary:?}");
        let report = replier
            .process_stream_event(&app.stream_event(&[id]).await)
            .await;
        assert_eq!(report.counts.rate_limited, 0, "{id} at {turn}");
        assert_eq!(app.stored(id).await.status, CommentStatus::Replied);
    }

    for id in &ids {
        let deferred = turns.iter().any(|(_, t)| t == id);
        let writes = table.of(id);
        assert_eq!(
            writes,
            if deferred { 5 } else { 3 },
            "{id}: insert, (defer, requeue,) claim, outcome"
        );
    }
    assert_eq!(app.sim.sim.log().len(), ids.len(), "one call per comment");
}
