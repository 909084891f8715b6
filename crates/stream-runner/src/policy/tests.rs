//! The policy's rules one by one, then whole batches driven as the worker drives them, with a fake
//! function and clock: no DynamoDB, no sleeping.

use serde_json::json;

use super::*;

const NOW_SECS: u64 = 1_700_000_000;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_SECS)
}

/// A record: its sequence number and when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    sequence_number: String,
    created: SystemTime,
}

impl BatchRecord for Rec {
    fn sequence_number(&self) -> &str {
        &self.sequence_number
    }

    fn created(&self) -> SystemTime {
        self.created
    }
}

fn aged(sequence_number: u32, age: Duration) -> Rec {
    Rec {
        sequence_number: sequence_number.to_string(),
        created: now() - age,
    }
}

/// Records with sequence numbers `sequence_numbers`, a second old.
fn recs(sequence_numbers: impl IntoIterator<Item = u32>) -> Vec<Rec> {
    sequence_numbers
        .into_iter()
        .map(|n| aged(n, Duration::from_secs(1)))
        .collect()
}

fn seqs(records: &[Rec]) -> Vec<u32> {
    records
        .iter()
        .map(|r| r.sequence_number.parse().unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn policy(bisect: bool, maximum_retry_attempts: Option<u32>) -> Policy {
    Policy {
        bisect_batch_on_function_error: bisect,
        maximum_retry_attempts,
        maximum_record_age: Duration::from_secs(60),
        report_batch_item_failures: true,
    }
}

fn attempt(records: Vec<Rec>, retries: u32) -> Attempt<Rec> {
    Attempt {
        records,
        retries,
        redelivery: retries > 0,
    }
}

fn redelivery(records: Vec<Rec>, retries: u32) -> Attempt<Rec> {
    Attempt {
        records,
        retries,
        redelivery: true,
    }
}

fn failures(ids: &[&str]) -> Value {
    json!({"batchItemFailures": ids.iter().map(|id| json!({"itemIdentifier": id})).collect::<Vec<_>>()})
}

fn error() -> Outcome {
    Outcome::FunctionError("boom".to_owned())
}

// interpret

#[test]
fn no_failures_in_any_of_lambdas_spellings_is_success() {
    let records = recs(1..=3);
    for response in [
        Value::Null,
        json!({}),
        json!({"batchItemFailures": null}),
        json!({"batchItemFailures": []}),
        json!({"somethingElse": [{"itemIdentifier": "2"}]}),
    ] {
        assert_eq!(
            interpret(&records, &response, true),
            Outcome::Success,
            "{response}"
        );
    }
}

#[test]
fn a_response_that_is_not_an_object_has_no_batch_item_failures_so_is_success() {
    let records = recs(1..=3);
    for response in [
        json!("ok"),
        json!(42),
        json!(true),
        json!([{"itemIdentifier": "2"}]),
    ] {
        assert_eq!(
            interpret(&records, &response, true),
            Outcome::Success,
            "{response}"
        );
    }
}

#[test]
fn failures_are_ignored_unless_report_batch_item_failures_is_on() {
    let records = recs(1..=3);
    assert_eq!(
        interpret(&records, &failures(&["2"]), false),
        Outcome::Success
    );
    assert_eq!(
        interpret(&records, &json!({"batchItemFailures": "garbage"}), false),
        Outcome::Success
    );
}

#[test]
fn the_redelivery_starts_at_the_lowest_failed_sequence_number_whatever_the_order_named() {
    let records = recs([10, 20, 30, 40, 50]);
    assert_eq!(
        interpret(&records, &failures(&["50", "30", "40"]), true),
        Outcome::PartialFailure(2)
    );
    assert_eq!(
        interpret(&records, &failures(&["50"]), true),
        Outcome::PartialFailure(4)
    );
}

#[test]
fn a_failure_of_the_first_record_fails_from_index_zero() {
    let records = recs([10, 20, 30]);
    assert_eq!(
        interpret(&records, &failures(&["10"]), true),
        Outcome::PartialFailure(0)
    );
}

#[test]
fn an_unknown_empty_null_missing_or_non_string_item_identifier_fails_the_whole_batch() {
    let records = recs([10, 20, 30]);
    for response in [
        failures(&["20", "99"]),
        failures(&[""]),
        json!({"batchItemFailures": [{"itemIdentifier": null}]}),
        json!({"batchItemFailures": [{"itemidentifier": "20"}]}),
        json!({"batchItemFailures": [{"itemIdentifier": 20}]}),
        json!({"batchItemFailures": ["20"]}),
        json!({"batchItemFailures": {"itemIdentifier": "20"}}),
        json!({"batchItemFailures": "20"}),
    ] {
        assert!(
            matches!(
                interpret(&records, &response, true),
                Outcome::WholeBatchFailure(_)
            ),
            "{response}"
        );
    }
}

// split_expired

#[test]
fn records_strictly_older_than_the_maximum_age_are_split_off_in_order() {
    let max_age = Duration::from_secs(60);
    let records = vec![
        aged(1, Duration::from_secs(61)),
        aged(2, Duration::from_secs(60)),
        aged(3, Duration::from_secs(3600)),
        aged(4, Duration::ZERO),
    ];
    let (expired, live) = split_expired(records, now(), max_age);
    assert_eq!(seqs(&expired), [1, 3]);
    assert_eq!(seqs(&live), [2, 4]);
}

#[test]
fn all_records_may_expire_and_a_record_from_the_future_does_not() {
    let max_age = Duration::from_secs(60);
    let (expired, live) = split_expired(
        vec![
            aged(1, Duration::from_secs(120)),
            aged(2, Duration::from_secs(90)),
        ],
        now(),
        max_age,
    );
    assert_eq!(seqs(&expired), [1, 2]);
    assert!(live.is_empty());

    let future = Rec {
        sequence_number: "3".to_owned(),
        created: now() + Duration::from_secs(3600),
    };
    let (expired, live) = split_expired(vec![future], now(), max_age);
    assert!(expired.is_empty());
    assert_eq!(seqs(&live), [3]);
}

#[test]
fn an_infinite_maximum_record_age_is_the_streams_retention() {
    let settings = EventSourceSettings {
        maximum_record_age: None,
        ..EventSourceSettings::default()
    };
    let policy = Policy::from_settings(&settings);
    assert_eq!(policy.maximum_record_age, Duration::from_secs(86_400));
    let (expired, live) = split_expired(
        vec![
            aged(1, Duration::from_secs(86_401)),
            aged(2, Duration::from_secs(86_399)),
        ],
        now(),
        policy.maximum_record_age,
    );
    assert_eq!(seqs(&expired), [1]);
    assert_eq!(seqs(&live), [2]);
}

// next_step

#[test]
fn success_completes_every_record() {
    let actions = next_step(
        attempt(recs(1..=3), 2),
        &Outcome::Success,
        &policy(true, Some(2)),
    );
    assert_eq!(actions, [Action::Succeeded(3)]);
}

#[test]
fn a_partial_failure_completes_the_records_before_it_and_retries_the_rest_as_a_retry() {
    let actions = next_step(
        attempt(recs(1..=5), 0),
        &Outcome::PartialFailure(2),
        &policy(true, Some(2)),
    );
    assert_eq!(
        actions,
        [
            Action::Succeeded(2),
            Action::Retry(redelivery(recs(3..=5), 1))
        ]
    );
}

#[test]
fn a_partial_failure_is_never_bisected_even_when_bisecting_is_on() {
    let actions = next_step(
        attempt(recs(1..=4), 0),
        &Outcome::PartialFailure(0),
        &policy(true, None),
    );
    assert_eq!(actions, [Action::Retry(redelivery(recs(1..=4), 1))]);
}

#[test]
fn a_whole_batch_failure_retries_every_record() {
    let actions = next_step(
        attempt(recs(1..=3), 1),
        &Outcome::WholeBatchFailure("unknown"),
        &policy(false, Some(5)),
    );
    assert_eq!(actions, [Action::Retry(redelivery(recs(1..=3), 2))]);
}

#[test]
fn a_partial_failure_after_the_last_retry_gives_the_failed_records_up() {
    let actions = next_step(
        attempt(recs(1..=5), 2),
        &Outcome::PartialFailure(3),
        &policy(true, Some(2)),
    );
    assert_eq!(
        actions,
        [
            Action::Succeeded(3),
            Action::GiveUp {
                condition: DeadLetterCondition::RetryAttemptsExhausted,
                records: recs(4..=5),
                retries: 2,
            }
        ]
    );
}

#[test]
fn a_partial_failure_index_past_the_end_leaves_nothing_to_retry() {
    let actions = next_step(
        attempt(recs(1..=2), 0),
        &Outcome::PartialFailure(7),
        &policy(true, Some(2)),
    );
    assert_eq!(actions, [Action::Succeeded(2)]);
}

#[test]
fn a_function_error_bisects_into_halves_with_the_same_retry_count() {
    let actions = next_step(attempt(recs(1..=5), 1), &error(), &policy(true, Some(1)));
    assert_eq!(
        actions,
        [Action::Bisect(
            redelivery(recs(1..=2), 1),
            redelivery(recs(3..=5), 1)
        )],
        "bisecting is not a retry, so even an exhausted batch is split"
    );
}

#[test]
fn a_single_record_is_not_bisected_but_retried_then_given_up() {
    let single = recs([7]);
    assert_eq!(
        next_step(attempt(single.clone(), 0), &error(), &policy(true, Some(1))),
        [Action::Retry(redelivery(single.clone(), 1))]
    );
    assert_eq!(
        next_step(attempt(single.clone(), 1), &error(), &policy(true, Some(1))),
        [Action::GiveUp {
            condition: DeadLetterCondition::RetryAttemptsExhausted,
            records: single,
            retries: 1,
        }]
    );
}

#[test]
fn without_bisecting_a_function_error_retries_the_whole_batch() {
    let actions = next_step(attempt(recs(1..=4), 0), &error(), &policy(false, Some(3)));
    assert_eq!(actions, [Action::Retry(redelivery(recs(1..=4), 1))]);
}

#[test]
fn zero_maximum_retry_attempts_gives_up_at_the_first_failure() {
    let no_retries = policy(false, Some(0));
    assert_eq!(
        next_step(attempt(recs(1..=2), 0), &error(), &no_retries),
        [Action::GiveUp {
            condition: DeadLetterCondition::RetryAttemptsExhausted,
            records: recs(1..=2),
            retries: 0,
        }]
    );
    assert_eq!(
        next_step(
            attempt(recs(1..=2), 0),
            &Outcome::PartialFailure(1),
            &no_retries
        ),
        [
            Action::Succeeded(1),
            Action::GiveUp {
                condition: DeadLetterCondition::RetryAttemptsExhausted,
                records: recs([2]),
                retries: 0,
            }
        ]
    );
}

#[test]
fn no_maximum_retry_attempts_retries_for_ever() {
    let infinite = policy(false, None);
    assert!(!infinite.exhausted(u32::MAX - 1));
    assert_eq!(
        next_step(attempt(recs([1]), 1_000_000), &error(), &infinite),
        [Action::Retry(redelivery(recs([1]), 1_000_001))]
    );
}

#[test]
fn retries_are_exhausted_after_the_maximum_and_never_when_infinite() {
    assert!(exhausted(Some(0), 0));
    assert!(!exhausted(Some(2), 1));
    assert!(exhausted(Some(2), 2));
    assert!(!exhausted(None, u32::MAX));
}

// backoff

#[test]
fn the_backoff_doubles_from_the_initial_pause_up_to_the_maximum() {
    let backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(5),
    };
    let pauses: Vec<u128> = (0..=8).map(|n| backoff.pause(n).as_millis()).collect();
    assert_eq!(pauses, [100, 100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    assert_eq!(backoff.pause(u32::MAX), Duration::from_secs(5));
    let huge = Backoff {
        initial: Duration::from_secs(1),
        max: Duration::MAX,
    };
    assert_eq!(
        huge.pause(u32::MAX),
        Duration::from_secs(1 << 20),
        "the exponent stops at 20"
    );
}

// BatchPlan

/// Drives a plan as the worker does, with `function` answering each delivery: returns the
/// deliveries (sequence numbers), the backoff failure counts before each, what was given up and
/// how many records succeeded.
struct Run {
    deliveries: Vec<Vec<u32>>,
    pauses: Vec<Option<u32>>,
    given_up: Vec<GiveUp<Rec>>,
    succeeded: usize,
    bisections: usize,
}

fn run(
    batch: Vec<Rec>,
    policy: &Policy,
    mut clock: impl FnMut(usize) -> SystemTime,
    mut function: impl FnMut(&[Rec]) -> Outcome,
) -> Run {
    let mut plan = BatchPlan::new(batch);
    let mut result = Run {
        deliveries: Vec::new(),
        pauses: Vec::new(),
        given_up: Vec::new(),
        succeeded: 0,
        bisections: 0,
    };
    while let Some(mut attempt) = plan.next_attempt() {
        let pause = attempt.redelivery.then(|| plan.failures());
        if let Some(given_up) = plan.expire(&mut attempt, clock(result.deliveries.len()), policy) {
            result.given_up.push(given_up);
        }
        if attempt.records.is_empty() {
            continue;
        }
        result.pauses.push(pause);
        result.deliveries.push(seqs(&attempt.records));
        let outcome = function(&attempt.records);
        let settled = plan.settle(attempt, &outcome, policy);
        result.succeeded += settled.succeeded;
        result.bisections += usize::from(settled.bisected);
        result.given_up.extend(settled.given_up);
        assert!(result.deliveries.len() < 1000, "the plan does not end");
    }
    result
}

#[test]
fn bisecting_narrows_a_function_error_down_to_the_bad_record_which_is_given_up() {
    // The same scenario as the DynamoDB Local test: r2 always fails, two retries, bisecting on.
    let result = run(
        recs(1..=4),
        &policy(true, Some(2)),
        |_| now(),
        |records| {
            if seqs(records).contains(&2) {
                Outcome::FunctionError("cannot handle 2".to_owned())
            } else {
                Outcome::Success
            }
        },
    );
    assert_eq!(
        result.deliveries,
        [
            vec![1, 2, 3, 4],
            vec![1, 2],
            vec![1],
            vec![2],
            vec![2],
            vec![2],
            vec![3, 4]
        ]
    );
    assert_eq!(
        result.pauses,
        [None, Some(1), Some(2), Some(0), Some(1), Some(2), Some(3)],
        "failures in a row, reset by a success"
    );
    assert_eq!(result.bisections, 2);
    assert_eq!(result.succeeded, 3);
    assert_eq!(
        result.given_up,
        [GiveUp {
            condition: DeadLetterCondition::RetryAttemptsExhausted,
            records: recs([2]),
            retries: 2,
            last_error: Some("cannot handle 2".to_owned()),
        }]
    );
}

#[test]
fn a_partial_failure_redelivers_from_the_failed_record_then_the_batch_is_done() {
    let mut calls = 0;
    let result = run(
        recs(1..=5),
        &policy(true, Some(10)),
        |_| now(),
        |records| {
            calls += 1;
            if calls == 1 {
                interpret(records, &failures(&["5", "3"]), true)
            } else {
                Outcome::Success
            }
        },
    );
    assert_eq!(result.deliveries, [vec![1, 2, 3, 4, 5], vec![3, 4, 5]]);
    assert_eq!(result.succeeded, 5);
    assert!(result.given_up.is_empty());
}

#[test]
fn records_that_age_out_while_retried_are_given_up_with_the_last_error_before_invoking() {
    // Retried for ever; the clock moves a minute per delivery; the maximum age is a minute.
    let batch = vec![
        aged(1, Duration::from_secs(30)),
        aged(2, Duration::from_secs(0)),
    ];
    let result = run(
        batch,
        &policy(false, None),
        |deliveries| now() + Duration::from_secs(35 * u64::try_from(deliveries).unwrap_or(0)),
        |_| Outcome::FunctionError("down".to_owned()),
    );
    assert_eq!(result.deliveries, [vec![1, 2], vec![2]]);
    assert_eq!(
        result.given_up,
        [
            GiveUp {
                condition: DeadLetterCondition::RecordAgeExceeded,
                records: vec![aged(1, Duration::from_secs(30))],
                retries: 1,
                last_error: Some("down".to_owned()),
            },
            GiveUp {
                condition: DeadLetterCondition::RecordAgeExceeded,
                records: vec![aged(2, Duration::ZERO)],
                retries: 2,
                last_error: Some("down".to_owned()),
            }
        ]
    );
}

#[test]
fn a_batch_whose_records_are_all_expired_is_given_up_without_invoking() {
    let batch = vec![
        aged(1, Duration::from_secs(120)),
        aged(2, Duration::from_secs(90)),
    ];
    let result = run(
        batch.clone(),
        &policy(true, Some(2)),
        |_| now(),
        |_| panic!("the function must not be invoked"),
    );
    assert!(result.deliveries.is_empty());
    assert_eq!(
        result.given_up,
        [GiveUp {
            condition: DeadLetterCondition::RecordAgeExceeded,
            records: batch,
            retries: 0,
            last_error: None,
        }]
    );
}

#[test]
fn an_unknown_item_identifier_redelivers_the_whole_batch_until_retries_run_out() {
    let result = run(
        recs(1..=3),
        &policy(true, Some(1)),
        |_| now(),
        |records| interpret(records, &failures(&["99"]), true),
    );
    assert_eq!(result.deliveries, [vec![1, 2, 3], vec![1, 2, 3]]);
    assert_eq!(result.succeeded, 0);
    assert_eq!(result.bisections, 0);
    assert_eq!(
        result.given_up,
        [GiveUp {
            condition: DeadLetterCondition::RetryAttemptsExhausted,
            records: recs(1..=3),
            retries: 1,
            last_error: Some(BATCH_ITEM_FAILURES.to_owned()),
        }]
    );
}
