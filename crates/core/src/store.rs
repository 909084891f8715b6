//! Storing comments. The webhook only needs "insert unless present"; the trait keeps handlers testable and the
//! DynamoDB details in one adapter ([`dynamo`]).

pub mod dynamo;

use crate::comment::CommentRecord;
use crate::ids::CommentId;
use async_trait::async_trait;
use futures::StreamExt;
use std::sync::Arc;

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
    #[error("the store request failed")]
    Backend(#[source] anyhow::Error),
}

#[async_trait]
pub trait CommentStore: Send + Sync + std::fmt::Debug {
    /// Writes `record` unless an item with its comment ID exists; never overwrites.
    async fn insert_new(&self, record: &CommentRecord) -> Result<Inserted, StoreError>;
}

/// The outcome of storing one POST's comments.
#[derive(Debug, Default)]
pub struct InsertSummary {
    pub stored: usize,
    pub already_stored: usize,
    pub failed: Vec<(CommentId, StoreError)>,
}

impl InsertSummary {
    /// True when every comment is durably in the store (written now or before).
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
    let mut summary = InsertSummary::default();
    let mut seen = std::collections::HashSet::with_capacity(records.len());
    let mut unique = Vec::with_capacity(records.len());
    for record in records {
        if seen.insert(record.comment_id.clone()) {
            unique.push(record);
        } else {
            summary.already_stored += 1;
        }
    }
    let mut results = futures::stream::iter(unique)
        .map(|record| async move {
            let result = store.insert_new(&record).await;
            (record.comment_id, result)
        })
        .buffer_unordered(concurrency.max(1));
    while let Some((comment_id, result)) = results.next().await {
        match result {
            Ok(Inserted::Stored) => summary.stored += 1,
            Ok(Inserted::AlreadyStored) => summary.already_stored += 1,
            Err(e) => summary.failed.push((comment_id, e)),
        }
    }
    summary
}
