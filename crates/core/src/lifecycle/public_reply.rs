//! The public reply under a comment ("Sent you a DM!"), a small lifecycle of its own on the comment's item,
//! next to the private reply's. It starts only once the private reply is `REPLIED`, and in the same write:
//!
//! ```text
//!  REPLIED ──▶ POSTING ──▶ POSTED | FAILED
//!                 │   ▲
//!                 ▼   └──claim── QUEUED ◀──(sweep, when due)── RETRY
//!               RETRY ─────────────────────────────────────────▲
//! ```
//! Meta does not refuse a second public reply, so an attempt whose fate is unknown (a timeout, a hang-up, a
//! 5xx, a claim whose invocation died) marks `public_reply_unconfirmed`, and the next attempt first reads the
//! comment's replies for one by the account; the account's own reply arriving through the webhook confirms it
//! too. While it is `POSTING`, `QUEUED` or `RETRY` the item stays in the `due` index, so the sweep finds a
//! dead claim (`due_at` is then the claim's expiry) or a lost stream record.

use super::ErrorFields;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PublicReplyStatus {
    /// Waiting for the stream to hand it to the replier (after a retry time or a dead claim).
    Queued,
    /// An invocation is posting it now (under `public_reply_claim`, until `due_at`).
    Posting,
    /// Published (`public_reply_id`, `public_replied_at`, `public_reply_confirmed_by`).
    Posted,
    /// To be tried again at `due_at`.
    Retry,
    /// Meta refused it for good, or it could not be posted in time (`public_reply_error`).
    Failed,
}

impl PublicReplyStatus {
    pub const ALL: [Self; 5] = [
        Self::Queued,
        Self::Posting,
        Self::Posted,
        Self::Retry,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "QUEUED",
            Self::Posting => "POSTING",
            Self::Posted => "POSTED",
            Self::Retry => "RETRY",
            Self::Failed => "FAILED",
        }
    }

    pub fn from_word(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Posted | Self::Failed)
    }
}

impl std::fmt::Display for PublicReplyStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How we know a public reply was published (`public_reply_confirmed_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmedBy {
    /// Meta answered our `POST /{comment_id}/replies`.
    Answer,
    /// Found among the comment's replies after an attempt whose fate was unknown.
    Listing,
    /// The account's own reply to the comment arrived through the webhook.
    Webhook,
}

impl ConfirmedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answer => "answer",
            Self::Listing => "listing",
            Self::Webhook => "webhook",
        }
    }
}

/// A change to the public reply's state. Each also stamps `updated_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicReplyMove {
    /// `-> POSTING` under `claim_id` until `until` (also its `due_at`), counting the attempt.
    Claim {
        claim_id: String,
        until: DateTime<Utc>,
    },
    /// `-> POSTED`; out of the `due` index.
    Posted {
        reply_id: Option<String>,
        at: DateTime<Utc>,
        by: ConfirmedBy,
    },
    /// `-> RETRY` at `at`; `maybe_posted` marks `public_reply_unconfirmed` (never cleared).
    Retry {
        at: DateTime<Utc>,
        maybe_posted: bool,
        error: ErrorFields,
    },
    /// `-> FAILED`; out of the `due` index.
    Failed { error: ErrorFields },
    /// `-> QUEUED` (the sweep), due again at `redrive_at` if the stream record is lost; `maybe_posted` as for
    /// `Retry` (a dead claim may have posted).
    Queue {
        redrive_at: DateTime<Utc>,
        maybe_posted: bool,
    },
}

impl PublicReplyMove {
    pub fn status(&self) -> PublicReplyStatus {
        match self {
            Self::Claim { .. } => PublicReplyStatus::Posting,
            Self::Posted { .. } => PublicReplyStatus::Posted,
            Self::Retry { .. } => PublicReplyStatus::Retry,
            Self::Failed { .. } => PublicReplyStatus::Failed,
            Self::Queue { .. } => PublicReplyStatus::Queued,
        }
    }
}

/// What a public-reply move requires of the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicPrecondition<'a> {
    /// `QUEUED` (what the stream brought): only one invocation's claim wins.
    Queued,
    /// `POSTING` under this claim.
    Claimed(&'a str),
    /// Exactly as the sweep read it: this status and this `due_at`.
    Due {
        status: PublicReplyStatus,
        due_at: &'a str,
    },
    /// Not final yet (`QUEUED`, `POSTING` or `RETRY`): the webhook's confirmation.
    Unsettled,
}

/// What a public reply's claim found on the item: the attempts so far (this one included), and whether an
/// earlier one may have published it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublicReplyState {
    pub attempts: u32,
    pub unconfirmed: bool,
}
