//! Replier invocations killed at the await points of the send path, as when a Lambda instance dies: the
//! replier's ports are wrapped, and at a point drawn by the campaign's generator the invocation's future is
//! dropped there (its other records die with it, as they would in Lambda) and the stream runner sees a
//! failed invocation.
//!
//! An invocation runs inside [`Invocation::run`], which makes it the task's current invocation; a wrapper that
//! decides to kill marks it and never returns, and `run` drops the whole invocation. Calls outside an
//! invocation (the sweep's) are never killed.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use replier::accounts::{AccountState, Bucket, BudgetGrant, TurnRequest};
use replier::graph::SendResult;
use replier::ports::{AccountLedger, ReplySender};
use replier::tokens::SendTarget;
use replier::{Budget, TokenFingerprint};
use reply_core::comment::{CommentRecord, CommentStatus};
use reply_core::lifecycle::{
    Claim, Precondition, PublicPrecondition, PublicReplyMove, PublicReplyState, ReplyChoice,
    Transition, Written,
};
use reply_core::store::{
    CommentStore, CommentTable, DuePage, Inserted, Item, Requeued, StoreError,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Where an invocation can die on its way to a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KillPoint {
    /// Before reading the account's pause and token state.
    AccountRead,
    /// Before taking a call of the budget.
    BudgetTake,
    /// Before reserving a turn in the account's queue.
    TurnReserve,
    /// Before the conditional claim.
    Claim,
    /// After the claim was written, before the request to Meta.
    Claimed,
    /// After Meta answered (the reply may have gone out), before anything is recorded.
    Answered,
    /// Before writing a decision (outcome, deferral, hold).
    Settle,
    /// After the decision was written, before the batch is acknowledged.
    Settled,
    /// Before pausing the account or recording a rejected token.
    AccountWrite,
}

pub const ALL_POINTS: [KillPoint; 9] = [
    KillPoint::AccountRead,
    KillPoint::BudgetTake,
    KillPoint::TurnReserve,
    KillPoint::Claim,
    KillPoint::Claimed,
    KillPoint::Answered,
    KillPoint::Settle,
    KillPoint::Settled,
    KillPoint::AccountWrite,
];

/// The kill rate of a point until it has been hit once: the first invocation to reach a point dies there, so
/// that every point reached is hit however the run's timing falls.
const FIRST_HIT_RATE: f64 = 1.0;

/// One running invocation.
#[derive(Debug, Default)]
pub struct Invocation {
    killed: AtomicBool,
    notify: Notify,
}

tokio::task_local! {
    static CURRENT: Arc<Invocation>;
}

/// The invocation died.
#[derive(Debug, thiserror::Error)]
#[error("the invocation was killed")]
pub struct Killed;

impl Invocation {
    /// Runs `work` as one invocation; `Err(Killed)` when a kill point fired in it.
    pub async fn run<T>(work: impl Future<Output = T>) -> Result<T, Killed> {
        let invocation = Arc::new(Invocation::default());
        let watched = Arc::clone(&invocation);
        CURRENT
            .scope(invocation, async move {
                tokio::select! {
                    out = work => Ok(out),
                    () = watched.notify.notified() => Err(Killed),
                }
            })
            .await
    }
}

/// Decides where invocations die, and counts it.
#[derive(Debug)]
pub struct Killer {
    /// Probability that a given point of a given call kills.
    rate: f64,
    state: Mutex<(u64, BTreeMap<KillPoint, u64>, bool)>,
}

impl Killer {
    pub fn new(rate: f64, seed: u64) -> Arc<Self> {
        Arc::new(Self {
            rate,
            state: Mutex::new((
                seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
                BTreeMap::new(),
                true,
            )),
        })
    }

    /// Disabled (once the attack is over), invocations die no more at random, but a point not hit yet still
    /// kills the first invocation that reaches it: every point the run reaches is hit, however its timing
    /// falls (a Live burst that happens to come at the end of the deliveries reaches the turn reservation only
    /// while the pipeline settles).
    pub fn set_enabled(&self, enabled: bool) {
        self.state.lock().unwrap().2 = enabled;
    }

    pub fn kills(&self) -> BTreeMap<KillPoint, u64> {
        self.state.lock().unwrap().1.clone()
    }

    /// At `point`: either returns, or kills the current invocation and never returns.
    async fn at(&self, point: KillPoint) {
        let Ok(invocation) = CURRENT.try_with(Arc::clone) else {
            return;
        };
        let kill = {
            let mut state = self.state.lock().unwrap();
            let (rng, kills, enabled) = &mut *state;
            *rng ^= *rng >> 12;
            *rng ^= *rng << 25;
            *rng ^= *rng >> 27;
            let unit = (rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
            let rate = if kills.contains_key(&point) {
                self.rate
            } else {
                self.rate.max(FIRST_HIT_RATE)
            };
            let first_reach = !kills.contains_key(&point);
            let kill = (*enabled || first_reach)
                && unit < rate
                && !invocation.killed.load(Ordering::SeqCst);
            if kill {
                *kills.entry(point).or_default() += 1;
            }
            kill
        };
        if kill || invocation.killed.load(Ordering::SeqCst) {
            invocation.killed.store(true, Ordering::SeqCst);
            invocation.notify.notify_one();
            std::future::pending::<()>().await;
        }
    }
}

/// The comments table, with kill points around the replier's writes.
#[derive(Debug)]
pub struct KillableComments {
    pub inner: Arc<dyn CommentTable>,
    pub killer: Arc<Killer>,
}

#[async_trait]
impl CommentStore for KillableComments {
    async fn insert_new(&self, record: &CommentRecord) -> Result<Inserted, StoreError> {
        self.inner.insert_new(record).await
    }
}

#[async_trait]
impl CommentTable for KillableComments {
    async fn claim(
        &self,
        id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        choice: Option<&ReplyChoice>,
    ) -> Result<Option<Claim>, StoreError> {
        self.killer.at(KillPoint::Claim).await;
        let claim = self.inner.claim(id, now, until, choice).await?;
        if claim.is_some() {
            self.killer.at(KillPoint::Claimed).await;
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
        self.killer.at(KillPoint::Settle).await;
        let written = self.inner.transition(id, p, t, now).await?;
        self.killer.at(KillPoint::Settled).await;
        Ok(written)
    }
    async fn public_reply(
        &self,
        id: &str,
        p: PublicPrecondition<'_>,
        change: &PublicReplyMove,
        now: DateTime<Utc>,
    ) -> Result<Written, StoreError> {
        self.killer.at(KillPoint::Settle).await;
        let written = self.inner.public_reply(id, p, change, now).await?;
        self.killer.at(KillPoint::Settled).await;
        Ok(written)
    }
    async fn claim_public_reply(
        &self,
        id: &str,
        claim_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<PublicReplyState>, StoreError> {
        self.killer.at(KillPoint::Claim).await;
        let claim = self
            .inner
            .claim_public_reply(id, claim_id, until, now)
            .await?;
        if claim.is_some() {
            self.killer.at(KillPoint::Claimed).await;
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
        self.inner.requeue(id, p, t, now).await
    }
    async fn get(&self, id: &str) -> Result<Option<Item>, StoreError> {
        self.inner.get(id).await
    }
}

/// The account ledger, with kill points.
#[derive(Debug)]
pub struct KillableLedger {
    pub inner: Arc<dyn AccountLedger>,
    pub killer: Arc<Killer>,
}

#[async_trait]
impl AccountLedger for KillableLedger {
    async fn get(&self, account_id: &str) -> Result<AccountState, StoreError> {
        self.killer.at(KillPoint::AccountRead).await;
        self.inner.get(account_id).await
    }
    async fn take_budget(
        &self,
        account_id: &str,
        bucket: Bucket,
        budget: Budget,
        now: DateTime<Utc>,
        want: u32,
    ) -> Result<BudgetGrant, StoreError> {
        self.killer.at(KillPoint::BudgetTake).await;
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
        self.killer.at(KillPoint::TurnReserve).await;
        self.inner.reserve_turn(account_id, bucket, request).await
    }
    async fn pause(
        &self,
        account_id: &str,
        until: DateTime<Utc>,
        code: u32,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.killer.at(KillPoint::AccountWrite).await;
        self.inner.pause(account_id, until, code, now).await
    }
    async fn mark_token_bad(
        &self,
        account_id: &str,
        fp: &TokenFingerprint,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.killer.at(KillPoint::AccountWrite).await;
        self.inner.mark_token_bad(account_id, fp, now).await
    }
    async fn clear_bad_token(
        &self,
        account_id: &str,
        fp: &TokenFingerprint,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.killer.at(KillPoint::AccountWrite).await;
        self.inner.clear_bad_token(account_id, fp, now).await
    }
}

/// The Graph API client, with a kill point after Meta answered.
#[derive(Debug)]
pub struct KillableSender {
    pub inner: Arc<dyn ReplySender>,
    pub killer: Arc<Killer>,
}

#[async_trait]
impl ReplySender for KillableSender {
    async fn send(&self, target: &SendTarget, comment_id: &str, text: &str) -> SendResult {
        let result = self.inner.send(target, comment_id, text).await;
        self.killer.at(KillPoint::Answered).await;
        result
    }
    async fn post_public_reply(
        &self,
        target: &SendTarget,
        comment_id: &str,
        text: &str,
    ) -> SendResult {
        let result = self.inner.post_public_reply(target, comment_id, text).await;
        self.killer.at(KillPoint::Answered).await;
        result
    }
    async fn public_replies_by(
        &self,
        target: &SendTarget,
        comment_id: &str,
        account_id: &str,
    ) -> Result<Vec<String>, SendResult> {
        self.inner
            .public_replies_by(target, comment_id, account_id)
            .await
    }
}
