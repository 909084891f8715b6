//! A local stand-in for Lambda's DynamoDB event source mapping (ESM).
//!
//! Deployed, the replier Lambda is triggered by the comments table's DynamoDB stream through an event
//! source mapping declared in `template.yaml` (`ReplierFunction`, event `CommentStream`). Locally and in
//! tests there is no Lambda service, only DynamoDB Local with its streams, so this crate plays the
//! mapping: it reads the stream (DescribeStream, GetShardIterator, GetRecords; new shards are found as
//! they appear, and a child shard is read only after its parent is drained), drops records that match
//! none of the template's filters, and invokes a [`StreamHandler`] with
//! [`aws_lambda_events::event::dynamodb::Event`]s shaped exactly as Lambda delivers them.
//!
//! Error handling follows the mapping's settings ([`EventSourceSettings`], read from the template by
//! [`EventSourceSettings::from_template`]):
//!
//! - partial batch responses (`ReportBatchItemFailures`): the records from the lowest failed sequence
//!   number on are delivered again, and that counts as a retry;
//! - a function error (the handler returns `Err` or panics) retries the batch, split in two first when
//!   `BisectBatchOnFunctionError` is on (splitting does not count as a retry, as in Lambda);
//! - after `MaximumRetryAttempts` retries, or once records are older than `MaximumRecordAgeInSeconds`,
//!   the records are given up: logged at error level as sent to the on-failure destination, kept in
//!   [`RunnerHandle::dead_letters`], and the shard moves on;
//! - records of one shard are delivered in order, one batch in flight per shard; shards run
//!   concurrently.
//!
//! Logs carry IDs and counts only, never item contents (items hold comment text).
//!
//! ```no_run
//! # async fn example(streams: aws_sdk_dynamodbstreams::Client) -> anyhow::Result<()> {
//! use stream_runner::{EventSourceSettings, StreamRunner};
//! use aws_lambda_events::event::{dynamodb::Event, streams::DynamoDbEventResponse};
//!
//! let settings = EventSourceSettings::from_template("template.yaml")?;
//! let runner = StreamRunner::builder(streams, "comments")
//!     .settings(settings)
//!     .handler(|event: Event| async move {
//!         let _ = event.records.len();
//!         Ok(DynamoDbEventResponse::default())
//!     })
//!     .start()
//!     .await?;
//! // ...
//! runner.stop().await;
//! # Ok(())
//! # }
//! ```

mod builder;
mod context;
mod filter;
mod handle;
mod policy;
mod record;
mod shards;
mod template;
mod worker;

use std::future::Future;

use async_trait::async_trait;
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

pub use builder::{StreamRunner, StreamRunnerBuilder};
pub use filter::{FilterPattern, matches_any};
pub use handle::{DeadLetter, DeadLetterCondition, RunnerHandle, RunnerStats};
pub use record::{EVENT_SOURCE, EVENT_VERSION, lambda_json};
pub use template::{
    COMMENT_STREAM_EVENT, EventSourceSettings, REPLIER_FUNCTION_RESOURCE, StartingPosition,
    filters_from_template_str, load_filters,
};

/// The function the runner invokes, as Lambda invokes the replier: one batch of stream records in,
/// a partial batch response (or an error) out.
#[async_trait]
pub trait StreamHandler: Send + Sync {
    /// Handles one batch. `Ok` with no `batch_item_failures` is success; failures name records by
    /// their `SequenceNumber`; `Err` is a function error.
    async fn handle(&self, event: Event) -> Result<DynamoDbEventResponse, anyhow::Error>;
}

#[async_trait]
impl<F, Fut> StreamHandler for F
where
    F: Fn(Event) -> Fut + Send + Sync,
    Fut: Future<Output = Result<DynamoDbEventResponse, anyhow::Error>> + Send,
{
    async fn handle(&self, event: Event) -> Result<DynamoDbEventResponse, anyhow::Error> {
        self(event).await
    }
}

/// A partial batch response naming these sequence numbers as failed (empty: the whole batch
/// succeeded). [`DynamoDbEventResponse`] is non-exhaustive, hence this helper.
pub fn batch_item_failures<I, S>(sequence_numbers: I) -> DynamoDbEventResponse
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = sequence_numbers
        .into_iter()
        .map(|sequence_number| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence_number.into());
            failure
        })
        .collect();
    response
}
