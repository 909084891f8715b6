//! The per-shard worker: reads one shard in order (GetRecords, re-taking expired iterators), converts
//! and filters its records, gathers them into batches (`BatchSize`, `MaximumBatchingWindowInSeconds`)
//! and invokes the handler one batch at a time, with Lambda's retries and dead letters.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodbstreams::error::DisplayErrorContext;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use tokio::time::Instant;
use tracing::{debug, error, warn};

use crate::context::{Context, StopSignal, Stopped};
use crate::filter::matches_any;
use crate::handle::{DeadLetter, DeadLetterCondition, bump};
use crate::record::{LambdaRecord, convert};
use crate::shards::{ShardStart, get_iterator};

/// DynamoDB Streams keeps records for 24 hours; with an infinite `MaximumRecordAgeInSeconds` a failing
/// record is retried until it leaves the stream, which is when we give it up.
const STREAM_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);
/// GetRecords' maximum.
const GET_RECORDS_LIMIT: i32 = 1000;

/// One pending record of a shard.
type Pending = LambdaRecord;

enum Outcome {
    Success,
    /// The handler reported failures; the index of the first failed record in the batch.
    PartialFailure(usize),
    FunctionError(String),
}

/// Reads one shard in order and delivers it, one batch at a time.
pub(crate) struct ShardWorker {
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
    pub(crate) fn new(
        context: Arc<Context>,
        shard_id: String,
        start: ShardStart,
        stop: StopSignal,
    ) -> Self {
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

    /// Reads the shard to its end (or until stopped).
    pub(crate) async fn run(mut self) {
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
        self.context.shared.push_dead_letter(DeadLetter {
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

    #[test]
    fn retries_are_exhausted_after_the_maximum_and_never_when_infinite() {
        assert!(exhausted(Some(0), 0));
        assert!(!exhausted(Some(2), 1));
        assert!(exhausted(Some(2), 2));
        assert!(!exhausted(None, u32::MAX));
    }
}
