//! The retry sweep, run on a schedule. It reads the sparse `retry_due` index for comments whose
//! `next_attempt_at` has come (`RETRY`, `TOKEN_INVALID`, and `SENDING` claims that went stale) and puts each
//! back to `PENDING`, which sends it through the table's stream again; so retries do not depend on the stream
//! keeping records (24 hours) or on Lambda's retry budget. A comment whose reply window has closed is expired
//! instead. A stale claim's invocation died or timed out, maybe after sending, so its comment is requeued with
//! `unconfirmed_send`.
//!
//! Every write is conditional on the `status`/`next_attempt_at` pair just read, so overlapping sweeps, or a
//! sweep racing a replier, change each comment at most once.

use crate::Replier;
use crate::attr;
use crate::backoff::delta;
use crate::process::reason;
use crate::store::{DueComment, Precondition, Transition, Written};
use aws_sdk_dynamodb::types::AttributeValue;
use futures::StreamExt;
use reply_core::comment::CommentStatus;
use reply_core::metrics::emit_counts;
use reply_core::store::StoreError;
use serde::Serialize;

/// The statuses the sweep looks at, in this order.
pub const SWEPT_STATUSES: [CommentStatus; 3] = [
    CommentStatus::Sending,
    CommentStatus::Retry,
    CommentStatus::TokenInvalid,
];

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepSummary {
    /// Due comments read from the index.
    pub due: u64,
    /// `RETRY` / `TOKEN_INVALID` comments put back to `PENDING`.
    pub requeued: u64,
    /// Stale `SENDING` claims put back to `PENDING` with `unconfirmed_send`.
    pub stale_claims_requeued: u64,
    /// Comments whose window closed while they waited.
    pub expired: u64,
    /// Comments that moved on between the read and the write.
    pub skipped: u64,
    /// Writes that failed; those comments are picked up by the next sweep.
    pub errors: u64,
    /// More comments were due than `SWEEP_MAX_ITEMS`; the next sweep continues.
    pub more_due: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Swept {
    Requeued { stale: bool },
    Expired,
    Skipped,
}

impl Replier {
    /// Runs one sweep. Fails only when the index cannot be read; failed writes are counted in the summary.
    pub async fn sweep(&self) -> Result<SweepSummary, StoreError> {
        let now = self.clock.now();
        let max = self.config.sweep_max_items;
        let mut due: Vec<DueComment> = Vec::new();
        let mut more_due = false;
        'statuses: for status in SWEPT_STATUSES {
            let mut start = None;
            loop {
                let (page, next) = self
                    .store
                    .due_page(status, now, max - due.len(), start)
                    .await?;
                due.extend(page);
                if due.len() >= max {
                    more_due = next.is_some() || status != CommentStatus::TokenInvalid;
                    break 'statuses;
                }
                match next {
                    Some(key) => start = Some(key),
                    None => break,
                }
            }
        }

        let mut summary = SweepSummary {
            due: due.len() as u64,
            more_due,
            ..SweepSummary::default()
        };
        let results: Vec<Result<Swept, StoreError>> = futures::stream::iter(due)
            .map(|item| async move { self.sweep_one(&item).await })
            .buffer_unordered(self.config.record_concurrency)
            .collect()
            .await;
        for result in results {
            match result {
                Ok(Swept::Requeued { stale: true }) => summary.stale_claims_requeued += 1,
                Ok(Swept::Requeued { stale: false }) => summary.requeued += 1,
                Ok(Swept::Expired) => summary.expired += 1,
                Ok(Swept::Skipped) => summary.skipped += 1,
                Err(error) => {
                    summary.errors += 1;
                    tracing::warn!(error = %error, cause = %reply_core::telemetry::error_sources(&error), "sweep write failed");
                }
            }
        }
        tracing::info!(summary = ?summary, "retry sweep done");
        emit_counts(
            crate::metrics::FUNCTION,
            &[],
            &[
                ("SweepDue", summary.due),
                ("SweepRequeued", summary.requeued),
                ("SweepStaleClaims", summary.stale_claims_requeued),
                ("RepliesExpired", summary.expired),
                ("SweepSkipped", summary.skipped),
                ("SweepErrors", summary.errors),
            ],
        );
        Ok(summary)
    }

    async fn sweep_one(&self, item: &DueComment) -> Result<Swept, StoreError> {
        let now = self.clock.now();
        let stale = item.status == CommentStatus::Sending;
        let why = match item.status {
            CommentStatus::Sending => "stale_claim",
            CommentStatus::TokenInvalid => "token_recheck",
            _ => "retry_due",
        };
        let mut requeue = Transition::new(CommentStatus::Pending, Some(why));
        let mut expire = Transition::new(CommentStatus::Expired, Some(reason::REPLY_WINDOW_CLOSED));
        if stale {
            requeue = requeue.set(attr::UNCONFIRMED_SEND, AttributeValue::Bool(true));
            expire = expire.set(attr::UNCONFIRMED_SEND, AttributeValue::Bool(true));
        }
        let open = Precondition::Due {
            status: item.status,
            next_attempt_at: &item.next_attempt_at,
            open_at: Some(now + delta(self.config.expiry_margin)),
        };
        if self
            .store
            .transition(&item.comment_id, open, &requeue, now)
            .await?
            == Written::Yes
        {
            tracing::info!(comment_id = %item.comment_id, from = %item.status, "requeued");
            return Ok(Swept::Requeued { stale });
        }
        // Either the window closed or the comment moved on; only the first can still match this condition.
        let unchanged = Precondition::Due {
            status: item.status,
            next_attempt_at: &item.next_attempt_at,
            open_at: None,
        };
        Ok(
            match self
                .store
                .transition(&item.comment_id, unchanged, &expire, now)
                .await?
            {
                Written::Yes => {
                    tracing::info!(comment_id = %item.comment_id, from = %item.status, "expired while waiting");
                    Swept::Expired
                }
                Written::ConditionFailed => Swept::Skipped,
            },
        )
    }
}
