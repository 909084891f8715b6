//! What a caller holds while the runner runs: [`RunnerHandle`] to stop it and read its counters
//! ([`RunnerStats`]) and the records it gave up ([`DeadLetter`]), which the tasks record in [`Shared`].

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aws_lambda_events::event::dynamodb::EventRecord;
use tokio::sync::watch;
use tracing::{error, info};

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
    /// The handle of a runner whose coordinator is `task`, stopped through `stop_tx`.
    pub(crate) fn new(
        stream_arn: String,
        stop_tx: watch::Sender<bool>,
        task: tokio::task::JoinHandle<()>,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            stream_arn,
            stop_tx,
            task: Mutex::new(Some(task)),
            shared,
        }
    }

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

/// The live counters behind [`RunnerStats`]; see there for what each counts.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) records_seen: AtomicU64,
    pub(crate) records_filtered_out: AtomicU64,
    pub(crate) records_delivered: AtomicU64,
    pub(crate) records_succeeded: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) function_errors: AtomicU64,
    pub(crate) partial_failures: AtomicU64,
    pub(crate) bisections: AtomicU64,
    pub(crate) records_dead_lettered: AtomicU64,
    pub(crate) shards_started: AtomicU64,
    pub(crate) shards_finished: AtomicU64,
}

/// Adds `by` to a counter.
pub(crate) fn bump(counter: &AtomicU64, by: usize) {
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

/// The counters and dead letters, written by the runner's tasks and read through the handle.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) counters: Counters,
    dead_letters: Mutex<Vec<DeadLetter>>,
}

impl Shared {
    /// Records given-up records.
    pub(crate) fn push_dead_letter(&self, dead_letter: DeadLetter) {
        self.dead_letters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(dead_letter);
    }
}
