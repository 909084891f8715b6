//! A local stand-in for Lambda's DynamoDB event source mapping (ESM).
//!
//! Deployed, the replier Lambda is triggered by the comments table's DynamoDB stream through an event
//! source mapping declared in `template.yaml` (`ReplierFunction`, event `CommentStream`). Locally and in
//! tests there is no Lambda service, only DynamoDB Local with its streams, so this crate plays the
//! mapping: it reads the stream (DescribeStream, GetShardIterator, GetRecords; new shards are found as
//! they appear, and a child shard is read only after its parent is drained), drops records that match
//! none of the template's filters, and invokes the function with events shaped exactly as Lambda
//! delivers them.
//!
//! The function is invoked as AWS invokes it: with the JSON event `{"Records": [...]}` (Lambda's field
//! names: `eventName`, `eventSourceARN`, `dynamodb.NewImage`, `dynamodb.SequenceNumber`...), and its
//! JSON response is read as Lambda reads it (`batchItemFailures`). So the deployed entry point itself,
//! such as `Replier::handle(Value) -> Result<Value, HandlerError>`, runs locally
//! ([`StreamRunnerBuilder::lambda_handler`], [`LambdaHandler`]). Handlers typed with
//! `aws_lambda_events` ([`StreamRunnerBuilder::handler`], [`StreamHandler`]) are adapted onto that path.
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
//! Modules:
//!
//! - `builder`: [`StreamRunner`], [`StreamRunnerBuilder`] (settings, the runner's options, the
//!   handler) and `start`.
//! - `handle`: [`RunnerHandle`] (stop, stats, dead letters), [`RunnerStats`] and its counters,
//!   [`DeadLetter`], [`DeadLetterCondition`].
//! - `handler`: the function invoked: [`LambdaHandler`] (JSON), [`StreamHandler`] (typed), the
//!   adapter between them, [`batch_item_failures`].
//! - `context`: what the runner's tasks share (client, settings, handler, counters) and the stop
//!   signal.
//! - `shards`: stream ARN resolution, DescribeStream, GetShardIterator, the shard table and the
//!   coordinator that starts a worker per shard.
//! - `worker`: the per-shard worker: reading, filtering, batching, invoking, dead-lettering.
//! - `policy`: Lambda's error-handling rules as pure functions: reading the response, record age,
//!   retry, bisect, give up, backoff.
//! - `record`: stream records in Lambda's JSON ([`lambda_json`]) and typed shapes.
//! - `filter`: Lambda's filter patterns ([`FilterPattern`]).
//! - `template`: the event source mapping's settings from `template.yaml`.
//!
//! ```no_run
//! # async fn example(streams: aws_sdk_dynamodbstreams::Client) -> anyhow::Result<()> {
//! use std::sync::Arc;
//!
//! use serde_json::{Value, json};
//! use stream_runner::{EventSourceSettings, StreamRunner};
//!
//! /// Stands for the replier: its Lambda entry point takes and returns JSON.
//! struct Replier;
//!
//! impl Replier {
//!     async fn handle(&self, event: Value) -> Result<Value, std::io::Error> {
//!         let mut failures = Vec::new();
//!         for record in event["Records"].as_array().into_iter().flatten() {
//!             if record["dynamodb"]["NewImage"]["status"]["S"] != "PENDING" {
//!                 let sequence_number = &record["dynamodb"]["SequenceNumber"];
//!                 failures.push(json!({ "itemIdentifier": sequence_number }));
//!             }
//!         }
//!         Ok(json!({ "batchItemFailures": failures }))
//!     }
//! }
//!
//! let replier = Arc::new(Replier);
//! let settings = EventSourceSettings::from_template("template.yaml")?;
//! let runner = StreamRunner::builder(streams, "comments")
//!     .settings(settings)
//!     .lambda_handler(move |event: Value| {
//!         let replier = Arc::clone(&replier);
//!         async move { replier.handle(event).await }
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
mod handler;
mod policy;
mod record;
mod shards;
mod template;
mod worker;

pub use builder::{StreamRunner, StreamRunnerBuilder};
pub use filter::{FilterPattern, matches_any};
pub use handle::{DeadLetter, DeadLetterCondition, RunnerHandle, RunnerStats};
pub use handler::{LambdaHandler, StreamHandler, batch_item_failures};
pub use record::{EVENT_SOURCE, EVENT_VERSION, lambda_json};
pub use template::{
    COMMENT_STREAM_EVENT, EventSourceSettings, REPLIER_FUNCTION_RESOURCE, StartingPosition,
    filters_from_template_str, load_filters,
};
