//! The runner: shard discovery, per-shard reading, batching, invocation, retries and dead letters.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result, ensure};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::error::DisplayErrorContext;
use aws_sdk_dynamodbstreams::types::{Record, Shard, ShardIteratorType};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, error, info, warn};

use crate::StreamHandler;
use crate::filter::{FilterPattern, matches_any};
use crate::record::{LambdaRecord, convert};
use crate::template::{EventSourceSettings, StartingPosition};

/// DynamoDB Streams keeps records for 24 hours; with an infinite `MaximumRecordAgeInSeconds` a failing
/// record is retried until it leaves the stream, which is when we give it up.
const STREAM_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);
/// GetRecords' maximum.
const GET_RECORDS_LIMIT: i32 = 1000;

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
struct Options {
    poll_interval: Duration,
    shard_discovery_interval: Duration,
    retry_backoff_initial: Duration,
    retry_backoff_max: Duration,
    shutdown_grace: Duration,
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
    handler: Option<Arc<dyn StreamHandler>>,
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

    /// The function to invoke.
    pub fn handler(mut self, handler: impl StreamHandler + 'static) -> Self {
        self.handler = Some(Arc::new(handler));
        self
    }

    /// The function to invoke, already shared.
    pub fn shared_handler(mut self, handler: Arc<dyn StreamHandler>) -> Self {
        self.handler = Some(handler);
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

        let mut table = ShardTable::default();
        for shard in &shards {
            let Some(id) = shard.shard_id() else { continue };
            let closed = shard
                .sequence_number_range()
                .is_some_and(|range| range.ending_sequence_number().is_some());
            let (state, start) = match self.settings.starting_position {
                StartingPosition::TrimHorizon => (ShardState::Waiting, ShardStart::TrimHorizon),
                // LATEST: records already in closed shards are old; open shards start at their tip.
                StartingPosition::Latest if closed => (ShardState::Done, ShardStart::TrimHorizon),
                StartingPosition::Latest => {
                    let iterator = get_iterator(
                        &self.streams,
                        &stream_arn,
                        id,
                        ShardIteratorType::Latest,
                        None,
                    )
                    .await?;
                    (ShardState::Waiting, ShardStart::Iterator(iterator))
                }
            };
            table.shards.insert(
                id.to_owned(),
                ShardEntry {
                    parent: shard.parent_shard_id().map(str::to_owned),
                    state,
                    start,
                },
            );
        }

        let shared = Arc::new(Shared::default());
        let (stop_tx, stop_rx) = watch::channel(false);
        let context = Arc::new(Context {
            streams: self.streams,
            stream_arn: stream_arn.clone(),
            settings: self.settings,
            options: self.options,
            handler,
            shared: Arc::clone(&shared),
        });
        info!(
            stream_arn = %stream_arn,
            shards = table.shards.len(),
            starting_position = ?context.settings.starting_position,
            batch_size = context.settings.batch_size,
            filters = context.settings.filters.len(),
            "stream runner started"
        );
        let task = tokio::spawn(coordinate(context, table, StopSignal(stop_rx)));
        Ok(RunnerHandle {
            stream_arn,
            stop_tx,
            task: Mutex::new(Some(task)),
            shared,
        })
    }
}

/// A running runner. [`RunnerHandle::stop`] shuts it down; dropping the handle also asks it to stop
/// (without waiting).
pub struct RunnerHandle {
    stream_arn: String,
    stop_tx: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    shared: Arc<Shared>,
}

impl fmt::Debug for RunnerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunnerHandle")
            .field("stream_arn", &self.stream_arn)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl RunnerHandle {
    /// The stream being read.
    pub fn stream_arn(&self) -> &str {
        &self.stream_arn
    }

    /// The counters so far.
    pub fn stats(&self) -> RunnerStats {
        self.shared.counters.snapshot()
    }

    /// The records given up so far (what Lambda would send to the on-failure destination), oldest first.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.shared
            .dead_letters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops polling and waits until every task of the runner has ended: an in-flight invocation may
    /// finish (up to the shutdown grace), nothing new is read or delivered. Idempotent.
    pub async fn stop(&self) {
        self.stop_tx.send_replace(true);
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            if let Err(e) = task.await {
                error!(stream_arn = %self.stream_arn, panic = e.is_panic(), "stream runner task failed");
            }
            info!(stream_arn = %self.stream_arn, stats = ?self.stats(), "stream runner stopped");
        }
    }
}

impl Drop for RunnerHandle {
    fn drop(&mut self) {
        self.stop_tx.send_replace(true);
    }
}

/// Counters of a runner, for tests and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunnerStats {
    /// Stream records read (each once).
    pub records_seen: u64,
    /// Records dropped because they matched no filter.
    pub records_filtered_out: u64,
    /// Records handed to the handler, counting each re-delivery.
    pub records_delivered: u64,
    /// Records the handler completed (a successful invocation, or before the first reported failure).
    pub records_succeeded: u64,
    /// Handler invocations.
    pub batches: u64,
    /// Invocations that re-delivered records already delivered (retries and bisected halves).
    pub retries: u64,
    /// Invocations that returned an error (or panicked).
    pub function_errors: u64,
    /// Invocations that reported batch item failures.
    pub partial_failures: u64,
    /// Batches split in two after a function error.
    pub bisections: u64,
    /// Records given up (see [`DeadLetter`]).
    pub records_dead_lettered: u64,
    /// Shards whose reading started.
    pub shards_started: u64,
    /// Shards read to their end (closed and drained).
    pub shards_finished: u64,
}

#[derive(Debug, Default)]
struct Counters {
    records_seen: AtomicU64,
    records_filtered_out: AtomicU64,
    records_delivered: AtomicU64,
    records_succeeded: AtomicU64,
    batches: AtomicU64,
    retries: AtomicU64,
    function_errors: AtomicU64,
    partial_failures: AtomicU64,
    bisections: AtomicU64,
    records_dead_lettered: AtomicU64,
    shards_started: AtomicU64,
    shards_finished: AtomicU64,
}

fn bump(counter: &AtomicU64, by: usize) {
    counter.fetch_add(u64::try_from(by).unwrap_or(u64::MAX), Ordering::Relaxed);
}

impl Counters {
    fn snapshot(&self) -> RunnerStats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RunnerStats {
            records_seen: get(&self.records_seen),
            records_filtered_out: get(&self.records_filtered_out),
            records_delivered: get(&self.records_delivered),
            records_succeeded: get(&self.records_succeeded),
            batches: get(&self.batches),
            retries: get(&self.retries),
            function_errors: get(&self.function_errors),
            partial_failures: get(&self.partial_failures),
            bisections: get(&self.bisections),
            records_dead_lettered: get(&self.records_dead_lettered),
            shards_started: get(&self.shards_started),
            shards_finished: get(&self.shards_finished),
        }
    }
}

/// Why records were given up; the names are the `condition` Lambda reports to the on-failure
/// destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterCondition {
    /// `MaximumRetryAttempts` retries failed.
    RetryAttemptsExhausted,
    /// The records became older than `MaximumRecordAgeInSeconds` (or the stream's retention).
    RecordAgeExceeded,
    /// The record could not be converted to Lambda's shape (a bug in the runner; never expected).
    InvalidRecord,
}

impl DeadLetterCondition {
    /// The condition's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RetryAttemptsExhausted => "RetryAttemptsExhausted",
            Self::RecordAgeExceeded => "RecordAgeExceeded",
            Self::InvalidRecord => "InvalidRecord",
        }
    }
}

impl fmt::Display for DeadLetterCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Records given up: what Lambda sends to the on-failure destination (its metadata) plus, for
/// tests, the records themselves (kept in memory only, never logged).
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub condition: DeadLetterCondition,
    pub stream_arn: String,
    pub shard_id: String,
    pub start_sequence_number: String,
    pub end_sequence_number: String,
    /// Number of records given up.
    pub batch_size: usize,
    /// Retries made before giving up.
    pub retry_attempts: u32,
    /// The last function error, or a note that the function reported batch item failures.
    pub last_error: Option<String>,
    pub records: Vec<EventRecord>,
}

#[derive(Default)]
struct Shared {
    counters: Counters,
    dead_letters: Mutex<Vec<DeadLetter>>,
}

struct Context {
    streams: Client,
    stream_arn: String,
    settings: EventSourceSettings,
    options: Options,
    handler: Arc<dyn StreamHandler>,
    shared: Arc<Shared>,
}

/// The stop flag, seen by every task; a dropped sender (handle dropped) also means stop.
#[derive(Clone)]
struct StopSignal(watch::Receiver<bool>);

/// Returned when a task noticed the stop signal.
#[derive(Debug)]
struct Stopped;

impl StopSignal {
    fn is_stopped(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }

    async fn stopped(&mut self) {
        // Err: the sender is gone, which means stop too.
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }

    /// Sleeps `duration`, or less if stopped.
    async fn sleep(&mut self, duration: Duration) -> Result<(), Stopped> {
        tokio::select! {
            () = tokio::time::sleep(duration) => Ok(()),
            () = self.stopped() => Err(Stopped),
        }
    }
}

async fn resolve_stream_arn(
    streams: &Client,
    dynamodb: Option<&aws_sdk_dynamodb::Client>,
    source: &str,
) -> Result<String> {
    if source.starts_with("arn:") {
        return Ok(source.to_owned());
    }
    if let Some(dynamodb) = dynamodb {
        let table = dynamodb
            .describe_table()
            .table_name(source)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "DescribeTable {source}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )
            })?;
        return table
            .table()
            .and_then(|table| table.latest_stream_arn())
            .map(str::to_owned)
            .with_context(|| format!("table {source} has no stream"));
    }
    let mut latest: Option<(String, String)> = None;
    let mut start = None;
    loop {
        let page = streams
            .list_streams()
            .table_name(source)
            .set_exclusive_start_stream_arn(start)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("ListStreams {source}: {}", DisplayErrorContext(e)))?;
        for stream in page.streams() {
            if stream.table_name() != Some(source) {
                continue;
            }
            let (Some(arn), label) = (
                stream.stream_arn(),
                stream.stream_label().unwrap_or_default(),
            ) else {
                continue;
            };
            if latest
                .as_ref()
                .is_none_or(|(best, _)| label > best.as_str())
            {
                latest = Some((label.to_owned(), arn.to_owned()));
            }
        }
        start = page.last_evaluated_stream_arn().map(str::to_owned);
        if start.is_none() {
            break;
        }
    }
    latest
        .map(|(_, arn)| arn)
        .with_context(|| format!("table {source} has no stream"))
}

async fn describe_shards(streams: &Client, stream_arn: &str) -> Result<Vec<Shard>> {
    let mut shards = Vec::new();
    let mut start = None;
    loop {
        let page = streams
            .describe_stream()
            .stream_arn(stream_arn)
            .set_exclusive_start_shard_id(start)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("DescribeStream {stream_arn}: {}", DisplayErrorContext(e))
            })?;
        let description = page
            .stream_description()
            .with_context(|| format!("DescribeStream {stream_arn} returned no description"))?;
        shards.extend(description.shards().iter().cloned());
        start = description.last_evaluated_shard_id().map(str::to_owned);
        if start.is_none() {
            return Ok(shards);
        }
    }
}

async fn get_iterator(
    streams: &Client,
    stream_arn: &str,
    shard_id: &str,
    kind: ShardIteratorType,
    sequence_number: Option<&str>,
) -> Result<String> {
    let output = streams
        .get_shard_iterator()
        .stream_arn(stream_arn)
        .shard_id(shard_id)
        .shard_iterator_type(kind.clone())
        .set_sequence_number(sequence_number.map(str::to_owned))
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "GetShardIterator {shard_id} {}: {}",
                kind.as_str(),
                DisplayErrorContext(e)
            )
        })?;
    output
        .shard_iterator()
        .map(str::to_owned)
        .with_context(|| format!("GetShardIterator {shard_id} returned no iterator"))
}

#[derive(Default)]
struct ShardTable {
    shards: HashMap<String, ShardEntry>,
}

struct ShardEntry {
    parent: Option<String>,
    state: ShardState,
    start: ShardStart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShardState {
    /// Known, not started: its parent is still being read.
    Waiting,
    Running,
    /// Read to its end (or skipped by LATEST).
    Done,
}

#[derive(Debug, Clone)]
enum ShardStart {
    TrimHorizon,
    /// An iterator taken at start (LATEST).
    Iterator(String),
}

impl ShardTable {
    /// Shards that may start: waiting, and their parent is done or no longer in the stream (trimmed),
    /// like Lambda, which processes a child only after its parent is drained.
    fn ready(&self) -> Vec<String> {
        let mut ready: Vec<String> = self
            .shards
            .iter()
            .filter(|(_, entry)| entry.state == ShardState::Waiting)
            .filter(|(_, entry)| {
                entry.parent.as_ref().is_none_or(|parent| {
                    self.shards
                        .get(parent)
                        .is_none_or(|parent| parent.state == ShardState::Done)
                })
            })
            .map(|(id, _)| id.clone())
            .collect();
        ready.sort();
        ready
    }

    /// Adds shards not seen before (new shards start at TRIM_HORIZON, whatever the starting position,
    /// so nothing written to them before we noticed them is lost).
    fn add_new(&mut self, shards: &[Shard]) -> usize {
        let mut added = 0;
        for shard in shards {
            let Some(id) = shard.shard_id() else { continue };
            if !self.shards.contains_key(id) {
                self.shards.insert(
                    id.to_owned(),
                    ShardEntry {
                        parent: shard.parent_shard_id().map(str::to_owned),
                        state: ShardState::Waiting,
                        start: ShardStart::TrimHorizon,
                    },
                );
                added += 1;
            }
        }
        added
    }
}

/// Discovers shards, starts each when its parent is done, and on stop waits for all shard tasks.
async fn coordinate(context: Arc<Context>, mut table: ShardTable, mut stop: StopSignal) {
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut running: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut discovery = tokio::time::interval(context.options.shard_discovery_interval);
    discovery.set_missed_tick_behavior(MissedTickBehavior::Delay);
    discovery.reset(); // the shards were just listed by `start`
    let mut discovery_failures = 0_u32;

    loop {
        for shard_id in table.ready() {
            let Some(entry) = table.shards.get_mut(&shard_id) else {
                continue;
            };
            entry.state = ShardState::Running;
            let start = entry.start.clone();
            bump(&context.shared.counters.shards_started, 1);
            debug!(shard_id = %shard_id, "shard reading started");
            let handle = tasks.spawn(
                ShardWorker::new(Arc::clone(&context), shard_id.clone(), start, stop.clone()).run(),
            );
            running.insert(handle.id(), shard_id);
        }

        tokio::select! {
            () = stop.stopped() => break,
            Some(joined) = tasks.join_next_with_id() => {
                let (id, panicked) = match joined {
                    Ok((id, ())) => (id, false),
                    Err(e) => (e.id(), e.is_panic()),
                };
                if let Some(shard_id) = running.remove(&id) {
                    if panicked {
                        error!(shard_id = %shard_id, "shard task panicked; the shard is skipped");
                    } else {
                        debug!(shard_id = %shard_id, "shard read to its end");
                    }
                    bump(&context.shared.counters.shards_finished, 1);
                    if let Some(entry) = table.shards.get_mut(&shard_id) {
                        entry.state = ShardState::Done;
                    }
                }
            }
            _ = discovery.tick() => {
                match describe_shards(&context.streams, &context.stream_arn).await {
                    Ok(shards) => {
                        discovery_failures = 0;
                        let added = table.add_new(&shards);
                        if added > 0 {
                            debug!(added, known = table.shards.len(), "new shards found");
                        }
                    }
                    Err(e) => {
                        discovery_failures += 1;
                        // The first failures are common while DynamoDB Local restarts; say it once.
                        if discovery_failures == 1 || discovery_failures.is_multiple_of(60) {
                            warn!(
                                stream_arn = %context.stream_arn,
                                failures = discovery_failures,
                                error = %format!("{e:#}"),
                                "DescribeStream failed; will retry"
                            );
                        }
                    }
                }
            }
        }
    }

    // Stopping: every shard task sees the same signal and returns promptly.
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined
            && e.is_panic()
        {
            error!("shard task panicked while stopping");
        }
    }
}

/// One pending record of a shard.
type Pending = LambdaRecord;

enum Outcome {
    Success,
    /// The handler reported failures; the index of the first failed record in the batch.
    PartialFailure(usize),
    FunctionError(String),
}

/// Reads one shard in order and delivers it, one batch at a time.
struct ShardWorker {
    context: Arc<Context>,
    shard_id: String,
    stop: StopSignal,
    /// `None` once the shard is closed and read to its end.
    iterator: Option<String>,
    /// The iterator must be (re)taken before the next read.
    needs_iterator: bool,
    /// The last sequence number read, to resume after an expired iterator.
    last_read: Option<String>,
    /// Read and matching the filters, not yet delivered.
    buffer: VecDeque<Pending>,
    /// Failures in a row of the current batch, for the backoff.
    consecutive_failures: u32,
    read_errors: u32,
}

impl ShardWorker {
    fn new(context: Arc<Context>, shard_id: String, start: ShardStart, stop: StopSignal) -> Self {
        let (iterator, needs_iterator) = match start {
            ShardStart::TrimHorizon => (None, true),
            ShardStart::Iterator(iterator) => (Some(iterator), false),
        };
        Self {
            context,
            shard_id,
            stop,
            iterator,
            needs_iterator,
            last_read: None,
            buffer: VecDeque::new(),
            consecutive_failures: 0,
            read_errors: 0,
        }
    }

    fn ended(&self) -> bool {
        !self.needs_iterator && self.iterator.is_none()
    }

    async fn run(mut self) {
        match self.run_until_end().await {
            Ok(()) => {}
            Err(Stopped) => debug!(shard_id = %self.shard_id, "shard reading stopped"),
        }
    }

    async fn run_until_end(&mut self) -> Result<(), Stopped> {
        let settings = &self.context.settings;
        let batch_size = settings.batch_size;
        let window = settings.batching_window;
        let poll_interval = self.context.options.poll_interval;
        // When the batch being gathered must be sent even if it is not full.
        let mut deadline: Option<Instant> = None;
        loop {
            if self.stop.is_stopped() {
                return Err(Stopped);
            }
            let ready = !self.buffer.is_empty()
                && (self.buffer.len() >= batch_size
                    || self.ended()
                    || deadline.is_none_or(|deadline| Instant::now() >= deadline));
            if ready {
                let take = batch_size.min(self.buffer.len());
                let batch: Vec<Pending> = self.buffer.drain(..take).collect();
                self.process_batch(batch).await?;
                // The next window starts when the invocation completes.
                deadline = (!self.buffer.is_empty()).then(|| Instant::now() + window);
                continue;
            }
            if self.ended() {
                return Ok(());
            }
            let was_empty = self.buffer.is_empty();
            let read = self.read().await?;
            if was_empty && !self.buffer.is_empty() {
                deadline = Some(Instant::now() + window);
            }
            if read == 0 && !self.ended() {
                let mut pause = poll_interval;
                if let Some(deadline) = deadline {
                    pause = pause.min(deadline.saturating_duration_since(Instant::now()));
                }
                self.stop.sleep(pause).await?;
            }
        }
    }

    /// One GetRecords call; returns how many records it read (matching the filters or not).
    async fn read(&mut self) -> Result<usize, Stopped> {
        if self.needs_iterator {
            let (kind, sequence_number) = match &self.last_read {
                Some(sequence_number) => (
                    ShardIteratorType::AfterSequenceNumber,
                    Some(sequence_number.as_str()),
                ),
                None => (ShardIteratorType::TrimHorizon, None),
            };
            let iterator = tokio::select! {
                result = get_iterator(
                    &self.context.streams,
                    &self.context.stream_arn,
                    &self.shard_id,
                    kind,
                    sequence_number,
                ) => result,
                () = self.stop.stopped() => return Err(Stopped),
            };
            match iterator {
                Ok(iterator) => {
                    self.iterator = Some(iterator);
                    self.needs_iterator = false;
                }
                Err(e) => {
                    self.read_failed(&format!("{e:#}")).await?;
                    return Ok(0);
                }
            }
        }
        let Some(iterator) = self.iterator.clone() else {
            return Ok(0);
        };
        let response = tokio::select! {
            response = self
                .context
                .streams
                .get_records()
                .shard_iterator(iterator)
                .limit(GET_RECORDS_LIMIT)
                .send() => response,
            () = self.stop.stopped() => return Err(Stopped),
        };
        let output = match response {
            Ok(output) => output,
            Err(e) => {
                let service = e.as_service_error();
                if service.is_some_and(|e| e.is_expired_iterator_exception()) {
                    debug!(shard_id = %self.shard_id, "shard iterator expired; taking a new one");
                    self.needs_iterator = true;
                    return Ok(0);
                }
                if service.is_some_and(|e| e.is_trimmed_data_access_exception()) {
                    warn!(
                        shard_id = %self.shard_id,
                        "records were trimmed from the stream before they were read; resuming at TRIM_HORIZON"
                    );
                    self.last_read = None;
                    self.needs_iterator = true;
                    return Ok(0);
                }
                self.read_failed(&DisplayErrorContext(e).to_string())
                    .await?;
                return Ok(0);
            }
        };
        self.read_errors = 0;
        self.iterator = output.next_shard_iterator().map(str::to_owned);
        let records = output.records();
        self.accept(records);
        Ok(records.len())
    }

    /// Converts and filters records into the buffer.
    fn accept(&mut self, records: &[Record]) {
        let context = Arc::clone(&self.context);
        let counters = &context.shared.counters;
        bump(&counters.records_seen, records.len());
        let now = SystemTime::now();
        for record in records {
            if let Some(sequence_number) = record.dynamodb().and_then(|r| r.sequence_number()) {
                self.last_read = Some(sequence_number.to_owned());
            }
            match convert(record, &context.stream_arn, now) {
                Ok(pending) => {
                    if matches_any(&context.settings.filters, &pending.json) {
                        self.buffer.push_back(pending);
                    } else {
                        bump(&counters.records_filtered_out, 1);
                    }
                }
                Err(e) => {
                    let sequence_number = record
                        .dynamodb()
                        .and_then(|r| r.sequence_number())
                        .unwrap_or_default()
                        .to_owned();
                    error!(
                        shard_id = %self.shard_id,
                        sequence_number = %sequence_number,
                        event_id = record.event_id().unwrap_or_default(),
                        "could not convert a stream record to Lambda's shape; giving it up"
                    );
                    self.dead_letter(
                        DeadLetterCondition::InvalidRecord,
                        &[],
                        (&sequence_number, &sequence_number, 1),
                        0,
                        Some(format!("{e:#}")),
                    );
                }
            }
        }
    }

    async fn read_failed(&mut self, error: &str) -> Result<(), Stopped> {
        self.read_errors += 1;
        if self.read_errors == 1 || self.read_errors.is_multiple_of(20) {
            warn!(
                shard_id = %self.shard_id,
                failures = self.read_errors,
                error = %error,
                "reading the shard failed; will retry"
            );
        }
        let pause = self.backoff(self.read_errors);
        self.stop.sleep(pause).await
    }

    /// `initial * 2^(failures - 1)`, at most `max`.
    fn backoff(&self, failures: u32) -> Duration {
        let options = &self.context.options;
        let factor = 2_u32.saturating_pow(failures.saturating_sub(1).min(20));
        options
            .retry_backoff_initial
            .saturating_mul(factor)
            .min(options.retry_backoff_max)
    }

    /// Delivers one batch with Lambda's error handling: partial batch responses, retries, bisecting,
    /// maximum retry attempts and record age. Returns when every record of the batch has succeeded or
    /// been given up.
    async fn process_batch(&mut self, batch: Vec<Pending>) -> Result<(), Stopped> {
        let context = Arc::clone(&self.context);
        let settings = &context.settings;
        let counters = &context.shared.counters;
        let max_age = settings.maximum_record_age.unwrap_or(STREAM_RETENTION);
        // (records, retry attempts so far, is a re-delivery)
        let mut queue: VecDeque<(Vec<Pending>, u32, bool)> = VecDeque::from([(batch, 0, false)]);
        let mut last_error: Option<String> = None;
        self.consecutive_failures = 0;

        while let Some((records, attempts, redelivery)) = queue.pop_front() {
            if redelivery {
                let pause = self.backoff(self.consecutive_failures);
                self.stop.sleep(pause).await?;
            }
            let now = SystemTime::now();
            let (expired, records): (Vec<Pending>, Vec<Pending>) =
                records.into_iter().partition(|record| {
                    now.duration_since(record.created).unwrap_or_default() > max_age
                });
            if !expired.is_empty() {
                self.give_up(
                    DeadLetterCondition::RecordAgeExceeded,
                    &expired,
                    attempts,
                    last_error.clone(),
                );
            }
            if records.is_empty() {
                continue;
            }
            if redelivery {
                bump(&counters.retries, 1);
            }
            match self.invoke(&records).await? {
                Outcome::Success => {
                    bump(&counters.records_succeeded, records.len());
                    self.consecutive_failures = 0;
                }
                Outcome::PartialFailure(first_failed) => {
                    bump(&counters.partial_failures, 1);
                    bump(&counters.records_succeeded, first_failed);
                    self.consecutive_failures += 1;
                    last_error = Some("the function reported batch item failures".to_owned());
                    let mut records = records;
                    let rest = records.split_off(first_failed);
                    debug!(
                        shard_id = %self.shard_id,
                        succeeded = first_failed,
                        failed_from = %rest.first().map(|r| r.sequence_number.as_str()).unwrap_or_default(),
                        remaining = rest.len(),
                        attempts,
                        "batch partially failed"
                    );
                    if exhausted(settings.maximum_retry_attempts, attempts) {
                        self.give_up(
                            DeadLetterCondition::RetryAttemptsExhausted,
                            &rest,
                            attempts,
                            last_error.clone(),
                        );
                    } else {
                        queue.push_front((rest, attempts + 1, true));
                    }
                }
                Outcome::FunctionError(message) => {
                    bump(&counters.function_errors, 1);
                    self.consecutive_failures += 1;
                    last_error = Some(message);
                    warn!(
                        shard_id = %self.shard_id,
                        batch_size = records.len(),
                        first_sequence_number = %records.first().map(|r| r.sequence_number.as_str()).unwrap_or_default(),
                        attempts,
                        "function error"
                    );
                    if settings.bisect_batch_on_function_error && records.len() > 1 {
                        // Splitting does not count towards the retry quota.
                        bump(&counters.bisections, 1);
                        let mut first = records;
                        let second = first.split_off(first.len() / 2);
                        queue.push_front((second, attempts, true));
                        queue.push_front((first, attempts, true));
                    } else if exhausted(settings.maximum_retry_attempts, attempts) {
                        self.give_up(
                            DeadLetterCondition::RetryAttemptsExhausted,
                            &records,
                            attempts,
                            last_error.clone(),
                        );
                    } else {
                        queue.push_front((records, attempts + 1, true));
                    }
                }
            }
        }
        self.consecutive_failures = 0;
        Ok(())
    }

    /// Invokes the handler once (in its own task, so that a panic is a function error, as a crash is
    /// in Lambda). On stop, an in-flight invocation may finish within the shutdown grace.
    async fn invoke(&mut self, records: &[Pending]) -> Result<Outcome, Stopped> {
        let context = Arc::clone(&self.context);
        let counters = &context.shared.counters;
        bump(&counters.batches, 1);
        bump(&counters.records_delivered, records.len());
        let mut event = Event::default();
        event.records = records.iter().map(|record| record.record.clone()).collect();
        debug!(
            shard_id = %self.shard_id,
            batch_size = records.len(),
            first_sequence_number = %records.first().map(|r| r.sequence_number.as_str()).unwrap_or_default(),
            last_sequence_number = %records.last().map(|r| r.sequence_number.as_str()).unwrap_or_default(),
            "invoking the handler"
        );
        let handler = Arc::clone(&context.handler);
        let mut task = tokio::spawn(async move { handler.handle(event).await });
        let joined = tokio::select! {
            joined = &mut task => joined,
            () = self.stop.stopped() => {
                match tokio::time::timeout(context.options.shutdown_grace, &mut task).await {
                    Ok(joined) => joined,
                    Err(_) => {
                        warn!(shard_id = %self.shard_id, "abandoning an invocation still running at shutdown");
                        task.abort();
                        let _ = task.await;
                        return Err(Stopped);
                    }
                }
            }
        };
        Ok(match joined {
            Ok(Ok(response)) => self.interpret(records, &response),
            Ok(Err(e)) => Outcome::FunctionError(format!("{e:#}")),
            Err(e) if e.is_panic() => Outcome::FunctionError("the handler panicked".to_owned()),
            Err(_) => Outcome::FunctionError("the invocation was cancelled".to_owned()),
        })
    }

    /// Lambda's reading of a partial batch response: ignored unless ReportBatchItemFailures is on;
    /// no failures is success; otherwise retry from the lowest failed sequence number. A failure with
    /// a missing, empty or unknown itemIdentifier makes the whole batch a failure.
    fn interpret(&self, records: &[Pending], response: &DynamoDbEventResponse) -> Outcome {
        if !self.context.settings.report_batch_item_failures
            || response.batch_item_failures.is_empty()
        {
            return Outcome::Success;
        }
        let mut first_failed = records.len();
        for failure in &response.batch_item_failures {
            let index = failure
                .item_identifier
                .as_deref()
                .filter(|id| !id.is_empty())
                .and_then(|id| {
                    records
                        .iter()
                        .position(|record| record.sequence_number == id)
                });
            match index {
                Some(index) => first_failed = first_failed.min(index),
                None => {
                    warn!(
                        shard_id = %self.shard_id,
                        "batchItemFailures names no record of the batch; the whole batch failed"
                    );
                    return Outcome::PartialFailure(0);
                }
            }
        }
        Outcome::PartialFailure(first_failed)
    }

    fn give_up(
        &self,
        condition: DeadLetterCondition,
        records: &[Pending],
        attempts: u32,
        last_error: Option<String>,
    ) {
        let first = records
            .first()
            .map(|r| r.sequence_number.as_str())
            .unwrap_or_default();
        let last = records
            .last()
            .map(|r| r.sequence_number.as_str())
            .unwrap_or_default();
        self.dead_letter(
            condition,
            records,
            (first, last, records.len()),
            attempts,
            last_error,
        );
    }

    fn dead_letter(
        &self,
        condition: DeadLetterCondition,
        records: &[Pending],
        (first, last, count): (&str, &str, usize),
        attempts: u32,
        last_error: Option<String>,
    ) {
        error!(
            stream_arn = %self.context.stream_arn,
            shard_id = %self.shard_id,
            condition = condition.as_str(),
            start_sequence_number = %first,
            end_sequence_number = %last,
            batch_size = count,
            retry_attempts = attempts,
            "records given up: sent to the on-failure destination"
        );
        bump(&self.context.shared.counters.records_dead_lettered, count);
        self.context
            .shared
            .dead_letters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(DeadLetter {
                condition,
                stream_arn: self.context.stream_arn.clone(),
                shard_id: self.shard_id.clone(),
                start_sequence_number: first.to_owned(),
                end_sequence_number: last.to_owned(),
                batch_size: count,
                retry_attempts: attempts,
                last_error,
                records: records.iter().map(|record| record.record.clone()).collect(),
            });
    }
}

/// Whether a batch that failed after `attempts` retries may not be retried again.
fn exhausted(maximum_retry_attempts: Option<u32>, attempts: u32) -> bool {
    maximum_retry_attempts.is_some_and(|max| attempts >= max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parent: Option<&str>) -> Shard {
        Shard::builder()
            .shard_id(id)
            .set_parent_shard_id(parent.map(str::to_owned))
            .build()
    }

    fn set(table: &mut ShardTable, id: &str, state: ShardState) {
        if let Some(entry) = table.shards.get_mut(id) {
            entry.state = state;
        }
    }

    #[test]
    fn a_child_shard_starts_only_after_its_parent_is_drained() {
        let mut table = ShardTable::default();
        assert_eq!(table.add_new(&[shard("a", None), shard("b", Some("a"))]), 2);
        assert_eq!(table.ready(), ["a"]);
        set(&mut table, "a", ShardState::Running);
        assert!(table.ready().is_empty());
        // A grandchild appears while its parent waits.
        assert_eq!(table.add_new(&[shard("a", None), shard("c", Some("b"))]), 1);
        set(&mut table, "a", ShardState::Done);
        assert_eq!(table.ready(), ["b"]);
        set(&mut table, "b", ShardState::Done);
        assert_eq!(table.ready(), ["c"]);
    }

    #[test]
    fn a_shard_whose_parent_left_the_stream_starts_at_once_and_siblings_run_together() {
        let mut table = ShardTable::default();
        table.add_new(&[
            shard("x", Some("trimmed")),
            shard("y", Some("trimmed")),
            shard("z", None),
        ]);
        assert_eq!(table.ready(), ["x", "y", "z"]);
    }

    #[test]
    fn retries_are_exhausted_after_the_maximum_and_never_when_infinite() {
        assert!(exhausted(Some(0), 0));
        assert!(!exhausted(Some(2), 1));
        assert!(exhausted(Some(2), 2));
        assert!(!exhausted(None, u32::MAX));
    }
}
