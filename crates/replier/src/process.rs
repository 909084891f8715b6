//! One comment, start to finish. The checks that need no claim come first and move the comment straight out
//! of `PENDING` (window closed, account paused, token known bad, text too long); then the comment is claimed,
//! a call is taken from the account's budget, the reply is sent, and the outcome is written under the claim.
//!
//! Nothing here sends twice: the claim is a conditional write that only one invocation can win, and a send
//! whose fate is unknown is marked `unconfirmed_send`, so that Meta's "already replied" answer to the next
//! attempt is recorded as the reply it most likely is.

use crate::Replier;
use crate::accounts::{AccountState, Bucket, BudgetGrant};
use crate::attr;
use crate::backoff::{self, delta};
use crate::classify::{Disposition, classify};
use crate::graph::SendResult;
use crate::outcome::{RecordError, RecordOutcome};
use crate::store::{Claim, ErrorFields, Precondition, Transition, Written, s};
use crate::tokens::{SendTarget, TokenFingerprint};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use reply_core::comment::{CommentRecord, CommentStatus, format_time};

/// `status_reason` values the replier writes.
pub mod reason {
    pub const REPLY_WINDOW_CLOSED: &str = "reply_window_closed";
    pub const META_OUTSIDE_WINDOW: &str = "meta_outside_window";
    pub const ACCOUNT_PAUSED: &str = "account_paused";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const TOKEN_INVALID: &str = "token_invalid";
    pub const NO_TOKEN_CONFIGURED: &str = "no_token_configured";
    pub const REPLY_TEXT_TOO_LONG: &str = "reply_text_too_long";
    pub const INFRASTRUCTURE_ERROR: &str = "infrastructure_error";
    /// `REPLIED` with `confirmed=false`: Meta refused a repeat (`100/2534025`) after an ambiguous attempt.
    pub const PROBABLY_SENT_EARLIER: &str = "probably_sent_earlier";
}

impl Replier {
    /// When to try a claimed comment again: the configured backoff with full jitter, never before Meta's
    /// `regain_after`, and `None` when that would fall after `latest` (the comment should expire instead).
    fn retry_time(
        &self,
        now: DateTime<Utc>,
        attempts: u32,
        regain_after: Option<std::time::Duration>,
        latest: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        backoff::retry_at(
            now,
            attempts,
            self.config.retry_base,
            self.config.retry_max,
            regain_after,
            latest,
            rand::random::<f64>(),
        )
    }

    /// Processes a comment read from a stream record's new image.
    pub async fn process_comment(
        &self,
        comment: &CommentRecord,
    ) -> Result<RecordOutcome, RecordError> {
        let now = self.clock.now();
        let id = comment.comment_id.as_str();
        let account_id = comment.account_id.as_str();
        if now > comment.reply_deadline - delta(self.config.expiry_margin) {
            return self.expire_pending(id, now).await;
        }
        let latest = backoff::latest_retry(comment.reply_deadline, self.config.expiry_margin);
        let account = self.accounts.get(account_id).await?;

        if let Some(until) = account.paused_until.filter(|u| *u > now) {
            let jitter = backoff::WINDOW_JITTER_MAX.mul_f64(rand::random::<f64>());
            return match backoff::schedule(now, until + delta(jitter), None, latest) {
                Some(at) => {
                    let t =
                        Transition::new(CommentStatus::Retry, Some(reason::ACCOUNT_PAUSED)).at(at);
                    let outcome = RecordOutcome::Retry {
                        reason: reason::ACCOUNT_PAUSED.to_owned(),
                        next_attempt_at: at,
                        paused_account: false,
                    };
                    self.write_unclaimed(id, &t, now, outcome).await
                }
                None => self.expire_pending(id, now).await,
            };
        }

        let secrets = self.tokens.current().await;
        let Some(target) = secrets.target_for(account_id) else {
            tracing::error!(
                comment_id = id,
                account_id,
                "no token is configured for this account"
            );
            return self
                .hold_for_token(id, reason::NO_TOKEN_CONFIGURED, None, now, latest)
                .await;
        };
        if account.bad_token.as_ref() == Some(&target.fingerprint) {
            tracing::warn!(
                comment_id = id,
                account_id,
                token_fingerprint = %target.fingerprint,
                "holding the comment: Meta rejected this account's current token"
            );
            self.invalidate_tokens_throttled().await;
            return self
                .hold_for_token(
                    id,
                    reason::TOKEN_INVALID,
                    Some(&target.fingerprint),
                    now,
                    latest,
                )
                .await;
        }

        let text = match self
            .config
            .reply_text
            .render_checked(comment.commenter_username.as_deref())
        {
            Ok(text) => text,
            Err(too_long) => {
                tracing::error!(
                    comment_id = id,
                    bytes = too_long.0,
                    "the reply text is too long for this commenter"
                );
                let t = Transition::new(CommentStatus::Failed, Some(reason::REPLY_TEXT_TOO_LONG));
                let outcome = RecordOutcome::Failed {
                    reason: reason::REPLY_TEXT_TOO_LONG.to_owned(),
                };
                return self.write_unclaimed(id, &t, now, outcome).await;
            }
        };

        let Some(claim) = self
            .store
            .claim(id, now, now + delta(self.config.claim_timeout))
            .await?
        else {
            return Ok(RecordOutcome::DuplicateSkipped);
        };

        let (bucket, budget) = if comment.is_live() {
            (Bucket::Live, self.config.live_budget)
        } else {
            (Bucket::Posts, self.config.posts_budget)
        };
        match self
            .accounts
            .take_budget(account_id, bucket, budget, now)
            .await
        {
            Ok(BudgetGrant::Granted) => {}
            Ok(BudgetGrant::Exhausted { next_window }) => {
                let jitter = backoff::window_jitter(budget.window, rand::random::<f64>());
                return match backoff::schedule(now, next_window + delta(jitter), None, latest) {
                    Some(at) => {
                        let t = Transition::new(CommentStatus::Retry, Some(reason::RATE_LIMITED))
                            .at(at);
                        let outcome = RecordOutcome::Retry {
                            reason: reason::RATE_LIMITED.to_owned(),
                            next_attempt_at: at,
                            paused_account: false,
                        };
                        self.finish(id, &claim, &t, now, outcome).await
                    }
                    None => self.expire_claimed(id, &claim, false, now).await,
                };
            }
            Err(error) => {
                return self
                    .release_after_error(id, &claim, error, now, latest)
                    .await;
            }
        }

        let result = self.graph.send(&target, id, &text).await;
        let now = self.clock.now();
        let disposition = classify(&result, claim.unconfirmed_send);
        self.record_disposition(
            comment,
            &claim,
            &target,
            &account,
            &result,
            disposition,
            now,
            latest,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn record_disposition(
        &self,
        comment: &CommentRecord,
        claim: &Claim,
        target: &SendTarget,
        account: &AccountState,
        result: &SendResult,
        disposition: Disposition,
        now: DateTime<Utc>,
        latest: DateTime<Utc>,
    ) -> Result<RecordOutcome, RecordError> {
        let id = comment.comment_id.as_str();
        let account_id = comment.account_id.as_str();
        let errors = error_fields(result);
        match disposition {
            Disposition::Replied {
                recipient_id,
                message_id,
                confirmed,
            } => {
                let reason = (!confirmed).then_some(reason::PROBABLY_SENT_EARLIER);
                let mut t = Transition::new(CommentStatus::Replied, reason)
                    .errors(if confirmed {
                        ErrorFields::default()
                    } else {
                        errors
                    })
                    .set(attr::REPLIED_AT, s(&format_time(now)))
                    .set(attr::CONFIRMED, AttributeValue::Bool(confirmed));
                if let Some(m) = message_id {
                    t = t.set(attr::MESSAGE_ID, s(&m));
                }
                if let Some(r) = recipient_id {
                    t = t.set(attr::RECIPIENT_ID, s(&r));
                }
                let outcome = self
                    .finish(id, claim, &t, now, RecordOutcome::Replied { confirmed })
                    .await?;
                if let Some(bad) = &account.bad_token {
                    // This token works, so the one Meta rejected is no longer in use.
                    if let Err(e) = self.accounts.clear_bad_token(account_id, bad, now).await {
                        tracing::warn!(account_id, error = %e, "could not clear the rejected token fingerprint");
                    }
                }
                Ok(outcome)
            }
            Disposition::Failed { reason } => {
                let t = Transition::new(CommentStatus::Failed, Some(&reason)).errors(errors);
                self.finish(id, claim, &t, now, RecordOutcome::Failed { reason })
                    .await
            }
            Disposition::Expired => {
                let t = Transition::new(CommentStatus::Expired, Some(reason::META_OUTSIDE_WINDOW))
                    .errors(errors);
                let outcome = RecordOutcome::Expired {
                    reason: reason::META_OUTSIDE_WINDOW,
                };
                self.finish(id, claim, &t, now, outcome).await
            }
            Disposition::TokenInvalid => {
                tracing::error!(
                    comment_id = id,
                    account_id,
                    token_fingerprint = %target.fingerprint,
                    code = errors.code,
                    subcode = errors.subcode,
                    "Meta rejected the account's token (190); holding its comments until the token changes"
                );
                if let Err(e) = self
                    .accounts
                    .mark_token_bad(account_id, &target.fingerprint, now)
                    .await
                {
                    tracing::warn!(account_id, error = %e, "could not record the rejected token fingerprint");
                }
                self.invalidate_tokens_throttled().await;
                match backoff::schedule(now, now + delta(self.config.token_recheck), None, latest) {
                    Some(at) => {
                        let t = Transition::new(
                            CommentStatus::TokenInvalid,
                            Some(reason::TOKEN_INVALID),
                        )
                        .at(at)
                        .errors(errors)
                        .set(attr::TOKEN_FINGERPRINT, s(target.fingerprint.as_str()));
                        self.finish(
                            id,
                            claim,
                            &t,
                            now,
                            RecordOutcome::TokenInvalid {
                                next_attempt_at: at,
                            },
                        )
                        .await
                    }
                    None => self.expire_claimed(id, claim, false, now).await,
                }
            }
            Disposition::Retry {
                reason,
                pause,
                ambiguous,
                regain_after,
            } => {
                if let Some(kind) = pause {
                    let until =
                        backoff::pause_until(now, kind, regain_after, self.config.retry_base);
                    let code = errors.code.unwrap_or_default();
                    tracing::warn!(account_id, code, paused_until = %format_time(until), "Meta throttled or blocked the account; pausing it");
                    if let Err(e) = self.accounts.pause(account_id, until, code, now).await {
                        tracing::warn!(account_id, error = %e, "could not record the account pause");
                    }
                }
                let at = self.retry_time(now, claim.attempts, regain_after, latest);
                let Some(at) = at else {
                    return self.expire_claimed(id, claim, ambiguous, now).await;
                };
                let mut t = Transition::new(CommentStatus::Retry, Some(&reason))
                    .at(at)
                    .errors(errors);
                if ambiguous {
                    t = t.set(attr::UNCONFIRMED_SEND, AttributeValue::Bool(true));
                }
                let outcome = RecordOutcome::Retry {
                    reason,
                    next_attempt_at: at,
                    paused_account: pause.is_some(),
                };
                self.finish(id, claim, &t, now, outcome).await
            }
        }
    }

    /// Writes a decision taken before any claim; losing the race to another invocation is not an error.
    async fn write_unclaimed(
        &self,
        comment_id: &str,
        transition: &Transition,
        now: DateTime<Utc>,
        outcome: RecordOutcome,
    ) -> Result<RecordOutcome, RecordError> {
        match self
            .store
            .transition(comment_id, Precondition::Pending, transition, now)
            .await?
        {
            Written::Yes => Ok(outcome),
            Written::ConditionFailed => Ok(RecordOutcome::DuplicateSkipped),
        }
    }

    /// Writes the outcome under our claim.
    async fn finish(
        &self,
        comment_id: &str,
        claim: &Claim,
        transition: &Transition,
        now: DateTime<Utc>,
        outcome: RecordOutcome,
    ) -> Result<RecordOutcome, RecordError> {
        match self
            .store
            .transition(
                comment_id,
                Precondition::Claimed(&claim.claim_id),
                transition,
                now,
            )
            .await?
        {
            Written::Yes => Ok(outcome),
            Written::ConditionFailed => {
                tracing::warn!(
                    comment_id,
                    outcome = ?outcome,
                    "the claim was taken over before the outcome could be written"
                );
                Ok(RecordOutcome::ClaimLost)
            }
        }
    }

    async fn expire_pending(
        &self,
        comment_id: &str,
        now: DateTime<Utc>,
    ) -> Result<RecordOutcome, RecordError> {
        let t = Transition::new(CommentStatus::Expired, Some(reason::REPLY_WINDOW_CLOSED));
        let outcome = RecordOutcome::Expired {
            reason: reason::REPLY_WINDOW_CLOSED,
        };
        self.write_unclaimed(comment_id, &t, now, outcome).await
    }

    async fn expire_claimed(
        &self,
        comment_id: &str,
        claim: &Claim,
        ambiguous: bool,
        now: DateTime<Utc>,
    ) -> Result<RecordOutcome, RecordError> {
        let mut t = Transition::new(CommentStatus::Expired, Some(reason::REPLY_WINDOW_CLOSED));
        if ambiguous {
            t = t.set(attr::UNCONFIRMED_SEND, AttributeValue::Bool(true));
        }
        let outcome = RecordOutcome::Expired {
            reason: reason::REPLY_WINDOW_CLOSED,
        };
        self.finish(comment_id, claim, &t, now, outcome).await
    }

    /// `TOKEN_INVALID` without a call, to be looked at again after `TOKEN_RECHECK_SECS`.
    async fn hold_for_token(
        &self,
        comment_id: &str,
        why: &str,
        fingerprint: Option<&TokenFingerprint>,
        now: DateTime<Utc>,
        latest: DateTime<Utc>,
    ) -> Result<RecordOutcome, RecordError> {
        let Some(at) = backoff::schedule(now, now + delta(self.config.token_recheck), None, latest)
        else {
            return self.expire_pending(comment_id, now).await;
        };
        let mut t = Transition::new(CommentStatus::TokenInvalid, Some(why)).at(at);
        if let Some(fp) = fingerprint {
            t = t.set(attr::TOKEN_FINGERPRINT, s(fp.as_str()));
        }
        self.write_unclaimed(
            comment_id,
            &t,
            now,
            RecordOutcome::TokenInvalid {
                next_attempt_at: at,
            },
        )
        .await
    }

    /// A DynamoDB failure after the claim and before the send: hand the comment to a later retry if the table
    /// takes the write, else report the failure so that Lambda delivers the record again.
    async fn release_after_error(
        &self,
        comment_id: &str,
        claim: &Claim,
        error: reply_core::store::StoreError,
        now: DateTime<Utc>,
        latest: DateTime<Utc>,
    ) -> Result<RecordOutcome, RecordError> {
        tracing::warn!(comment_id, error = %error, cause = %reply_core::telemetry::error_sources(&error), "infrastructure error before sending");
        let at = self.retry_time(now, claim.attempts, None, latest);
        let Some(at) = at else {
            return Err(error.into());
        };
        let t = Transition::new(CommentStatus::Retry, Some(reason::INFRASTRUCTURE_ERROR)).at(at);
        let outcome = RecordOutcome::Retry {
            reason: reason::INFRASTRUCTURE_ERROR.to_owned(),
            next_attempt_at: at,
            paused_account: false,
        };
        match self.finish(comment_id, claim, &t, now, outcome).await {
            Ok(outcome) => Ok(outcome),
            Err(_) => Err(error.into()),
        }
    }

    /// Asks the token source to re-read, at most once per [`crate::TOKEN_INVALIDATION_INTERVAL`].
    pub(crate) async fn invalidate_tokens_throttled(&self) {
        let due = {
            let mut last = self
                .last_invalidation
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let due = last.is_none_or(|t| t.elapsed() >= crate::TOKEN_INVALIDATION_INTERVAL);
            if due {
                *last = Some(std::time::Instant::now());
            }
            due
        };
        if due {
            self.tokens.invalidate().await;
        }
    }
}

fn error_fields(result: &SendResult) -> ErrorFields {
    match result {
        SendResult::Refused { status, error, .. } => ErrorFields {
            http_status: Some(*status),
            code: error.as_ref().map(|e| e.code),
            subcode: error.as_ref().and_then(|e| e.subcode),
            message: error.as_ref().and_then(|e| e.message.clone()),
            fbtrace_id: error.as_ref().and_then(|e| e.fbtrace_id.clone()),
        },
        _ => ErrorFields::default(),
    }
}
