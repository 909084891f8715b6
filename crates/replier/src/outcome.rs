//! What processing one stream record came to, and the one kind of error that makes Lambda deliver it again.

use chrono::{DateTime, Utc};
use reply_core::lifecycle::{PublicReplyStatus, StatusReason};
use reply_core::store::StoreError;

/// Why a record was let through without any work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoreReason {
    /// Not a DynamoDB stream record of the expected shape.
    Unparseable,
    /// No new image (a deletion, e.g. by TTL).
    NoNewImage,
    /// The new image is not a comment item.
    NotAComment,
    /// The comment is not `PENDING` (the event source filter normally drops these before they get here).
    NotPending,
}

/// The recorded outcome of one record. Every variant is a success for the stream: the comment's state is
/// durably where it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    Ignored(IgnoreReason),
    /// The comment was claimed or finished by someone else (a duplicate or racing delivery).
    DuplicateSkipped,
    /// Our claim was taken over (it went stale) before the outcome could be written; the comment will be
    /// retried with `unconfirmed_send`.
    ClaimLost,
    Replied {
        confirmed: bool,
    },
    /// Replied, and then the campaign's public reply was tried: where it stands now.
    RepliedWithPublic {
        confirmed: bool,
        public: PublicReplyStatus,
    },
    /// A public reply brought back by the stream (after a retry time or a dead claim), tried again.
    PublicReply {
        public: PublicReplyStatus,
    },
    Failed {
        reason: StatusReason,
    },
    Expired {
        reason: StatusReason,
    },
    Retry {
        reason: StatusReason,
        next_attempt_at: DateTime<Utc>,
        /// This failure paused the whole account.
        paused_account: bool,
    },
    TokenInvalid {
        next_attempt_at: DateTime<Utc>,
    },
    /// Not answered, by decision: no campaign matched, or the comment's campaign was paused or deleted.
    Skipped {
        reason: StatusReason,
    },
}

/// Processing stopped on an infrastructure failure before the outcome was recorded: report the record to
/// Lambda so that it is delivered again.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("a DynamoDB request failed")]
    Store(#[from] StoreError),
}
