//! The comments table, as ports: [`CommentStore`] is what the webhook needs ("insert unless present"), and
//! [`CommentTable`] adds the lifecycle's moves that the replier, its sweep and `replyctl retry` make (claim,
//! transition, a page of the `due` index, an operator's requeue). The traits keep handlers
//! testable; the DynamoDB details live in one adapter ([`dynamo`], with its expressions in `expression`).
//! The messages table ([`messages`]) is stored the same way: insert unless present.

pub mod campaigns;
pub mod dynamo;
mod expression;
pub mod messages;

use crate::comment::CommentRecord;
use crate::ids::CommentId;
use crate::lifecycle::{
    Claim, CommentStatus, DueComment, Precondition, PublicPrecondition, PublicReplyMove,
    PublicReplyState, ReplyChoice, Transition, Written,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;

/// Longest `error_message` kept on an item, in bytes (see `comment::MAX_STORED_TEXT_BYTES` for why).
pub const MAX_ERROR_MESSAGE_BYTES: usize = 72;

/// A raw DynamoDB item (for readers that show every attribute, such as `replyctl`).
pub type Item = HashMap<String, AttributeValue>;

/// What happened to one insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Written now.
    Stored,
    /// An item with this comment ID already existed (a redelivery or a duplicate notification).
    AlreadyStored,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("could not encode the item")]
    Encode(#[from] serde_dynamo::Error),
    #[error("{doing} failed")]
    Backend {
        /// What the request was for ("claiming a comment").
        doing: &'static str,
        /// The AWS error code when DynamoDB answered (`ResourceNotFoundException`, `ThrottlingException`...).
        code: Option<String>,
        #[source]
        source: anyhow::Error,
    },
}

impl StoreError {
    /// A failed SDK request.
    pub fn backend<E>(doing: &'static str, error: E) -> Self
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
    {
        Self::Backend {
            doing,
            code: error.code().map(str::to_owned),
            source: anyhow::Error::new(error),
        }
    }

    /// A failure that is not an SDK error.
    pub fn other(doing: &'static str, source: anyhow::Error) -> Self {
        Self::Backend {
            doing,
            code: None,
            source,
        }
    }

    /// DynamoDB refused the request as such (`ValidationException`, or an item that cannot be encoded): the
    /// same request will be refused again, so retrying or asking Meta to redeliver cannot help.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Encode(_) => true,
            Self::Backend { code, .. } => code.as_deref() == Some("ValidationException"),
        }
    }

    /// The AWS error code, when DynamoDB answered with one.
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            Self::Backend { code, .. } => code.as_deref(),
            Self::Encode(_) => None,
        }
    }
}

#[async_trait]
pub trait CommentStore: Send + Sync + std::fmt::Debug {
    /// Writes `record` unless an item with its comment ID exists; never overwrites.
    async fn insert_new(&self, record: &CommentRecord) -> Result<Inserted, StoreError>;
}

/// The webhook's part in a public reply: the account's own reply to a comment, arriving as a comment, is that
/// comment's public reply. It confirms one that waits after an attempt whose fate was unknown (`RETRY` or
/// `QUEUED`), so no later attempt needs to look for it; one being posted records its own outcome.
#[async_trait]
pub trait PublicReplyConfirmations: Send + Sync + std::fmt::Debug {
    /// `Written::Yes` when the comment's public reply was waiting and is now `POSTED` (by `webhook`).
    async fn confirm_public_reply(
        &self,
        comment_id: &str,
        reply_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Written, StoreError>;
}

/// One page of the `due` index (or the previous version's `retry_due`), and where the next one starts.
#[derive(Debug, Clone, Default)]
pub struct DuePage {
    pub due: Vec<DueComment>,
    pub next: Option<Item>,
}

/// What an operator's requeue did.
#[derive(Debug, Clone, PartialEq)]
pub enum Requeued {
    /// The comment is `PENDING` again; `previous` is the item as it was.
    Yes { previous: Item },
    /// The item is not in a state an operator may re-drive (or does not exist).
    Refused,
}

/// The comment lifecycle's writes. Every write is conditional on the state the decision was made from, so a
/// writer that lost a race changes nothing and exactly one invocation holds a comment at a time.
#[async_trait]
pub trait CommentTable: CommentStore {
    /// `PENDING -> SENDING` under a fresh claim that goes stale at `claimed_until`, counting the attempt;
    /// with `choice`, freezing that reply decided now (only if no decision is on the item yet). `None` when
    /// the comment is not `PENDING` any more (claimed elsewhere or finished) or another decision is frozen.
    async fn claim(
        &self,
        comment_id: &str,
        now: DateTime<Utc>,
        claimed_until: DateTime<Utc>,
        choice: Option<&ReplyChoice>,
    ) -> Result<Option<Claim>, StoreError>;

    /// Applies `transition` if `precondition` holds.
    async fn transition(
        &self,
        comment_id: &str,
        precondition: Precondition<'_>,
        transition: &Transition,
        now: DateTime<Utc>,
    ) -> Result<Written, StoreError>;

    /// Applies a public-reply move if `precondition` holds (see `crate::lifecycle::public_reply`).
    async fn public_reply(
        &self,
        comment_id: &str,
        precondition: PublicPrecondition<'_>,
        change: &PublicReplyMove,
        now: DateTime<Utc>,
    ) -> Result<Written, StoreError>;

    /// `QUEUED -> POSTING` under `claim_id` until `until`, counting the attempt: the public reply's state as it
    /// now is on the item (never as a stream image had it: a stale record must not forget an attempt that may
    /// have published), or `None` when it is not `QUEUED` any more.
    async fn claim_public_reply(
        &self,
        comment_id: &str,
        claim_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<PublicReplyState>, StoreError>;

    /// Up to `limit` comments of the `due` index's partition `shard` whose `due_at` has come, oldest first
    /// (one page per call; pass the returned `next` to continue).
    async fn due_page(
        &self,
        shard: &str,
        now: DateTime<Utc>,
        limit: usize,
        start: Option<Item>,
    ) -> Result<DuePage, StoreError>;

    /// The same from the previous version's `retry_due` index, for the comments of `status` it still holds;
    /// an empty page when the table no longer has that index.
    async fn legacy_due_page(
        &self,
        status: CommentStatus,
        now: DateTime<Utc>,
        limit: usize,
        start: Option<Item>,
    ) -> Result<DuePage, StoreError>;

    /// An operator's re-drive: back to `PENDING` with `transition` if [`Precondition::Redrivable`] holds.
    async fn requeue(
        &self,
        comment_id: &str,
        precondition: Precondition<'_>,
        transition: &Transition,
        now: DateTime<Utc>,
    ) -> Result<Requeued, StoreError>;

    /// The item, read with strong consistency.
    async fn get(&self, comment_id: &str) -> Result<Option<Item>, StoreError>;
}

/// The outcome of storing one POST's comments (or, keyed by message ID, its messages).
#[derive(Debug)]
pub struct InsertSummary<K = CommentId> {
    pub stored: usize,
    pub already_stored: usize,
    /// Writes that failed for a passing reason: Meta must redeliver.
    pub failed: Vec<(K, StoreError)>,
    /// Writes DynamoDB refused for good ([`StoreError::is_permanent`]): redelivering would not help.
    pub refused: Vec<(K, StoreError)>,
}

impl<K> Default for InsertSummary<K> {
    fn default() -> Self {
        Self {
            stored: 0,
            already_stored: 0,
            failed: Vec::new(),
            refused: Vec::new(),
        }
    }
}

impl<K> InsertSummary<K> {
    /// True when every record that can be stored is durably in the store (written now or before).
    pub fn all_durable(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Inserts every record with at most `concurrency` requests in flight. Records repeating a comment ID already
/// in the batch are counted as already stored without a request.
pub async fn insert_all(
    store: &Arc<dyn CommentStore>,
    records: Vec<CommentRecord>,
    concurrency: usize,
) -> InsertSummary {
    insert_unique(
        records,
        |record| record.comment_id.clone(),
        |record| async move {
            let result = store.insert_new(&record).await;
            (record.comment_id, result)
        },
        concurrency,
    )
    .await
}

/// [`insert_all`] for any record: `key` names a record's item, `insert` writes one and gives back its key.
pub(crate) async fn insert_unique<R, K, F, Fut>(
    records: Vec<R>,
    key: impl Fn(&R) -> K,
    insert: F,
    concurrency: usize,
) -> InsertSummary<K>
where
    K: Eq + std::hash::Hash,
    F: Fn(R) -> Fut,
    Fut: std::future::Future<Output = (K, Result<Inserted, StoreError>)>,
{
    let mut summary = InsertSummary::default();
    let mut seen = std::collections::HashSet::with_capacity(records.len());
    let mut unique = Vec::with_capacity(records.len());
    for record in records {
        if seen.insert(key(&record)) {
            unique.push(record);
        } else {
            summary.already_stored += 1;
        }
    }
    let mut results = futures::stream::iter(unique)
        .map(insert)
        .buffer_unordered(concurrency.max(1));
    while let Some((key, result)) = results.next().await {
        match result {
            Ok(Inserted::Stored) => summary.stored += 1,
            Ok(Inserted::AlreadyStored) => summary.already_stored += 1,
            Err(e) if e.is_permanent() => summary.refused.push((key, e)),
            Err(e) => summary.failed.push((key, e)),
        }
    }
    summary
}
