//! The public reply's orchestration: after the private reply is written `REPLIED` (which starts the public
//! reply `POSTING` in the same write), and when the stream brings back a `QUEUED` one. Each attempt takes a
//! call of the account's `PUBLIC_REPLIES_PER_HOUR` budget, reads the comment's replies first when an earlier
//! attempt may have published it, posts, and writes the outcome under its claim. Nothing here can touch the
//! private reply: it is already recorded, and every write here changes only the `public_reply_*` attributes
//! (and `due_at`, which a `REPLIED` comment holds only for its public reply).

use super::Replier;
use crate::accounts::{AccountState, Bucket, BudgetGrant};
use crate::backoff::delta;
use crate::decide::public::{after_post, retry_or_give_up};
use crate::outcome::{RecordError, RecordOutcome};
use chrono::{DateTime, Utc};
use reply_core::comment::CommentRecord;
use reply_core::lifecycle::{
    ConfirmedBy, ErrorFields, PublicPrecondition, PublicReplyMove, PublicReplyStatus, Written,
    new_claim_id,
};

/// One attempt at a comment's public reply, under a claim this invocation holds.
#[derive(Debug, Clone)]
pub(crate) struct Attempt<'a> {
    pub comment: &'a CommentRecord,
    pub claim_id: String,
    pub text: &'a str,
    /// This attempt's number, from 1.
    pub number: u32,
    /// An earlier attempt may have published it.
    pub unconfirmed: bool,
    /// The account's record when the caller just read it (the private reply's invocation), so that it is not
    /// read again; `None`: read it.
    pub account: Option<&'a AccountState>,
}

impl Replier {
    /// A new claim for a public reply, and when it goes stale.
    pub(crate) fn public_claim(&self, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
        (new_claim_id(), now + delta(self.config.claim_timeout))
    }

    /// A `QUEUED` public reply from the stream: claimed (only one invocation wins), then attempted.
    pub(crate) async fn process_queued_public_reply(
        &self,
        comment: &CommentRecord,
    ) -> Result<RecordOutcome, RecordError> {
        let Some(text) = comment.public_reply_text.as_deref() else {
            return Ok(RecordOutcome::DuplicateSkipped);
        };
        let id = comment.comment_id.as_str();
        let now = self.ports.clock.now();
        let (claim_id, until) = self.public_claim(now);
        // What the item says now, not the record's image: a redelivered old record must not forget a later
        // attempt that may have published.
        let Some(state) = self
            .ports
            .comments
            .claim_public_reply(id, &claim_id, until, now)
            .await?
        else {
            return Ok(RecordOutcome::DuplicateSkipped);
        };
        let public = self
            .attempt_public_reply(Attempt {
                comment,
                claim_id,
                text,
                number: state.attempts,
                unconfirmed: state.unconfirmed,
                account: None,
            })
            .await?;
        Ok(RecordOutcome::PublicReply { public })
    }

    /// One attempt, start to finish; where the public reply stands after it.
    pub(crate) async fn attempt_public_reply(
        &self,
        attempt: Attempt<'_>,
    ) -> Result<PublicReplyStatus, RecordError> {
        let comment = attempt.comment;
        let id = comment.comment_id.as_str();
        let account_id = comment.account_id.as_str();
        let fraction = rand::random::<f64>();
        let retry_later = |error: ErrorFields, wait: Option<std::time::Duration>, now| {
            retry_or_give_up(
                error,
                false,
                wait,
                attempt.number,
                comment.reply_deadline,
                now,
                &self.policy,
                fraction,
            )
        };
        let secrets = self.ports.tokens.current().await;
        let now = self.ports.clock.now();
        let Some(target) = secrets.target_for(account_id) else {
            let error = plain_error("no token is configured for this account");
            let change = retry_later(error, Some(self.policy.token_recheck), now);
            return self.write_public(&attempt, change, now).await;
        };
        let paused_until = match attempt.account {
            Some(account) => account.paused_until,
            None => self.ports.accounts.get(account_id).await?.paused_until,
        };
        if let Some(until) = paused_until.filter(|until| *until > now) {
            let wait = (until - now).to_std().ok();
            let change = retry_later(plain_error("account_paused"), wait, now);
            return self.write_public(&attempt, change, now).await;
        }
        let budget = self.policy.public_replies_budget;
        let grant = self
            .ports
            .accounts
            .take_budget(account_id, Bucket::PublicReplies, budget, now, 1)
            .await?;
        if let BudgetGrant::Exhausted { next_window } = grant {
            let wait = (next_window - now).to_std().ok();
            let change = retry_later(plain_error("rate_limited"), wait, now);
            return self.write_public(&attempt, change, now).await;
        }
        if attempt.unconfirmed {
            match self
                .ports
                .sender
                .public_replies_by(&target, id, account_id)
                .await
            {
                Ok(found) if !found.is_empty() => {
                    let now = self.ports.clock.now();
                    tracing::info!(
                        comment_id = id,
                        "the public reply of an earlier attempt was found among the comment's replies"
                    );
                    let change = PublicReplyMove::Posted {
                        reply_id: found.into_iter().next(),
                        at: now,
                        by: ConfirmedBy::Listing,
                    };
                    return self.write_public(&attempt, change, now).await;
                }
                Ok(_) => {}
                // Not knowing whether it is there, never post again: try the listing later.
                Err(failure) => {
                    let now = self.ports.clock.now();
                    let change = match after_post(
                        &failure,
                        attempt.number,
                        comment.reply_deadline,
                        now,
                        &self.policy,
                        fraction,
                    ) {
                        PublicReplyMove::Failed { error } => {
                            retry_later(error, Some(self.policy.retry_base), now)
                        }
                        other => other,
                    };
                    return self.write_public(&attempt, change, now).await;
                }
            }
        }
        let result = self
            .ports
            .sender
            .post_public_reply(&target, id, attempt.text)
            .await;
        let now = self.ports.clock.now();
        let change = after_post(
            &result,
            attempt.number,
            comment.reply_deadline,
            now,
            &self.policy,
            fraction,
        );
        self.write_public(&attempt, change, now).await
    }

    /// Writes the attempt's outcome under its claim. Losing the claim is no error: the sweep took it over
    /// (and marked it unconfirmed) or the webhook confirmed the reply meanwhile.
    async fn write_public(
        &self,
        attempt: &Attempt<'_>,
        change: PublicReplyMove,
        now: DateTime<Utc>,
    ) -> Result<PublicReplyStatus, RecordError> {
        let id = attempt.comment.comment_id.as_str();
        let status = change.status();
        let written = self
            .ports
            .comments
            .public_reply(
                id,
                PublicPrecondition::Claimed(&attempt.claim_id),
                &change,
                now,
            )
            .await?;
        match (&change, written) {
            (_, Written::ConditionFailed) => {
                tracing::warn!(
                    comment_id = id,
                    outcome = %status,
                    "the public reply's claim was taken over before its outcome could be written"
                );
            }
            (PublicReplyMove::Failed { error }, Written::Yes) => tracing::warn!(
                comment_id = id,
                attempt = attempt.number,
                code = error.code,
                subcode = error.subcode,
                "the public reply was given up"
            ),
            _ => {
                tracing::info!(comment_id = id, attempt = attempt.number, outcome = %status, "public reply")
            }
        }
        Ok(status)
    }
}

fn plain_error(message: &str) -> ErrorFields {
    ErrorFields {
        message: Some(message.to_owned()),
        ..ErrorFields::default()
    }
}
