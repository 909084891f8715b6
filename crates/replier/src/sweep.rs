//! The sweep, run on a schedule: nothing waits for ever. It reads the `due` index (every comment still in
//! progress, by `due_at`) and moves each due comment on:
//!
//! - `RETRY`, `TOKEN_INVALID`: back to `PENDING`, which sends it through the table's stream again;
//! - `SENDING` whose claim went stale (its invocation died, maybe after sending): back to `PENDING` with
//!   `unconfirmed_send`;
//! - `PENDING` nobody took by its `due_at` (its stream record was given up on: the replier could not start,
//!   DynamoDB was throttled past the stream's retries, a dead-lettered batch): re-driven, which writes a fresh
//!   stream record; each re-drive waits twice as long as the one before;
//! - any of them whose reply window has closed: `EXPIRED`;
//! - a `REPLIED` comment's public reply (`public_reply_status`): `RETRY`, a `POSTING` claim that went stale
//!   (marked unconfirmed: the dead invocation may have posted) or a `QUEUED` one nobody took: `QUEUED` again,
//!   which brings it back through the stream; past the comment's reply deadline: given up (`FAILED`).
//!
//! A run is fair between accounts: it takes due comments from every partition in turn and then one account
//! after another, so one account's backlog never delays another account's due comments. Every write is
//! conditional on the `status`/`due_at` just read, so overlapping sweeps, or a sweep racing a replier, change
//! each comment at most once. The sweep needs only the comments table, so it runs even when the rest of the
//! replier cannot start (see [`crate::lambda`]). While an upgraded stack still holds items of the previous
//! version in the old `retry_due` index, they are read and moved into the `due` index the same way.

use crate::backoff::delta;
use crate::config::ReplierConfig;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use reply_core::clock::Clock;
use reply_core::comment::CommentStatus;
use reply_core::lifecycle::{
    DueComment, ErrorFields, Precondition, PublicPrecondition, PublicReplyMove, PublicReplyStatus,
    StatusReason, Transition, Written, attr, due,
};
use reply_core::metrics::emit_counts;
use reply_core::store::{CommentTable, Item, StoreError};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// The statuses the previous version's `retry_due` index held.
const LEGACY_STATUSES: [CommentStatus; 3] = [
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
    /// `PENDING` comments nobody took, re-driven.
    pub redriven: u64,
    /// Comments whose window closed while they waited.
    pub expired: u64,
    /// Comments that moved on between the read and the write, or are still being sent.
    pub skipped: u64,
    /// Writes that failed; those comments are picked up by the next sweep.
    pub errors: u64,
    /// Public replies put back to `QUEUED` (after a retry time, a dead claim or a lost stream record).
    pub public_replies_requeued: u64,
    /// Public replies given up because the comment's reply deadline passed.
    pub public_replies_given_up: u64,
    /// More comments were due than `SWEEP_MAX_ITEMS`; the next sweep continues.
    pub more_due: bool,
}

impl SweepSummary {
    /// The EMF metrics of a sweep, by name.
    pub fn metrics(&self) -> [(&'static str, u64); 9] {
        [
            ("SweepDue", self.due),
            ("SweepRequeued", self.requeued),
            ("SweepStaleClaims", self.stale_claims_requeued),
            ("SweepRedriven", self.redriven),
            ("RepliesExpired", self.expired),
            ("SweepSkipped", self.skipped),
            ("SweepErrors", self.errors),
            ("SweepPublicRepliesRequeued", self.public_replies_requeued),
            ("SweepPublicRepliesGivenUp", self.public_replies_given_up),
        ]
    }
}

impl std::fmt::Display for SweepSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} due: {} requeued, {} stale claims, {} re-driven, {} expired, {} skipped, {} errors, {} public replies requeued, {} given up{}",
            self.due,
            self.requeued,
            self.stale_claims_requeued,
            self.redriven,
            self.expired,
            self.skipped,
            self.errors,
            self.public_replies_requeued,
            self.public_replies_given_up,
            if self.more_due { ", more due" } else { "" }
        )
    }
}

/// The settings a sweep runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub max_items: usize,
    pub concurrency: usize,
    pub expiry_margin: Duration,
    pub redrive_after: Duration,
}

impl From<&ReplierConfig> for Settings {
    fn from(c: &ReplierConfig) -> Self {
        Self {
            max_items: c.sweep_max_items,
            concurrency: c.record_concurrency,
            expiry_margin: c.expiry_margin,
            redrive_after: c.redrive_after,
        }
    }
}

/// What the sweep read of a due comment's item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueState {
    pub status: CommentStatus,
    pub reply_deadline: Option<DateTime<Utc>>,
    pub claimed_until: Option<DateTime<Utc>>,
    pub redrives: u32,
    pub public_reply: Option<PublicReplyStatus>,
}

impl DueState {
    fn of(item: &Item) -> Option<Self> {
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
        let time = |name: &str| {
            text(name)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        Some(Self {
            status: CommentStatus::from_word(text(attr::STATUS)?)?,
            reply_deadline: time(attr::REPLY_DEADLINE),
            claimed_until: time(attr::CLAIMED_UNTIL),
            redrives: item
                .get(attr::REDRIVES)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            public_reply: text(attr::PUBLIC_REPLY_STATUS)
                .and_then(|w| PublicReplyStatus::from_word(w)),
        })
    }
}

/// What to do with one due comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write `move_on` while the window is open, else `expire`; `stale_claim` when a dead claim is taken over.
    Move {
        move_on: Box<Transition>,
        expire: Box<Transition>,
        kind: Moved,
    },
    /// Nothing to do now (a live claim, or a status that is not waiting).
    Leave,
}

/// Which kind of move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    Requeued,
    StaleClaim,
    Redriven,
}

/// The pure decision for one due comment.
pub fn decide(state: &DueState, now: DateTime<Utc>, settings: &Settings) -> Action {
    let redrive_at = now + delta(settings.redrive_after);
    let expire = |maybe_sent: bool| {
        Transition::new(
            CommentStatus::Expired,
            Some(StatusReason::ReplyWindowClosed),
        )
        .unconfirmed_send(maybe_sent)
    };
    match state.status {
        CommentStatus::Retry | CommentStatus::TokenInvalid => {
            let why = if state.status == CommentStatus::TokenInvalid {
                StatusReason::TokenRecheck
            } else {
                StatusReason::RetryDue
            };
            Action::Move {
                move_on: Box::new(Transition::requeue(why, redrive_at)),
                expire: Box::new(expire(false)),
                kind: Moved::Requeued,
            }
        }
        CommentStatus::Sending if state.claimed_until.is_some_and(|until| until > now) => {
            Action::Leave
        }
        CommentStatus::Sending => Action::Move {
            move_on: Box::new(
                Transition::requeue(StatusReason::StaleClaim, redrive_at).unconfirmed_send(true),
            ),
            expire: Box::new(expire(true)),
            kind: Moved::StaleClaim,
        },
        CommentStatus::Pending => {
            let wait = due::redrive_wait(delta(settings.redrive_after), state.redrives + 1);
            Action::Move {
                move_on: Box::new(
                    Transition::requeue(StatusReason::Redriven, now + wait)
                        .redriven(state.redrives + 1),
                ),
                expire: Box::new(expire(false)),
                kind: Moved::Redriven,
            }
        }
        _ => Action::Leave,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Swept {
    Moved(Moved),
    Expired,
    Skipped,
    PublicRequeued,
    PublicGivenUp,
}

/// The move for a sent comment's due public reply; `None` when it has none in progress.
pub fn decide_public(
    state: &DueState,
    now: DateTime<Utc>,
    settings: &Settings,
) -> Option<PublicReplyMove> {
    let public = state.public_reply.filter(|p| !p.is_final())?;
    if state.reply_deadline.is_none_or(|deadline| now > deadline) {
        return Some(PublicReplyMove::Failed {
            error: ErrorFields {
                message: Some("not posted before the comment's reply deadline".into()),
                ..ErrorFields::default()
            },
        });
    }
    Some(PublicReplyMove::Queue {
        redrive_at: now + delta(settings.redrive_after),
        // `due_at` of a `POSTING` public reply is its claim's expiry: due means the claim is dead.
        maybe_posted: public == PublicReplyStatus::Posting,
    })
}

/// Runs one sweep. Fails only when the index cannot be read; failed writes are counted in the summary.
pub async fn run(
    table: &dyn CommentTable,
    clock: &dyn Clock,
    settings: &Settings,
) -> Result<SweepSummary, StoreError> {
    let now = clock.now();
    let (due, more_due) = read_due(table, now, settings.max_items).await?;
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
            Ok(Swept::Moved(Moved::StaleClaim)) => summary.stale_claims_requeued += 1,
            Ok(Swept::Moved(Moved::Requeued)) => summary.requeued += 1,
            Ok(Swept::Moved(Moved::Redriven)) => summary.redriven += 1,
            Ok(Swept::Expired) => summary.expired += 1,
            Ok(Swept::Skipped) => summary.skipped += 1,
            Ok(Swept::PublicRequeued) => summary.public_replies_requeued += 1,
            Ok(Swept::PublicGivenUp) => summary.public_replies_given_up += 1,
            Err(error) => {
                summary.errors += 1;
                tracing::warn!(error = %error, cause = %reply_core::telemetry::error_sources(&error), "sweep write failed");
            }
        }
    }
    tracing::info!(summary = %summary, "sweep done");
    emit_counts(crate::metrics::FUNCTION, &[], &summary.metrics());
    Ok(summary)
}

/// Up to `max` due comments, fairly: a page from each partition in turn (the previous version's index last),
/// then one account after another. `true` when more were due.
async fn read_due(
    table: &dyn CommentTable,
    now: DateTime<Utc>,
    max: usize,
) -> Result<(Vec<DueComment>, bool), StoreError> {
    // Read a little more than a run takes, so the accounts' shares are drawn from a wide enough set.
    let budget = max.saturating_mul(2).max(1);
    let per_page = (budget / due::SHARDS as usize).clamp(10, 1000);
    let mut candidates: Vec<DueComment> = Vec::new();
    let mut more = false;
    let mut open: VecDeque<(u32, Option<Item>)> = (0..due::SHARDS).map(|s| (s, None)).collect();
    while let Some((shard, start)) = open.pop_front() {
        if candidates.len() >= budget {
            more = true;
            break;
        }
        let page = table
            .due_page(&due::shard_name(shard), now, per_page, start)
            .await?;
        candidates.extend(page.due);
        if let Some(next) = page.next {
            open.push_back((shard, Some(next)));
        }
    }
    for status in LEGACY_STATUSES {
        if candidates.len() >= budget {
            more = true;
            break;
        }
        let page = table
            .legacy_due_page(status, now, budget - candidates.len(), None)
            .await?;
        more |= page.next.is_some();
        candidates.extend(page.due);
    }
    let fair = one_account_after_another(candidates);
    more |= fair.len() > max;
    Ok((fair.into_iter().take(max).collect(), more))
}

/// The comments interleaved by account (each account's oldest first), so a run's share is the same for every
/// account with comments due.
pub fn one_account_after_another(due: Vec<DueComment>) -> Vec<DueComment> {
    let mut by_account: BTreeMap<Option<String>, VecDeque<DueComment>> = BTreeMap::new();
    for item in due {
        by_account
            .entry(item.account_id.clone())
            .or_default()
            .push_back(item);
    }
    for queue in by_account.values_mut() {
        queue
            .make_contiguous()
            .sort_by(|a, b| a.due_at.cmp(&b.due_at));
    }
    let mut out = Vec::new();
    loop {
        let mut took = false;
        for queue in by_account.values_mut() {
            if let Some(item) = queue.pop_front() {
                out.push(item);
                took = true;
            }
        }
        if !took {
            return out;
        }
    }
}

async fn sweep_one(
    table: &dyn CommentTable,
    clock: &dyn Clock,
    settings: &Settings,
    item: &DueComment,
) -> Result<Swept, StoreError> {
    let now = clock.now();
    let Some(state) = table
        .get(&item.comment_id)
        .await?
        .as_ref()
        .and_then(DueState::of)
    else {
        return Ok(Swept::Skipped);
    };
    if state.status == CommentStatus::Replied {
        return sweep_public(table, &state, item, now, settings).await;
    }
    let Action::Move {
        move_on,
        expire,
        kind,
    } = decide(&state, now, settings)
    else {
        return Ok(Swept::Skipped);
    };
    let stale_claim = (kind == Moved::StaleClaim).then_some(now);
    let open = Precondition::Due {
        status: state.status,
        due_at: &item.due_at,
        legacy: item.legacy,
        open_at: Some(now + delta(settings.expiry_margin)),
        claim_stale_at: stale_claim,
    };
    if table
        .transition(&item.comment_id, open, &move_on, now)
        .await?
        == Written::Yes
    {
        tracing::info!(comment_id = %item.comment_id, from = %state.status, moved = ?kind, "moved on");
        return Ok(Swept::Moved(kind));
    }
    // Either the window closed or the comment moved on; only the first can still match this condition.
    let unchanged = Precondition::Due {
        status: state.status,
        due_at: &item.due_at,
        legacy: item.legacy,
        open_at: None,
        claim_stale_at: stale_claim,
    };
    Ok(
        match table
            .transition(&item.comment_id, unchanged, &expire, now)
            .await?
        {
            Written::Yes => {
                tracing::info!(comment_id = %item.comment_id, from = %state.status, "expired while waiting");
                Swept::Expired
            }
            Written::ConditionFailed => Swept::Skipped,
        },
    )
}

/// A sent comment found due: its public reply moved on, under the status and `due_at` just read.
async fn sweep_public(
    table: &dyn CommentTable,
    state: &DueState,
    item: &DueComment,
    now: DateTime<Utc>,
    settings: &Settings,
) -> Result<Swept, StoreError> {
    let (Some(change), Some(status)) = (decide_public(state, now, settings), state.public_reply)
    else {
        return Ok(Swept::Skipped);
    };
    let precondition = PublicPrecondition::Due {
        status,
        due_at: &item.due_at,
    };
    if table
        .public_reply(&item.comment_id, precondition, &change, now)
        .await?
        == Written::ConditionFailed
    {
        return Ok(Swept::Skipped);
    }
    Ok(match change {
        PublicReplyMove::Failed { .. } => {
            tracing::warn!(comment_id = %item.comment_id, from = %status, "public reply given up: the comment's reply deadline passed");
            Swept::PublicGivenUp
        }
        _ => {
            tracing::info!(comment_id = %item.comment_id, from = %status, "public reply requeued");
            Swept::PublicRequeued
        }
    })
}

#[cfg(test)]
mod tests;
