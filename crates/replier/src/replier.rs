//! The replier: built once per cold start from its ports, then invoked with Lambda's JSON. For each comment
//! the orchestrator reads what a decision needs, lets [`crate::decide`] decide, and writes the decision under
//! its precondition: `PENDING` before a claim, the claim while sending. Nothing here sends twice: the claim is
//! a conditional write only one invocation can win, and a send whose fate is unknown is marked
//! `unconfirmed_send`, so Meta's "already replied" to the next attempt is recorded as the reply it most
//! likely is.

use crate::accounts::AccountStateStore;
use crate::accounts::{AccountState, TurnRequest};
use crate::backoff::delta;
use crate::campaigns::CampaignCache;
use crate::config::ReplierConfig;
use crate::decide::{
    self, AfterBudget, BeforeClaim, BudgetFirst, Decision, Effect, Facts, Policy, Sent,
};
use crate::graph::GraphClient;
use crate::lambda::Sweeper;
use crate::lanes::{Lanes, Waiting};
use crate::outcome::{RecordError, RecordOutcome};
use crate::ports::{AccountLedger, ReplySender};
use crate::stream::{self, BatchReport};
use crate::sweep::{self, SweepSummary};
use crate::tokens::{ReplierSecrets, SendTarget, TokenSource};
use crate::{HandlerError, StartupError};
use aws_lambda_events::event::dynamodb::EventRecord;
use chrono::{DateTime, Utc};
use reply_core::campaign::{self, Verdict};
use reply_core::clock::{Clock, SystemClock};
use reply_core::comment::{CommentRecord, format_time};
use reply_core::lifecycle::{
    Claim, CommentStatus, Precondition, ReplyChoice, StatusReason, Written,
};
use reply_core::secrets::{CachedSecrets, SecretSource};
use reply_core::store::campaigns::{CampaignSource, DynamoCampaignStore};
use reply_core::store::dynamo::{DynamoCommentStore, load_sdk_config, with_request_timeout};
use reply_core::store::{CommentTable, StoreError};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod public;

/// Token re-reads after Meta rejects a token happen at most this often.
pub const TOKEN_INVALIDATION_INTERVAL: Duration = Duration::from_secs(30);

/// What the replier is built from besides its configuration, with DynamoDB as the backend of both tables and
/// the Graph API client built from the configuration; the local stack and tests pass their own.
#[derive(Debug, Clone)]
pub struct ReplierParts {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub tokens: Arc<dyn TokenSource>,
    pub clock: Arc<dyn Clock>,
}

/// Every port, for callers that replace one (fault injection, fakes).
#[derive(Debug, Clone)]
pub struct Ports {
    pub comments: Arc<dyn CommentTable>,
    pub campaigns: Arc<dyn CampaignSource>,
    pub accounts: Arc<dyn AccountLedger>,
    pub sender: Arc<dyn ReplySender>,
    pub tokens: Arc<dyn TokenSource>,
    pub clock: Arc<dyn Clock>,
}

impl Ports {
    /// The production adapters over one DynamoDB client.
    /// Every request of `parts.dynamodb` is bounded by `DYNAMODB_TIMEOUT_SECS`, which the claim timeout is
    /// validated against.
    pub fn dynamodb(config: &ReplierConfig, parts: ReplierParts) -> Result<Self, StartupError> {
        let dynamodb = with_request_timeout(&parts.dynamodb, config.dynamodb_timeout);
        Ok(Self {
            comments: Arc::new(DynamoCommentStore::new(
                dynamodb.clone(),
                &config.table_name,
            )),
            campaigns: Arc::new(DynamoCampaignStore::new(
                dynamodb.clone(),
                &config.campaigns_table_name,
            )),
            accounts: Arc::new(
                AccountStateStore::new(dynamodb, &config.account_state_table_name)
                    .with_request_timeout(config.dynamodb_timeout),
            ),
            sender: Arc::new(GraphClient::from_config(config)?),
            tokens: parts.tokens,
            clock: parts.clock,
        })
    }
}

/// Everything an invocation needs, built once per cold start.
#[derive(Debug)]
pub struct Replier {
    config: ReplierConfig,
    policy: Policy,
    ports: Ports,
    campaigns: CampaignCache,
    lanes: Lanes,
    last_invalidation: Mutex<Option<Instant>>,
}

impl Replier {
    /// Production wiring: DynamoDB from the standard AWS configuration, tokens from the environment or Secrets
    /// Manager (`SECRET_ARN`), the system clock. Fails the cold start on a missing token.
    pub async fn from_config(config: ReplierConfig) -> Result<Self, StartupError> {
        let sdk = load_sdk_config().await;
        let tokens = CachedSecrets::load(
            SecretSource::from_env(&sdk),
            ReplierSecrets::KEYS,
            ReplierSecrets::from_values,
            config.secrets_ttl,
        )
        .await?;
        let parts = ReplierParts {
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            tokens: Arc::new(tokens),
            clock: Arc::new(SystemClock),
        };
        Self::from_parts(config, parts)
    }

    /// DynamoDB and the Graph API client as deployed, with the given tokens and clock.
    pub fn from_parts(
        mut config: ReplierConfig,
        parts: ReplierParts,
    ) -> Result<Self, StartupError> {
        config.validate()?;
        let ports = Ports::dynamodb(&config, parts)?;
        Self::with_ports(config, ports)
    }

    /// Any ports.
    pub fn with_ports(mut config: ReplierConfig, ports: Ports) -> Result<Self, StartupError> {
        config.validate()?;
        Ok(Self {
            policy: Policy::from(&config),
            campaigns: CampaignCache::new(ports.campaigns.clone(), config.campaigns_ttl),
            config,
            ports,
            lanes: Lanes::default(),
            last_invalidation: Mutex::new(None),
        })
    }

    pub fn config(&self) -> &ReplierConfig {
        &self.config
    }

    /// The Lambda entry: a DynamoDB stream batch answers with its batch item failures; a scheduled
    /// (EventBridge) event runs the sweep and answers with its summary.
    pub async fn handle(&self, event: Value) -> Result<Value, HandlerError> {
        if event.get("Records").is_some_and(Value::is_array) {
            let report = self.process_stream_event(&event).await;
            report.counts.emit();
            return Ok(serde_json::to_value(&report.response).unwrap_or_default());
        }
        if crate::lambda::is_scheduled(&event) {
            let summary = self.sweep().await.map_err(HandlerError::Sweep)?;
            if summary.errors > 0 {
                return Err(HandlerError::SweepIncomplete(summary.errors));
            }
            return Ok(serde_json::to_value(summary).unwrap_or_default());
        }
        tracing::error!("ignoring an event of unknown shape");
        Err(HandlerError::UnknownEvent)
    }

    /// Runs one sweep (the scheduled invocation).
    pub async fn sweep(&self) -> Result<SweepSummary, StoreError> {
        self.sweeper().run().await
    }

    /// The sweep over this replier's comments table and clock.
    pub fn sweeper(&self) -> Sweeper {
        Sweeper {
            comments: self.ports.comments.clone(),
            clock: self.ports.clock.clone(),
            settings: sweep::Settings::from(&self.config),
        }
    }

    /// A stream event as Lambda delivers it (JSON): the response for Lambda and what the batch did.
    pub async fn process_stream_event(&self, event: &Value) -> BatchReport {
        let (records, unparseable) = stream::parse_records(event);
        let mut report = self.process_records(records).await;
        report.counts.records_ignored += unparseable;
        report
    }

    async fn process_records(&self, records: Vec<EventRecord>) -> BatchReport {
        stream::process_batch(
            records,
            self.config.record_concurrency,
            |comment, waiting| async move { self.process_comment(&comment, &waiting).await },
        )
        .await
    }

    /// One comment, start to finish: read, decide, write, at each of the three points where the comment can
    /// be settled (before the claim, after the budget, after the send).
    pub async fn process_comment(
        &self,
        comment: &CommentRecord,
        waiting: &Waiting,
    ) -> Result<RecordOutcome, RecordError> {
        // However this comment leaves the budget step (or skips it), it no longer waits for it.
        let passing = waiting.one_passing();
        if comment.status == CommentStatus::Replied {
            return self.process_queued_public_reply(comment).await;
        }
        let now = self.ports.clock.now();
        let id = comment.comment_id.as_str();
        let account_id = comment.account_id.as_str();
        if let Some(decision) = decide::closed_window(comment, now, &self.policy) {
            return self.settle_unclaimed(comment, decision, now).await;
        }
        // Which reply, before anything costs a call or budget: a comment no campaign answers is skipped here.
        let campaigns = self.campaigns.of(account_id).await?;
        let verdict = campaign::decide(comment, &campaigns, self.config.reply_text.as_ref());
        let (text, public_text, fresh) = match verdict {
            Verdict::Skip(reason) => {
                let decision = decide::unanswered(reason);
                return self.settle_unclaimed(comment, decision, now).await;
            }
            Verdict::TooLong(too_long) => {
                tracing::error!(
                    comment_id = id,
                    bytes = too_long.0,
                    "the reply text is too long for this commenter"
                );
                (Err(too_long), None, None)
            }
            Verdict::Reply { choice, fresh } => (
                Ok(choice.text.clone()),
                choice.public_reply.clone(),
                fresh.then_some(choice),
            ),
        };
        let account = self.ports.accounts.get(account_id).await?;
        let secrets = self.ports.tokens.current().await;
        let target = secrets.target_for(account_id);
        let facts = Facts {
            comment,
            account: &account,
            target: target.as_ref(),
            text,
        };
        // A reply decided now is frozen by whichever write comes next: a hold, a defer or the claim.
        let (text, target) = match decide::before_claim(facts, now, &self.policy, rand::random()) {
            BeforeClaim::Claim { text, target } => (text, target),
            BeforeClaim::Settle(mut decision) => {
                log_hold(comment, &decision, target.as_ref());
                freeze(&mut decision, fresh.as_ref());
                return self.settle_unclaimed(comment, decision, now).await;
            }
        };

        // The budget before the claim: a comment deferred for budget is then written once (the defer), not
        // claimed, released and claimed again.
        let (bucket, budget) = decide::budget_for(comment, &self.policy);
        if let Some(outcome) = self
            .wait_for_budget(comment, &account, waiting, fresh.as_ref())
            .await?
        {
            return Ok(outcome);
        }
        drop(passing);
        let now = self.ports.clock.now();
        let claimed_until = now + delta(self.config.claim_timeout);
        let claim = self
            .ports
            .comments
            .claim(id, now, claimed_until, fresh.as_ref())
            .await?;
        let Some(claim) = claim else {
            self.ports
                .accounts
                .give_back(account_id, bucket, budget, now);
            return Ok(RecordOutcome::DuplicateSkipped);
        };

        let result = self.ports.sender.send(&target, id, &text).await;
        let now = self.ports.clock.now();
        let sent = Sent {
            result: &result,
            claim: &claim,
            comment,
            account: &account,
            fingerprint: &target.fingerprint,
        };
        let mut decision = decide::after_send(&sent, now, &self.policy, rand::random());
        // The public reply starts with the write that records the private one, so it is never lost between.
        let public = match (&decision.outcome, public_text.as_deref()) {
            (RecordOutcome::Replied { .. }, Some(public_text)) => {
                let (claim_id, until) = self.public_claim(now);
                decision.transition = decision
                    .transition
                    .public_reply_claim(claim_id.clone(), until);
                Some((claim_id, public_text))
            }
            _ => None,
        };
        let outcome = self.settle_claimed(comment, &claim, decision, now).await?;
        match (outcome, public) {
            (RecordOutcome::Replied { confirmed }, Some((claim_id, text))) => {
                let public = self
                    .attempt_public_reply(public::Attempt {
                        comment,
                        claim_id,
                        text,
                        number: 1,
                        unconfirmed: false,
                        account: Some(&account),
                    })
                    .await?;
                Ok(RecordOutcome::RepliedWithPublic { confirmed, public })
            }
            (outcome, _) => Ok(outcome),
        }
    }

    /// Takes a call of the account's budget for `comment` (`None`), or defers it to its turn in the account's
    /// queue (the outcome). Live comments wait here for a call that frees up within [`decide::LIVE_WAIT_MAX`].
    /// Each take and reservation happens in the account's lane (see [`crate::lanes`]), with the clock read
    /// inside it: a slot must be taken at the time it is spent in, or this instance could spend a slot that
    /// the others already count as closed.
    async fn wait_for_budget(
        &self,
        comment: &CommentRecord,
        account: &AccountState,
        waiting: &Waiting,
        fresh: Option<&ReplyChoice>,
    ) -> Result<Option<RecordOutcome>, RecordError> {
        let account_id = comment.account_id.as_str();
        let (bucket, budget) = decide::budget_for(comment, &self.policy);
        let started = Instant::now();
        let now = self.ports.clock.now();
        let mut queue_from = match decide::budget_first(comment, account, now, &self.policy) {
            BudgetFirst::Queue { from } => Some(from),
            BudgetFirst::Take => None,
        };
        while queue_from.is_none() {
            let lane = self.lanes.enter(account_id, bucket).await;
            let now = self.ports.clock.now();
            let grant = self
                .ports
                .accounts
                .take_budget(account_id, bucket, budget, now, waiting.count())
                .await?;
            drop(lane);
            match decide::after_budget(grant, comment, now, started.elapsed()) {
                AfterBudget::Send => return Ok(None),
                AfterBudget::WaitUntil(at) => {
                    let jitter = std::time::Duration::from_millis(rand::random::<u64>() % 20);
                    let wait = (at - now).to_std().unwrap_or_default() + jitter;
                    tokio::time::sleep(wait.min(decide::LIVE_WAIT_MAX)).await;
                }
                AfterBudget::Queue { from } => queue_from = Some(from),
            }
        }
        let lane = self.lanes.enter(account_id, bucket).await;
        let now = self.ports.clock.now();
        let request = TurnRequest {
            budget,
            from: queue_from.unwrap_or(now),
            known_tail: account.queue_tail(bucket),
            want: waiting.count(),
            now,
        };
        let turn = self
            .ports
            .accounts
            .reserve_turn(account_id, bucket, request)
            .await?;
        drop(lane);
        let mut decision = decide::deferred(turn, comment, now, &self.policy);
        freeze(&mut decision, fresh);
        self.settle_unclaimed(comment, decision, now)
            .await
            .map(Some)
    }

    /// Writes a decision taken before any claim; losing the race to another invocation is not an error.
    async fn settle_unclaimed(
        &self,
        comment: &CommentRecord,
        decision: Decision,
        now: DateTime<Utc>,
    ) -> Result<RecordOutcome, RecordError> {
        self.settle(comment, Precondition::Pending, decision, now)
            .await
    }

    /// Writes the decision under our claim.
    async fn settle_claimed(
        &self,
        comment: &CommentRecord,
        claim: &Claim,
        decision: Decision,
        now: DateTime<Utc>,
    ) -> Result<RecordOutcome, RecordError> {
        self.settle(
            comment,
            Precondition::Claimed(&claim.claim_id),
            decision,
            now,
        )
        .await
    }

    /// The decision's ledger writes around its transition, written under `precondition`.
    async fn settle(
        &self,
        comment: &CommentRecord,
        precondition: Precondition<'_>,
        decision: Decision,
        now: DateTime<Utc>,
    ) -> Result<RecordOutcome, RecordError> {
        self.apply(comment, &decision.before, now).await;
        let comment_id = comment.comment_id.as_str();
        let written = self
            .ports
            .comments
            .transition(comment_id, precondition, &decision.transition, now)
            .await?;
        self.apply(comment, &decision.after, now).await;
        Ok(match (written, precondition) {
            (Written::Yes, _) => decision.outcome,
            (Written::ConditionFailed, Precondition::Claimed(_)) => {
                tracing::warn!(
                    comment_id,
                    outcome = ?decision.outcome,
                    "the claim was taken over before the outcome could be written"
                );
                RecordOutcome::ClaimLost
            }
            (Written::ConditionFailed, _) => RecordOutcome::DuplicateSkipped,
        })
    }

    /// The ledger writes of a decision. Best effort: the comment's own state is what must be durable, and a
    /// lost pause or token mark only costs a refused call later.
    async fn apply(&self, comment: &CommentRecord, effects: &[Effect], now: DateTime<Utc>) {
        let account_id = comment.account_id.as_str();
        let comment_id = comment.comment_id.as_str();
        for effect in effects {
            match effect {
                Effect::PauseAccount { until, code } => {
                    tracing::warn!(account_id, code, paused_until = %format_time(*until), "Meta throttled or blocked the account; pausing it");
                    if let Err(e) = self
                        .ports
                        .accounts
                        .pause(account_id, *until, *code, now)
                        .await
                    {
                        tracing::warn!(account_id, error = %e, "could not record the account pause");
                    }
                }
                Effect::MarkTokenBad(fingerprint) => {
                    tracing::error!(
                        comment_id,
                        account_id,
                        token_fingerprint = %fingerprint,
                        "Meta rejected the account's token (190); holding its comments until the token changes"
                    );
                    if let Err(e) = self
                        .ports
                        .accounts
                        .mark_token_bad(account_id, fingerprint, now)
                        .await
                    {
                        tracing::warn!(account_id, error = %e, "could not record the rejected token fingerprint");
                    }
                }
                Effect::ClearBadToken(fingerprint) => {
                    if let Err(e) = self
                        .ports
                        .accounts
                        .clear_bad_token(account_id, fingerprint, now)
                        .await
                    {
                        tracing::warn!(account_id, error = %e, "could not clear the rejected token fingerprint");
                    }
                }
                Effect::RereadTokens => self.invalidate_tokens_throttled().await,
            }
        }
    }

    /// Asks the token source to re-read, at most once per [`TOKEN_INVALIDATION_INTERVAL`].
    async fn invalidate_tokens_throttled(&self) {
        let due = {
            let mut last = self
                .last_invalidation
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let due = last.is_none_or(|t| t.elapsed() >= TOKEN_INVALIDATION_INTERVAL);
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        if due {
            self.ports.tokens.invalidate().await;
        }
    }
}

/// Freezes a reply decided now on a comment that will be tried again (held or deferred), so that its next
/// attempt sends the same text; a final outcome needs no decision kept.
fn freeze(decision: &mut Decision, fresh: Option<&ReplyChoice>) {
    if matches!(
        decision.transition.status,
        CommentStatus::Retry | CommentStatus::TokenInvalid
    ) {
        decision.transition.choice = fresh.cloned();
    }
}

/// Says why a comment is held for its token before any call.
fn log_hold(comment: &CommentRecord, decision: &Decision, target: Option<&SendTarget>) {
    let comment_id = comment.comment_id.as_str();
    let account_id = comment.account_id.as_str();
    match &decision.transition.reason {
        Some(StatusReason::NoTokenConfigured) => tracing::error!(
            comment_id,
            account_id,
            "no token is configured for this account"
        ),
        Some(StatusReason::TokenInvalid) => tracing::warn!(
            comment_id,
            account_id,
            token_fingerprint = %target.map(|t| t.fingerprint.as_str()).unwrap_or_default(),
            "holding the comment: Meta rejected this account's current token"
        ),
        _ => {}
    }
}
