//! A DynamoDB stream batch: the logic for one comment ([`crate::Replier::process_comment`]) wrapped for the
//! batch. Records of different comments run concurrently (bounded), records of the same comment one after
//! another in stream order. Only records that hit an infrastructure error are reported back as batch item
//! failures (`ReportBatchItemFailures`); a record whose outcome is recorded, even `FAILED`, is done. A record
//! that cannot be read at all is counted and skipped rather than failed: redelivering it would never help and
//! would hold up the shard.

use crate::lanes::Waiting;
use crate::metrics::BatchCounts;
use crate::outcome::{IgnoreReason, RecordError, RecordOutcome};
use aws_lambda_events::event::dynamodb::EventRecord;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use futures::StreamExt;
use reply_core::comment::{CommentRecord, CommentStatus};
use reply_core::lifecycle::{PublicReplyStatus, attr};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// A record's sequence number (its identifier for Lambda) and how processing it went.
type SequencedResult = (Option<String>, Result<RecordOutcome, RecordError>);

/// The response for Lambda plus what the batch did.
#[derive(Debug, Clone, Default)]
pub struct BatchReport {
    pub response: DynamoDbEventResponse,
    pub counts: BatchCounts,
}

/// The `Records` of a DynamoDB stream event given as JSON, exactly as Lambda delivers it, and how many of them
/// are not DynamoDB records at all.
pub fn parse_records(event: &Value) -> (Vec<EventRecord>, u64) {
    let records = event
        .get("Records")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut unparseable = 0;
    let mut parsed = Vec::with_capacity(records.len());
    for (index, raw) in records.into_iter().enumerate() {
        match serde_json::from_value::<EventRecord>(raw) {
            Ok(record) => parsed.push(record),
            Err(e) => {
                tracing::error!(index, error = %e, "skipping a stream record that is not a DynamoDB record");
                unparseable += 1;
            }
        }
    }
    (parsed, unparseable)
}

/// Processes a batch: `process` gets each `PENDING` comment read from a record's new image, with the count of
/// its account's `PENDING` comments in the batch still waiting for budget (the calls to lease, or the turns to
/// reserve, for them at once).
pub async fn process_batch<F, Fut>(
    records: Vec<EventRecord>,
    concurrency: usize,
    process: F,
) -> BatchReport
where
    F: Fn(CommentRecord, Arc<Waiting>) -> Fut,
    Fut: Future<Output = Result<RecordOutcome, RecordError>>,
{
    let mut counts: HashMap<String, u32> = HashMap::new();
    for record in &records {
        if let Ok(comment) = pending_comment(record) {
            *counts
                .entry(comment.account_id.as_str().to_owned())
                .or_default() += 1;
        }
    }
    let per_account: HashMap<String, Arc<Waiting>> = counts
        .into_iter()
        .map(|(account, n)| (account, Arc::new(Waiting::new(n))))
        .collect();
    let per_account = &per_account;
    // Same comment: one group, in stream order. Groups keep first-seen order.
    let mut groups: Vec<Vec<EventRecord>> = Vec::new();
    let mut by_comment: HashMap<String, usize> = HashMap::new();
    for record in records {
        match comment_key(&record) {
            Some(key) => {
                let index = *by_comment.entry(key).or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
                groups[index].push(record);
            }
            None => groups.push(vec![record]),
        }
    }
    let process = &process;
    let results: Vec<Vec<SequencedResult>> = futures::stream::iter(groups)
        .map(|group| async move {
            let mut out = Vec::with_capacity(group.len());
            for record in group {
                let result = process_record(&record, process, per_account).await;
                out.push((record.change.sequence_number.clone(), result));
            }
            out
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;

    let mut report = BatchReport::default();
    for (sequence_number, result) in results.into_iter().flatten() {
        match result {
            Ok(outcome) => report.counts.add(&outcome),
            Err(error) => {
                report.counts.record_errors += 1;
                match sequence_number {
                    Some(id) => {
                        let mut failure = DynamoDbBatchItemFailure::default();
                        failure.item_identifier = Some(id);
                        report.response.batch_item_failures.push(failure);
                    }
                    None => {
                        tracing::error!(error = %error, "a failed record has no sequence number to report")
                    }
                }
            }
        }
    }
    report
}

/// One stream record: read its new image as a comment and process it if it is `PENDING`.
async fn process_record<F, Fut>(
    record: &EventRecord,
    process: &F,
    per_account: &HashMap<String, Arc<Waiting>>,
) -> Result<RecordOutcome, RecordError>
where
    F: Fn(CommentRecord, Arc<Waiting>) -> Fut,
    Fut: Future<Output = Result<RecordOutcome, RecordError>>,
{
    let comment = match pending_comment(record) {
        Ok(comment) => comment,
        Err(reason) => return Ok(RecordOutcome::Ignored(reason)),
    };
    let comment_id = comment.comment_id.clone();
    let account_id = comment.account_id.clone();
    let live = comment.is_live();
    let waiting = per_account
        .get(account_id.as_str())
        .cloned()
        .unwrap_or_else(|| Arc::new(Waiting::new(1)));
    let result = process(comment, waiting).await;
    match &result {
        Ok(outcome) => tracing::info!(
            comment_id = %comment_id,
            account_id = %account_id,
            live,
            outcome = ?outcome,
            "comment processed"
        ),
        Err(error) => tracing::error!(
            comment_id = %comment_id,
            account_id = %account_id,
            error = %error,
            cause = %reply_core::telemetry::error_sources(error),
            "comment not processed; the record will be delivered again"
        ),
    }
    result
}

/// The `PENDING` comment of a record's new image (or a `REPLIED` one whose public reply is `QUEUED`), or why
/// there is none to process.
pub fn pending_comment(record: &EventRecord) -> Result<CommentRecord, IgnoreReason> {
    let image = &record.change.new_image;
    if image.inner().is_empty() {
        return Err(IgnoreReason::NoNewImage);
    }
    let comment: CommentRecord = match serde_dynamo::from_item(image.clone()) {
        Ok(comment) => comment,
        Err(e) => {
            tracing::warn!(event_id = %record.event_id, error = %e, "the new image is not a comment item");
            return Err(IgnoreReason::NotAComment);
        }
    };
    let queued_public_reply = comment.status == CommentStatus::Replied
        && comment.public_reply_status == Some(PublicReplyStatus::Queued);
    if comment.status != CommentStatus::Pending && !queued_public_reply {
        return Err(IgnoreReason::NotPending);
    }
    Ok(comment)
}

/// The comment ID of a record, from its keys or, failing that, its new image.
fn comment_key(record: &EventRecord) -> Option<String> {
    let from = |item: &serde_dynamo::Item| match item.inner().get(attr::COMMENT_ID) {
        Some(serde_dynamo::AttributeValue::S(id)) => Some(id.clone()),
        _ => None,
    };
    from(&record.change.keys).or_else(|| from(&record.change.new_image))
}
