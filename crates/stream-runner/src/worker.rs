//! The per-shard worker. Lambda delivers a shard's records in order with one batch in flight, shards
//! concurrently; so each shard gets a task of its own that reads it (GetRecords, re-taking expired
//! iterators), converts and filters its records, gathers them into batches (`BatchSize`,
//! `MaximumBatchingWindowInSeconds`) and invokes the handler, carrying out what [`crate::policy`]
//! decides on failures.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::SystemTime;

use aws_sdk_dynamodbstreams::error::DisplayErrorContext;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use tokio::time::Instant;
use tracing::{debug, error, warn};

use crate::context::{Context, StopSignal, Stopped};
use crate::filter::matches_any;
use crate::handle::{DeadLetter, DeadLetterCondition, bump};
use crate::policy::{Attempt, BatchPlan, GiveUp, Outcome, interpret};
use crate::record::{LambdaRecord, convert, lambda_event};
use crate::shards::{ShardStart, get_iterator};

/// GetRecords' maximum.
const GET_RECORDS_LIMIT: i32 = 1000;

/// One pending record of a shard.
type Pending = LambdaRecord;

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
        let pause = self.context.backoff.pause(self.read_errors);
        self.stop.sleep(pause).await
    }

    /// Delivers one batch with Lambda's error handling (see [`crate::policy`]): partial batch
    /// responses, retries, bisecting, maximum retry attempts and record age. Returns when every record
    /// of the batch has succeeded or been given up.
    async fn process_batch(&mut self, batch: Vec<Pending>) -> Result<(), Stopped> {
        let context = Arc::clone(&self.context);
        let policy = &context.policy;
        let counters = &context.shared.counters;
        let mut plan = BatchPlan::new(batch);
        while let Some(mut attempt) = plan.next_attempt() {
            if attempt.redelivery {
                let pause = context.backoff.pause(plan.failures());
                self.stop.sleep(pause).await?;
            }
            if let Some(expired) = plan.expire(&mut attempt, SystemTime::now(), policy) {
                self.give_up(expired);
            }
            if attempt.records.is_empty() {
                continue;
            }
            if attempt.redelivery {
                bump(&counters.retries, 1);
            }
            let outcome = self.invoke(&attempt.records).await?;
            self.report(&attempt, &outcome);
            let settled = plan.settle(attempt, &outcome, policy);
            bump(&counters.records_succeeded, settled.succeeded);
            if settled.bisected {
                bump(&counters.bisections, 1);
            }
            if let Some(given_up) = settled.given_up {
                self.give_up(given_up);
            }
        }
        Ok(())
    }

    /// Counts and logs how an invocation failed (nothing to do for a success).
    fn report(&self, attempt: &Attempt<Pending>, outcome: &Outcome) {
        let counters = &self.context.shared.counters;
        let records = &attempt.records;
        match outcome {
            Outcome::Success => {}
            Outcome::PartialFailure(_) | Outcome::WholeBatchFailure(_) => {
                if let Outcome::WholeBatchFailure(reason) = outcome {
                    warn!(
                        shard_id = %self.shard_id,
                        reason,
                        "batchItemFailures names no record of the batch; the whole batch failed"
                    );
                }
                bump(&counters.partial_failures, 1);
                let first_failed = outcome.first_failed().unwrap_or(0).min(records.len());
                debug!(
                    shard_id = %self.shard_id,
                    succeeded = first_failed,
                    failed_from = %records.get(first_failed).map(|r| r.sequence_number.as_str()).unwrap_or_default(),
                    remaining = records.len() - first_failed,
                    attempts = attempt.retries,
                    "batch partially failed"
                );
            }
            Outcome::FunctionError(_) => {
                bump(&counters.function_errors, 1);
                warn!(
                    shard_id = %self.shard_id,
                    batch_size = records.len(),
                    first_sequence_number = %records.first().map(|r| r.sequence_number.as_str()).unwrap_or_default(),
                    attempts = attempt.retries,
                    "function error"
                );
            }
        }
    }

    /// Invokes the handler once (in its own task, so that a panic is a function error, as a crash is
    /// in Lambda). On stop, an in-flight invocation may finish within the shutdown grace.
    async fn invoke(&mut self, records: &[Pending]) -> Result<Outcome, Stopped> {
        let context = Arc::clone(&self.context);
        let counters = &context.shared.counters;
        bump(&counters.batches, 1);
        bump(&counters.records_delivered, records.len());
        let event = lambda_event(records.iter().map(|record| record.json.clone()));
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
            Ok(Ok(response)) => interpret(
                records,
                &response,
                context.policy.report_batch_item_failures,
            ),
            Ok(Err(e)) => Outcome::FunctionError(format!("{e:#}")),
            Err(e) if e.is_panic() => Outcome::FunctionError("the handler panicked".to_owned()),
            Err(_) => Outcome::FunctionError("the invocation was cancelled".to_owned()),
        })
    }

    fn give_up(&self, given_up: GiveUp<Pending>) {
        let GiveUp {
            condition,
            records,
            retries,
            last_error,
        } = given_up;
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
            &records,
            (first, last, records.len()),
            retries,
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
