//! Lambda's error-handling rules for a stream batch, as pure functions and types (no I/O, no clock, no
//! logs) so that each rule is unit-tested on its own; the worker invokes, sleeps, counts and logs as
//! they decide.
//!
//! - [`interpret`]: what the function's response means (a partial batch response, or success);
//! - [`split_expired`]: records older than `MaximumRecordAgeInSeconds` are given up before invoking;
//! - [`next_step`]: after an invocation, what becomes of the records (succeeded, retried, bisected,
//!   given up);
//! - [`BatchPlan`]: the attempts still to make for one batch, in order, with what the backoff and
//!   the dead letters need to know;
//! - [`Backoff`]: the pause before a retry.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::handle::DeadLetterCondition;
use crate::record::LambdaRecord;
use crate::template::EventSourceSettings;

/// DynamoDB Streams keeps records for 24 hours; with an infinite `MaximumRecordAgeInSeconds` a failing
/// record is retried until it leaves the stream, which is when we give it up.
pub(crate) const STREAM_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// What the rules need to know of a record.
pub(crate) trait BatchRecord {
    /// `dynamodb.SequenceNumber`: what `batchItemFailures[].itemIdentifier` names.
    fn sequence_number(&self) -> &str;
    /// `ApproximateCreationDateTime`: what the record's age is measured from.
    fn created(&self) -> SystemTime;
}

impl BatchRecord for LambdaRecord {
    fn sequence_number(&self) -> &str {
        &self.sequence_number
    }

    fn created(&self) -> SystemTime {
        self.created
    }
}

/// The event source mapping settings the rules depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// `BisectBatchOnFunctionError`.
    pub(crate) bisect_batch_on_function_error: bool,
    /// `MaximumRetryAttempts`; `None` retries until the records are too old.
    pub(crate) maximum_retry_attempts: Option<u32>,
    /// `MaximumRecordAgeInSeconds`, with Lambda's -1 (`None` in the settings) resolved to the
    /// stream's retention.
    pub(crate) maximum_record_age: Duration,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`.
    pub(crate) report_batch_item_failures: bool,
}

impl Policy {
    pub(crate) fn from_settings(settings: &EventSourceSettings) -> Self {
        Self {
            bisect_batch_on_function_error: settings.bisect_batch_on_function_error,
            maximum_retry_attempts: settings.maximum_retry_attempts,
            maximum_record_age: settings.maximum_record_age.unwrap_or(STREAM_RETENTION),
            report_batch_item_failures: settings.report_batch_item_failures,
        }
    }

    /// Whether records that failed after `retries` retries may not be retried again.
    pub(crate) fn exhausted(&self, retries: u32) -> bool {
        exhausted(self.maximum_retry_attempts, retries)
    }
}

/// Whether records that failed after `retries` retries may not be retried again, with at most
/// `maximum_retry_attempts` retries (`None`: no maximum).
pub(crate) fn exhausted(maximum_retry_attempts: Option<u32>, retries: u32) -> bool {
    maximum_retry_attempts.is_some_and(|max| retries >= max)
}

/// The pause before a retry (and before re-reading a shard after an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub(crate) initial: Duration,
    pub(crate) max: Duration,
}

impl Backoff {
    /// `initial * 2^(failures - 1)`, at most `max` (`initial` for 0 or 1 failures).
    pub(crate) fn pause(&self, failures: u32) -> Duration {
        let factor = 2_u32.saturating_pow(failures.saturating_sub(1).min(20));
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every record succeeded (or the response is ignored).
    Success,
    /// The function named failed records: the index in the batch of the first of them (the lowest
    /// sequence number), from which the records are delivered again.
    PartialFailure(usize),
    /// `batchItemFailures` is there but does not name records of the batch (why, for the log): Lambda
    /// fails the whole batch, which is a partial failure from the first record.
    WholeBatchFailure(&'static str),
    /// The function returned an error (or panicked): the message.
    FunctionError(String),
}

impl Outcome {
    /// For a (partial or whole) batch failure, the index of the first failed record.
    pub(crate) fn first_failed(&self) -> Option<usize> {
        match self {
            Self::PartialFailure(index) => Some(*index),
            Self::WholeBatchFailure(_) => Some(0),
            Self::Success | Self::FunctionError(_) => None,
        }
    }
}

/// Lambda's reading of a response to a batch of `records`.
///
/// - Unless `report_batch_item_failures`, the response is ignored: success.
/// - Success: a null response, a response with no `batchItemFailures` key (`{}`), a null or empty
///   `batchItemFailures` list.
/// - Otherwise the records from the lowest sequence number named by an `itemIdentifier` on are
///   failed.
/// - The whole batch fails (as a partial failure from the first record) when an entry has a missing,
///   null, empty or unknown `itemIdentifier`, or when `batchItemFailures` or an entry is not of
///   Lambda's shape.
///
/// A response that is not an object at all (a string, a number, a list) has no `batchItemFailures`
/// key, and Lambda reads nothing else of it: success. Lambda documents an invalid response as a whole
/// batch failure; the handler hands us parsed JSON, so "invalid" can only mean a `batchItemFailures`
/// of the wrong shape, which fails the whole batch here too.
pub(crate) fn interpret<R: BatchRecord>(
    records: &[R],
    response: &Value,
    report_batch_item_failures: bool,
) -> Outcome {
    if !report_batch_item_failures {
        return Outcome::Success;
    }
    let failures = match response.get("batchItemFailures") {
        None | Some(Value::Null) => return Outcome::Success,
        Some(Value::Array(failures)) if failures.is_empty() => return Outcome::Success,
        Some(Value::Array(failures)) => failures,
        Some(_) => return Outcome::WholeBatchFailure("batchItemFailures is not a list"),
    };
    let mut first_failed = records.len();
    for failure in failures {
        let id = match failure.get("itemIdentifier") {
            Some(Value::String(id)) if !id.is_empty() => id,
            _ => {
                return Outcome::WholeBatchFailure(
                    "a batch item failure has no itemIdentifier, or an empty or non-string one",
                );
            }
        };
        match records
            .iter()
            .position(|record| record.sequence_number() == id)
        {
            Some(index) => first_failed = first_failed.min(index),
            None => {
                return Outcome::WholeBatchFailure(
                    "an itemIdentifier names no record of the batch",
                );
            }
        }
    }
    Outcome::PartialFailure(first_failed)
}

/// Splits `records` into those older than `max_age` at `now` (to give up with `RecordAgeExceeded`)
/// and the others, each in their order. A record dated in the future is not old.
pub(crate) fn split_expired<R: BatchRecord>(
    records: Vec<R>,
    now: SystemTime,
    max_age: Duration,
) -> (Vec<R>, Vec<R>) {
    records
        .into_iter()
        .partition(|record| now.duration_since(record.created()).unwrap_or_default() > max_age)
}

/// One delivery to make: records in order, with their history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attempt<R> {
    pub(crate) records: Vec<R>,
    /// Retries made so far of these records (bisecting does not count, as in Lambda).
    pub(crate) retries: u32,
    /// The records were delivered before (a retry or a bisected half): the delivery waits for the
    /// backoff and counts in `RunnerStats::retries`.
    pub(crate) redelivery: bool,
}

/// What becomes of an attempt's records after an invocation; see [`next_step`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action<R> {
    /// The first this many records of the attempt are done.
    Succeeded(usize),
    /// Deliver these records again, before anything else still planned.
    Retry(Attempt<R>),
    /// Deliver these two halves, the first then the second, before anything else still planned.
    Bisect(Attempt<R>, Attempt<R>),
    /// Give these records up, after `retries` retries.
    GiveUp {
        condition: DeadLetterCondition,
        records: Vec<R>,
        retries: u32,
    },
}

/// Lambda's rules after invoking `attempt` ended in `outcome` (in order):
///
/// - success: every record succeeded;
/// - partial failure: the records before the first failed one succeeded; the rest is retried (a
///   retry), or given up with `RetryAttemptsExhausted` once `MaximumRetryAttempts` retries are made;
/// - function error: with `BisectBatchOnFunctionError` and more than one record, the records are split
///   in two halves (the first half the smaller when odd), each delivered again with the same retry
///   count (not a retry); otherwise retried, or given up like a partial failure.
pub(crate) fn next_step<R>(
    attempt: Attempt<R>,
    outcome: &Outcome,
    policy: &Policy,
) -> Vec<Action<R>> {
    let Attempt {
        mut records,
        retries,
        ..
    } = attempt;
    let retry_or_give_up = |records: Vec<R>| {
        if policy.exhausted(retries) {
            Action::GiveUp {
                condition: DeadLetterCondition::RetryAttemptsExhausted,
                records,
                retries,
            }
        } else {
            Action::Retry(Attempt {
                records,
                retries: retries + 1,
                redelivery: true,
            })
        }
    };
    let mut actions = Vec::new();
    match outcome {
        Outcome::Success => actions.push(Action::Succeeded(records.len())),
        Outcome::PartialFailure(_) | Outcome::WholeBatchFailure(_) => {
            let first_failed = outcome.first_failed().unwrap_or(0).min(records.len());
            let failed = records.split_off(first_failed);
            if first_failed > 0 {
                actions.push(Action::Succeeded(first_failed));
            }
            if !failed.is_empty() {
                actions.push(retry_or_give_up(failed));
            }
        }
        Outcome::FunctionError(_) => {
            if policy.bisect_batch_on_function_error && records.len() > 1 {
                let second = records.split_off(records.len() / 2);
                let half = |records| Attempt {
                    records,
                    retries,
                    redelivery: true,
                };
                actions.push(Action::Bisect(half(records), half(second)));
            } else if !records.is_empty() {
                actions.push(retry_or_give_up(records));
            }
        }
    }
    actions
}

/// Records to give up, with what the dead letter reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GiveUp<R> {
    pub(crate) condition: DeadLetterCondition,
    pub(crate) records: Vec<R>,
    pub(crate) retries: u32,
    /// The last failure before giving up.
    pub(crate) last_error: Option<String>,
}

/// What the worker must carry out after [`BatchPlan::settle`] (the records to deliver again are
/// already planned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settled<R> {
    /// Records the function completed.
    pub(crate) succeeded: usize,
    /// The attempt was split in two.
    pub(crate) bisected: bool,
    /// Records given up after the last retry.
    pub(crate) given_up: Option<GiveUp<R>>,
}

/// The note kept as the last error when the function reports batch item failures.
pub(crate) const BATCH_ITEM_FAILURES: &str = "the function reported batch item failures";

/// The deliveries still to make for one batch, in order (a retry or the halves of a bisected attempt
/// go first), with the failures in a row (for the backoff) and the last failure (for dead letters).
///
/// The worker's loop: [`next_attempt`](Self::next_attempt); after the backoff if it is a
/// redelivery, [`expire`](Self::expire) its old records; invoke; [`settle`](Self::settle).
#[derive(Debug)]
pub(crate) struct BatchPlan<R> {
    queue: VecDeque<Attempt<R>>,
    failures: u32,
    last_error: Option<String>,
}

impl<R> BatchPlan<R> {
    /// A plan to deliver `batch` once.
    pub(crate) fn new(batch: Vec<R>) -> Self {
        Self {
            queue: VecDeque::from([Attempt {
                records: batch,
                retries: 0,
                redelivery: false,
            }]),
            failures: 0,
            last_error: None,
        }
    }

    /// The next delivery, or `None` when every record has succeeded or been given up.
    pub(crate) fn next_attempt(&mut self) -> Option<Attempt<R>> {
        self.queue.pop_front()
    }

    /// Failed invocations in a row: the backoff before a redelivery is [`Backoff::pause`] of this.
    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }

    /// Takes out of `attempt` the records older than `policy`'s maximum age at `now`, to give up with
    /// `RecordAgeExceeded`; the attempt keeps the others (maybe none: then skip it).
    pub(crate) fn expire(
        &self,
        attempt: &mut Attempt<R>,
        now: SystemTime,
        policy: &Policy,
    ) -> Option<GiveUp<R>>
    where
        R: BatchRecord,
    {
        let records = std::mem::take(&mut attempt.records);
        let (expired, live) = split_expired(records, now, policy.maximum_record_age);
        attempt.records = live;
        (!expired.is_empty()).then(|| GiveUp {
            condition: DeadLetterCondition::RecordAgeExceeded,
            records: expired,
            retries: attempt.retries,
            last_error: self.last_error.clone(),
        })
    }

    /// Applies [`next_step`] to an invoked `attempt`: plans what is delivered again and returns what
    /// the worker must count and give up.
    pub(crate) fn settle(
        &mut self,
        attempt: Attempt<R>,
        outcome: &Outcome,
        policy: &Policy,
    ) -> Settled<R> {
        match outcome {
            Outcome::Success => self.failures = 0,
            Outcome::PartialFailure(_) | Outcome::WholeBatchFailure(_) => {
                self.failures += 1;
                self.last_error = Some(BATCH_ITEM_FAILURES.to_owned());
            }
            Outcome::FunctionError(message) => {
                self.failures += 1;
                self.last_error = Some(message.clone());
            }
        }
        let mut settled = Settled {
            succeeded: 0,
            bisected: false,
            given_up: None,
        };
        for action in next_step(attempt, outcome, policy) {
            match action {
                Action::Succeeded(count) => settled.succeeded += count,
                Action::Retry(retry) => self.queue.push_front(retry),
                Action::Bisect(first, second) => {
                    settled.bisected = true;
                    self.queue.push_front(second);
                    self.queue.push_front(first);
                }
                Action::GiveUp {
                    condition,
                    records,
                    retries,
                } => {
                    settled.given_up = Some(GiveUp {
                        condition,
                        records,
                        retries,
                        last_error: self.last_error.clone(),
                    });
                }
            }
        }
        settled
    }
}

#[cfg(test)]
mod tests;
