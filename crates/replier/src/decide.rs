//! The replier's decisions, as pure functions. Given what the orchestrator ([`crate::Replier`]) read (the
//! comment, its account's record, its token, its text, the budget's answer, Meta's answer) and the time, each
//! returns one [`Decision`]: the transition to write, the outcome to report, and the account-ledger writes that
//! go with it. Nothing here does I/O or draws random numbers (the orchestrator passes a random fraction in),
//! so the whole decision table is unit-tested without DynamoDB.
//!
//! The order of the checks is the order of the costs they save: the window first (no read at all), then the
//! account's pause and token (one read, no claim), the text, and only then the claim, the budget and the call.

use crate::accounts::{AccountState, Bucket, BudgetGrant};
use crate::backoff::{self, delta};
use crate::classify::{Disposition, classify};
use crate::config::{Budget, ReplierConfig};
use crate::graph::SendResult;
use crate::outcome::RecordOutcome;
use crate::tokens::{SendTarget, TokenFingerprint};
use chrono::{DateTime, Utc};
use reply_core::campaign::TextTooLong;
use reply_core::comment::CommentRecord;
use reply_core::lifecycle::{
    Claim, CommentStatus, ErrorFields, ReplyFields, StatusReason, Transition,
};
use std::time::Duration;

pub mod public;

/// A 4xx answer without a Graph API error body is retried this many attempts, then the comment fails: it is
/// not Meta refusing the comment (that would say why), but something between us and Meta (a wrong host or
/// proxy) that retrying for 7 days would not fix.
pub const UNREADABLE_4XX_ATTEMPTS: u32 = 3;

/// The settings decisions depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub expiry_margin: Duration,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub token_recheck: Duration,
    pub blocked_pause: Duration,
    pub posts_budget: Budget,
    pub live_budget: Budget,
    pub public_replies_budget: Budget,
}

impl From<&ReplierConfig> for Policy {
    fn from(c: &ReplierConfig) -> Self {
        Self {
            expiry_margin: c.expiry_margin,
            retry_base: c.retry_base,
            retry_max: c.retry_max,
            token_recheck: c.token_recheck,
            blocked_pause: c.blocked_pause,
            posts_budget: c.posts_budget,
            live_budget: c.live_budget,
            public_replies_budget: c.public_replies_budget,
        }
    }
}

/// A write to the account ledger (or the token cache) that goes with a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Meta throttled or blocked the account: its other comments wait until `until`.
    PauseAccount { until: DateTime<Utc>, code: u32 },
    /// Meta rejected this token (`190`): the account's other comments wait for another one.
    MarkTokenBad(TokenFingerprint),
    /// A send with another token worked, so the rejected one is no longer in use.
    ClearBadToken(TokenFingerprint),
    /// Re-read the tokens soon (someone may have fixed the rejected one).
    RereadTokens,
}

/// What happens to a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub transition: Transition,
    pub outcome: RecordOutcome,
    /// Applied before the transition is written, so other comments of the account hold back sooner.
    pub before: Vec<Effect>,
    /// Applied once the transition write returned (whether or not a racing writer won).
    pub after: Vec<Effect>,
}

impl Decision {
    fn new(transition: Transition, outcome: RecordOutcome) -> Self {
        Self {
            transition,
            outcome,
            before: Vec::new(),
            after: Vec::new(),
        }
    }

    fn before(mut self, effect: Effect) -> Self {
        self.before.push(effect);
        self
    }

    fn after(mut self, effect: Effect) -> Self {
        self.after.push(effect);
        self
    }
}

/// What was read before a claim.
#[derive(Debug)]
pub struct Facts<'a> {
    pub comment: &'a CommentRecord,
    pub account: &'a AccountState,
    /// `None`: no token is configured for the account.
    pub target: Option<&'a SendTarget>,
    /// The reply for this commenter, or why it cannot be sent.
    pub text: Result<String, TextTooLong>,
}

/// Before the claim: settle the comment without a call, or go on and send.
// One value per comment, moved once: boxing the larger variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum BeforeClaim {
    /// Write this under `Precondition::Pending`.
    Settle(Decision),
    /// Claim the comment and send this text with this token.
    Claim { text: String, target: SendTarget },
}

/// What to do about the account's budget, before any claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetFirst {
    /// Ask the budget for a call.
    Take,
    /// The account has a queue and this comment has no turn yet: queue behind it (the calls that free up are
    /// the queue's), from `from`.
    Queue { from: DateTime<Utc> },
}

/// After asking the account's budget for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterBudget {
    /// Claim and send.
    Send,
    /// A Live comment: a call frees up this soon, so wait for it here rather than through the sweep (the
    /// broadcast may not last).
    WaitUntil(DateTime<Utc>),
    /// Take a turn in the account's queue, from `from`.
    Queue { from: DateTime<Utc> },
}

/// Live comments wait inside the invocation for a call this far away at most.
pub const LIVE_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(2);

/// The last moment a retry may be scheduled for this comment.
pub fn latest_retry(comment: &CommentRecord, policy: &Policy) -> DateTime<Utc> {
    backoff::latest_retry(comment.reply_deadline, policy.expiry_margin)
}

/// Which budget a reply to this comment counts against.
pub fn budget_for(comment: &CommentRecord, policy: &Policy) -> (Bucket, Budget) {
    if comment.is_live() {
        (Bucket::Live, policy.live_budget)
    } else {
        (Bucket::Posts, policy.posts_budget)
    }
}

/// The window check, which needs nothing read: too close to the deadline is expired rather than sent.
pub fn closed_window(
    comment: &CommentRecord,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Option<Decision> {
    (now > comment.reply_deadline - delta(policy.expiry_margin)).then(window_closed)
}

/// The checks that need the account's record and token but no claim, in order: paused, no token, rejected
/// token, text too long.
pub fn before_claim(
    facts: Facts<'_>,
    now: DateTime<Utc>,
    policy: &Policy,
    fraction: f64,
) -> BeforeClaim {
    let latest = latest_retry(facts.comment, policy);
    if let Some(until) = facts.account.paused_until.filter(|u| *u > now) {
        let jitter = backoff::WINDOW_JITTER_MAX.mul_f64(fraction.clamp(0.0, 1.0));
        return BeforeClaim::Settle(
            match backoff::schedule(now, until + delta(jitter), None, latest) {
                Some(at) => retry(StatusReason::AccountPaused, at, false),
                None => window_closed(),
            },
        );
    }
    let Some(target) = facts.target else {
        return BeforeClaim::Settle(hold_for_token(
            StatusReason::NoTokenConfigured,
            None,
            now,
            latest,
            policy,
        ));
    };
    if facts.account.bad_token.as_ref() == Some(&target.fingerprint) {
        let hold = hold_for_token(
            StatusReason::TokenInvalid,
            Some(&target.fingerprint),
            now,
            latest,
            policy,
        );
        return BeforeClaim::Settle(hold.before(Effect::RereadTokens));
    }
    match facts.text {
        Ok(text) => BeforeClaim::Claim {
            text,
            target: target.clone(),
        },
        Err(_) => BeforeClaim::Settle(failed(StatusReason::ReplyTextTooLong, None)),
    }
}

/// Whether the comment may ask for a call, or must queue behind the account's waiting comments.
pub fn budget_first(
    comment: &CommentRecord,
    account: &AccountState,
    now: DateTime<Utc>,
    policy: &Policy,
) -> BudgetFirst {
    let (bucket, _) = budget_for(comment, policy);
    match account.queue_tail(bucket) {
        Some(tail) if comment.queue_turn.is_none() && tail > now => {
            BudgetFirst::Queue { from: now }
        }
        _ => BudgetFirst::Take,
    }
}

/// After the budget answered; `waited` is how long this comment has already waited inside the invocation.
pub fn after_budget(
    grant: BudgetGrant,
    comment: &CommentRecord,
    now: DateTime<Utc>,
    waited: std::time::Duration,
) -> AfterBudget {
    match grant {
        BudgetGrant::Granted => AfterBudget::Send,
        BudgetGrant::Exhausted { next_window } => {
            let soon = next_window - now <= delta(LIVE_WAIT_MAX.saturating_sub(waited));
            if comment.is_live() && soon {
                AfterBudget::WaitUntil(next_window)
            } else {
                AfterBudget::Queue { from: next_window }
            }
        }
    }
}

/// A comment deferred to its turn in the account's queue (no claim was taken: the write is the defer itself).
pub fn deferred(
    turn: DateTime<Utc>,
    comment: &CommentRecord,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Decision {
    let latest = latest_retry(comment, policy);
    match backoff::schedule(now, turn, None, latest) {
        Some(at) => {
            let mut decision = retry(StatusReason::RateLimited, at, false);
            decision.transition = decision.transition.queue_turn(at);
            decision
        }
        None => window_closed(),
    }
}

/// One send, and what it was made from.
#[derive(Debug)]
pub struct Sent<'a> {
    pub result: &'a SendResult,
    pub claim: &'a Claim,
    pub comment: &'a CommentRecord,
    pub account: &'a AccountState,
    /// The token the reply was sent with.
    pub fingerprint: &'a TokenFingerprint,
}

/// After the send: Meta's answer, classified, with what we know of earlier attempts.
pub fn after_send(sent: &Sent<'_>, now: DateTime<Utc>, policy: &Policy, fraction: f64) -> Decision {
    let Sent {
        result,
        claim,
        comment,
        account,
        fingerprint,
    } = *sent;
    let latest = latest_retry(comment, policy);
    let errors = error_fields(result);
    match classify(result, claim.unconfirmed_send) {
        Disposition::Replied {
            recipient_id,
            message_id,
            confirmed,
        } => {
            let reason = (!confirmed).then_some(StatusReason::ProbablySentEarlier);
            let transition = Transition::new(CommentStatus::Replied, reason)
                .errors(if confirmed {
                    ErrorFields::default()
                } else {
                    errors
                })
                .replied(ReplyFields {
                    replied_at: now,
                    confirmed,
                    message_id,
                    recipient_id,
                });
            let decision = Decision::new(transition, RecordOutcome::Replied { confirmed });
            match &account.bad_token {
                Some(bad) => decision.after(Effect::ClearBadToken(bad.clone())),
                None => decision,
            }
        }
        Disposition::Failed { reason } => failed(reason, Some(errors)),
        Disposition::Expired => Decision::new(
            Transition::new(
                CommentStatus::Expired,
                Some(StatusReason::MetaOutsideWindow),
            )
            .errors(errors),
            RecordOutcome::Expired {
                reason: StatusReason::MetaOutsideWindow,
            },
        ),
        Disposition::TokenInvalid => {
            let decision =
                match backoff::schedule(now, now + delta(policy.token_recheck), None, latest) {
                    Some(at) => Decision::new(
                        Transition::new(
                            CommentStatus::TokenInvalid,
                            Some(StatusReason::TokenInvalid),
                        )
                        .at(at)
                        .errors(errors)
                        .token_fingerprint(fingerprint.as_str()),
                        RecordOutcome::TokenInvalid {
                            next_attempt_at: at,
                        },
                    ),
                    None => window_closed(),
                };
            decision
                .before(Effect::MarkTokenBad(fingerprint.clone()))
                .before(Effect::RereadTokens)
        }
        Disposition::Retry {
            reason: StatusReason::Http(status),
            ambiguous: false,
            ..
        } if (400..500).contains(&status) && claim.attempts >= UNREADABLE_4XX_ATTEMPTS => {
            failed(StatusReason::Http(status), Some(errors))
        }
        Disposition::Retry {
            reason,
            pause,
            ambiguous,
            regain_after,
        } => {
            let pause_effect = pause.map(|kind| Effect::PauseAccount {
                until: backoff::pause_until(
                    now,
                    kind,
                    regain_after,
                    policy.retry_base,
                    policy.blocked_pause,
                ),
                code: errors.code.unwrap_or_default(),
            });
            let mut decision =
                match retry_time(now, claim.attempts, regain_after, latest, policy, fraction) {
                    Some(at) => {
                        let mut d = retry(reason, at, pause.is_some());
                        d.transition = d.transition.errors(errors).unconfirmed_send(ambiguous);
                        d
                    }
                    None => {
                        let mut d = window_closed();
                        d.transition = d.transition.unconfirmed_send(ambiguous);
                        d
                    }
                };
            if let Some(effect) = pause_effect {
                decision = decision.before(effect);
            }
            decision
        }
    }
}

/// When to try a claimed comment again: the configured backoff with full jitter, never before Meta's
/// `regain_after`, and `None` when that would fall after `latest` (the comment should expire instead).
fn retry_time(
    now: DateTime<Utc>,
    attempts: u32,
    regain_after: Option<Duration>,
    latest: DateTime<Utc>,
    policy: &Policy,
    fraction: f64,
) -> Option<DateTime<Utc>> {
    backoff::retry_at(
        now,
        attempts,
        policy.retry_base,
        policy.retry_max,
        regain_after,
        latest,
        fraction,
    )
}

fn window_closed() -> Decision {
    Decision::new(
        Transition::new(
            CommentStatus::Expired,
            Some(StatusReason::ReplyWindowClosed),
        ),
        RecordOutcome::Expired {
            reason: StatusReason::ReplyWindowClosed,
        },
    )
}

fn retry(reason: StatusReason, at: DateTime<Utc>, paused_account: bool) -> Decision {
    Decision::new(
        Transition::new(CommentStatus::Retry, Some(reason.clone())).at(at),
        RecordOutcome::Retry {
            reason,
            next_attempt_at: at,
            paused_account,
        },
    )
}

/// Not answered, by decision (no campaign matched, or the comment's campaign stopped): `SKIPPED`, out of the
/// `due` index, without a call and without spending budget.
pub fn unanswered(reason: StatusReason) -> Decision {
    Decision::new(
        Transition::new(CommentStatus::Skipped, Some(reason.clone())),
        RecordOutcome::Skipped { reason },
    )
}

fn failed(reason: StatusReason, errors: Option<ErrorFields>) -> Decision {
    let mut transition = Transition::new(CommentStatus::Failed, Some(reason.clone()));
    transition.errors = errors;
    Decision::new(transition, RecordOutcome::Failed { reason })
}

/// `TOKEN_INVALID` without a call, to be looked at again after `TOKEN_RECHECK_SECS`.
fn hold_for_token(
    reason: StatusReason,
    fingerprint: Option<&TokenFingerprint>,
    now: DateTime<Utc>,
    latest: DateTime<Utc>,
    policy: &Policy,
) -> Decision {
    let Some(at) = backoff::schedule(now, now + delta(policy.token_recheck), None, latest) else {
        return window_closed();
    };
    let mut transition = Transition::new(CommentStatus::TokenInvalid, Some(reason)).at(at);
    if let Some(fp) = fingerprint {
        transition = transition.token_fingerprint(fp.as_str());
    }
    Decision::new(
        transition,
        RecordOutcome::TokenInvalid {
            next_attempt_at: at,
        },
    )
}

/// Meta's error details of a refused send, for the item.
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

#[cfg(test)]
mod tests;
