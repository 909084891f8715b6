//! The retry sweep, run on a schedule. It reads the sparse `retry_due` index for comments whose
//! `next_attempt_at` has come (`RETRY`, `TOKEN_INVALID`, and `SENDING` claims that went stale) and puts each
//! back to `PENDING`, which sends it through the table's stream again; so retries do not depend on the stream
//! keeping records (24 hours) or on Lambda's retry budget. A comment whose reply window has closed is expired
//! instead. A stale claim's invocation died or timed out, maybe after sending, so its comment is requeued with
//! `unconfirmed_send`.
//!
//! Every write is conditional on the `status`/`next_attempt_at` pair just read, so overlapping sweeps, or a
//! sweep racing a replier, change each comment at most once.

use crate::backoff::delta;
use crate::config::ReplierConfig;
use futures::StreamExt;
use reply_core::clock::Clock;
use reply_core::comment::CommentStatus;
use reply_core::lifecycle::{DueComment, Precondition, StatusReason, Transition, Written};
use reply_core::metrics::emit_counts;
use reply_core::store::{CommentTable, StoreError};
use serde::Serialize;
use std::time::Duration;

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

impl SweepSummary {
    /// The EMF metrics of a sweep, by name.
    pub fn metrics(&self) -> [(&'static str, u64); 6] {
        [
            ("SweepDue", self.due),
            ("SweepRequeued", self.requeued),
            ("SweepStaleClaims", self.stale_claims_requeued),
            ("RepliesExpired", self.expired),
            ("SweepSkipped", self.skipped),
            ("SweepErrors", self.errors),
        ]
    }
}

/// The settings a sweep runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub max_items: usize,
    pub concurrency: usize,
    pub expiry_margin: Duration,
}

impl From<&ReplierConfig> for Settings {
    fn from(c: &ReplierConfig) -> Self {
        Self {
            max_items: c.sweep_max_items,
            concurrency: c.record_concurrency,
            expiry_margin: c.expiry_margin,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Swept {
    Requeued { stale: bool },
    Expired,
    Skipped,
}

/// What a due comment becomes: back to `PENDING` while its window is open, else `EXPIRED`. A stale claim's
/// invocation may have sent, so both mark `unconfirmed_send`.
pub fn due_transitions(item: &DueComment) -> (Transition, Transition) {
    let stale = item.status == CommentStatus::Sending;
    let why = match item.status {
        CommentStatus::Sending => StatusReason::StaleClaim,
        CommentStatus::TokenInvalid => StatusReason::TokenRecheck,
        _ => StatusReason::RetryDue,
    };
    let requeue = Transition::requeue(why).unconfirmed_send(stale);
    let expire = Transition::new(
        CommentStatus::Expired,
        Some(StatusReason::ReplyWindowClosed),
    )
    .unconfirmed_send(stale);
    (requeue, expire)
}

/// Runs one sweep. Fails only when the index cannot be read; failed writes are counted in the summary.
pub async fn run(
    table: &dyn CommentTable,
    clock: &dyn Clock,
    settings: &Settings,
) -> Result<SweepSummary, StoreError> {
    let now = clock.now();
    let max = settings.max_items;
    let mut due: Vec<DueComment> = Vec::new();
    let mut more_due = false;
    'statuses: for status in SWEPT_STATUSES {
        let mut start = None;
        loop {
            let page = table.due_page(status, now, max - due.len(), start).await?;
            due.extend(page.due);
            if due.len() >= max {
                more_due = page.next.is_some() || status != CommentStatus::TokenInvalid;
                break 'statuses;
            }
            match page.next {
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
        .map(|item| async move { sweep_one(table, clock, settings, &item).await })
        .buffer_unordered(settings.concurrency.max(1))
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
    emit_counts(crate::metrics::FUNCTION, &[], &summary.metrics());
    Ok(summary)
}

async fn sweep_one(
    table: &dyn CommentTable,
    clock: &dyn Clock,
    settings: &Settings,
    item: &DueComment,
) -> Result<Swept, StoreError> {
    let now = clock.now();
    let stale = item.status == CommentStatus::Sending;
    let (requeue, expire) = due_transitions(item);
    let open = Precondition::Due {
        status: item.status,
        next_attempt_at: &item.next_attempt_at,
        open_at: Some(now + delta(settings.expiry_margin)),
    };
    if table
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
        match table
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

#[cfg(test)]
mod tests {
    use super::*;

    fn due(status: CommentStatus) -> DueComment {
        DueComment {
            comment_id: "c1".into(),
            status,
            next_attempt_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_due_comment_goes_back_to_pending_saying_why_or_expires() {
        let (requeue, expire) = due_transitions(&due(CommentStatus::Retry));
        assert_eq!(requeue, Transition::requeue(StatusReason::RetryDue));
        assert_eq!(
            expire,
            Transition::new(
                CommentStatus::Expired,
                Some(StatusReason::ReplyWindowClosed)
            )
        );
        let (requeue, _) = due_transitions(&due(CommentStatus::TokenInvalid));
        assert_eq!(requeue.reason, Some(StatusReason::TokenRecheck));
        assert!(!requeue.unconfirmed_send);
    }

    #[test]
    fn a_stale_claim_may_have_sent_so_both_moves_mark_unconfirmed_send() {
        let (requeue, expire) = due_transitions(&due(CommentStatus::Sending));
        assert_eq!(requeue.reason, Some(StatusReason::StaleClaim));
        assert_eq!(requeue.status, CommentStatus::Pending);
        assert!(requeue.unconfirmed_send && expire.unconfirmed_send);
    }
}
