//! Configuring and starting a runner. Everything a runner needs is gathered and checked here, before
//! any task starts: [`StreamRunner::builder`] takes the event source mapping's settings, the runner's
//! own timings and the handler; [`StreamRunnerBuilder::start`] resolves the stream, lists its shards
//! and spawns the coordinator.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use aws_sdk_dynamodbstreams::Client;
use tokio::sync::watch;
use tracing::info;

use crate::context::{Context, StopSignal};
use crate::filter::FilterPattern;
use crate::handle::{RunnerHandle, Shared};
use crate::handler::{LambdaHandler, StreamHandler, Typed};
use crate::policy::{Backoff, Policy};
use crate::shards::{ShardTable, coordinate, describe_shards, resolve_stream_arn};
use crate::template::{EventSourceSettings, StartingPosition};

/// Entry point: `StreamRunner::builder(streams_client, table_name_or_stream_arn)`.
#[derive(Debug)]
pub struct StreamRunner;

impl StreamRunner {
    /// A runner for the stream `table_name_or_stream_arn` (a stream ARN, or a table name whose latest
    /// stream is looked up with DescribeTable when [`StreamRunnerBuilder::dynamodb_client`] is given,
    /// with ListStreams otherwise). Settings start as [`EventSourceSettings::default`].
    pub fn builder(
        streams_client: Client,
        table_name_or_stream_arn: impl Into<String>,
    ) -> StreamRunnerBuilder {
        StreamRunnerBuilder {
            streams: streams_client,
            dynamodb: None,
            source: table_name_or_stream_arn.into(),
            settings: EventSourceSettings::default(),
            handler: None,
            options: Options::default(),
        }
    }
}

/// Options of the runner itself (not of the event source mapping).
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) poll_interval: Duration,
    pub(crate) shard_discovery_interval: Duration,
    pub(crate) retry_backoff_initial: Duration,
    pub(crate) retry_backoff_max: Duration,
    pub(crate) shutdown_grace: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(200),
            shard_discovery_interval: Duration::from_secs(1),
            retry_backoff_initial: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Configures and starts a runner; see [`StreamRunner::builder`].
pub struct StreamRunnerBuilder {
    streams: Client,
    dynamodb: Option<aws_sdk_dynamodb::Client>,
    source: String,
    settings: EventSourceSettings,
    handler: Option<Arc<dyn LambdaHandler>>,
    options: Options,
}

impl fmt::Debug for StreamRunnerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamRunnerBuilder")
            .field("source", &self.source)
            .field("settings", &self.settings)
            .field("has_handler", &self.handler.is_some())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl StreamRunnerBuilder {
    /// Look the stream ARN up with DescribeTable (`LatestStreamArn`) through this client.
    pub fn dynamodb_client(mut self, client: aws_sdk_dynamodb::Client) -> Self {
        self.dynamodb = Some(client);
        self
    }

    /// All event source mapping settings at once, typically [`EventSourceSettings::from_template`].
    pub fn settings(mut self, settings: EventSourceSettings) -> Self {
        self.settings = settings;
        self
    }

    /// `FilterCriteria`: records matching none of these are dropped. Empty: deliver everything.
    pub fn filters(mut self, filters: Vec<FilterPattern>) -> Self {
        self.settings.filters = filters;
        self
    }

    /// `BatchSize` (1 to 10 000).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.settings.batch_size = batch_size;
        self
    }

    /// `MaximumBatchingWindowInSeconds`, at any precision (a short window such as 50 ms in tests).
    pub fn batching_window(mut self, window: Duration) -> Self {
        self.settings.batching_window = window;
        self
    }

    /// `BisectBatchOnFunctionError`.
    pub fn bisect_batch_on_function_error(mut self, bisect: bool) -> Self {
        self.settings.bisect_batch_on_function_error = bisect;
        self
    }

    /// `MaximumRetryAttempts`; `None` retries until the records are too old.
    pub fn maximum_retry_attempts(mut self, attempts: Option<u32>) -> Self {
        self.settings.maximum_retry_attempts = attempts;
        self
    }

    /// `MaximumRecordAgeInSeconds`, at any precision; `None` is the stream's retention (24 h). The age
    /// is measured from `ApproximateCreationDateTime`, which DynamoDB Local rounds down to the minute,
    /// so locally a record may look up to a minute older than it is.
    pub fn maximum_record_age(mut self, age: Option<Duration>) -> Self {
        self.settings.maximum_record_age = age;
        self
    }

    /// `FunctionResponseTypes: [ReportBatchItemFailures]`; when off, the handler's response is ignored.
    pub fn report_batch_item_failures(mut self, report: bool) -> Self {
        self.settings.report_batch_item_failures = report;
        self
    }

    /// `StartingPosition`.
    pub fn starting_position(mut self, position: StartingPosition) -> Self {
        self.settings.starting_position = position;
        self
    }

    /// The function to invoke, as AWS invokes it: JSON in (`{"Records": [...]}`), JSON out (a partial
    /// batch response); see [`LambdaHandler`]. This runs the very entry point that is deployed, such
    /// as the replier's `Replier::handle`; the crate documentation has an example.
    pub fn lambda_handler(mut self, handler: impl LambdaHandler + 'static) -> Self {
        self.handler = Some(Arc::new(handler));
        self
    }

    /// The JSON function to invoke, already shared.
    pub fn shared_lambda_handler(mut self, handler: Arc<dyn LambdaHandler>) -> Self {
        self.handler = Some(handler);
        self
    }

    /// The function to invoke, typed with `aws_lambda_events`: it is given the JSON event parsed into
    /// an [`Event`](aws_lambda_events::event::dynamodb::Event), and its response is serialized back to
    /// JSON and read as Lambda reads it.
    pub fn handler(self, handler: impl StreamHandler + 'static) -> Self {
        self.shared_handler(Arc::new(handler))
    }

    /// The typed function to invoke, already shared.
    pub fn shared_handler(mut self, handler: Arc<dyn StreamHandler>) -> Self {
        self.handler = Some(Arc::new(Typed(handler)));
        self
    }

    /// How long a shard with no new records waits before polling again (default 200 ms).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.options.poll_interval = interval;
        self
    }

    /// How often DescribeStream is called to find new shards (default 1 s).
    pub fn shard_discovery_interval(mut self, interval: Duration) -> Self {
        self.options.shard_discovery_interval = interval;
        self
    }

    /// The pause before a retry: `initial`, doubling after each further failure, at most `max`
    /// (default 100 ms to 5 s).
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.options.retry_backoff_initial = initial;
        self.options.retry_backoff_max = max;
        self
    }

    /// How long [`RunnerHandle::stop`] lets an in-flight invocation finish before abandoning it
    /// (default 10 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.options.shutdown_grace = grace;
        self
    }

    /// Resolves the stream, lists its shards (and, for LATEST, takes the open shards' iterators, so
    /// that every record written after `start` returns is delivered) and starts polling.
    pub async fn start(self) -> Result<RunnerHandle> {
        let handler = self
            .handler
            .context("StreamRunnerBuilder::start: no handler was given")?;
        ensure!(
            (1..=10_000).contains(&self.settings.batch_size),
            "batch size must be between 1 and 10000, found {}",
            self.settings.batch_size
        );
        ensure!(
            !self.options.poll_interval.is_zero(),
            "the poll interval must not be zero"
        );
        ensure!(
            !self.options.shard_discovery_interval.is_zero(),
            "the shard discovery interval must not be zero"
        );
        let stream_arn =
            resolve_stream_arn(&self.streams, self.dynamodb.as_ref(), &self.source).await?;
        let shards = describe_shards(&self.streams, &stream_arn).await?;
        let table = ShardTable::at_start(
            &self.streams,
            &stream_arn,
            &shards,
            self.settings.starting_position,
        )
        .await?;

        let shared = Arc::new(Shared::default());
        let (stop_tx, stop_rx) = watch::channel(false);
        let context = Arc::new(Context {
            streams: self.streams,
            stream_arn: stream_arn.clone(),
            policy: Policy::from_settings(&self.settings),
            backoff: Backoff {
                initial: self.options.retry_backoff_initial,
                max: self.options.retry_backoff_max,
            },
            settings: self.settings,
            options: self.options,
            handler,
            shared: Arc::clone(&shared),
        });
        info!(
            stream_arn = %stream_arn,
            shards = table.len(),
            starting_position = ?context.settings.starting_position,
            batch_size = context.settings.batch_size,
            filters = context.settings.filters.len(),
            "stream runner started"
        );
        let task = tokio::spawn(coordinate(context, table, StopSignal(stop_rx)));
        Ok(RunnerHandle::new(stream_arn, stop_tx, task, shared))
    }
}
