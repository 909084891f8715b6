//! The runner against DynamoDB Local's real stream: delivery, filtering, failures, shutdown.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_dynamo::AttributeValue as Av;
use serde_json::{Value, json};
use stream_runner::{
    DeadLetterCondition, RunnerHandle, StartingPosition, StreamRunner, StreamRunnerBuilder,
    batch_item_failures, load_filters,
};

const WAIT: Duration = Duration::from_secs(20);

struct Table {
    client: aws_sdk_dynamodb::Client,
    streams: aws_sdk_dynamodbstreams::Client,
    name: String,
}

async fn fresh_table() -> Table {
    let local = testkit::dynamodb_local().await;
    Table {
        client: local.client(),
        streams: local.streams_client(),
        name: local.fresh_table().await.unwrap(),
    }
}

impl Table {
    /// Writes comment `id` with `status` and an `attempt` counter (whole item, so INSERT then MODIFY).
    async fn put(&self, id: &str, status: &str, attempt: u32) {
        self.client
            .put_item()
            .table_name(&self.name)
            .item("comment_id", AttributeValue::S(id.to_owned()))
            .item("status", AttributeValue::S(status.to_owned()))
            .item("attempt", AttributeValue::N(attempt.to_string()))
            .send()
            .await
            .unwrap();
    }

    async fn delete(&self, id: &str) {
        self.client
            .delete_item()
            .table_name(&self.name)
            .key("comment_id", AttributeValue::S(id.to_owned()))
            .send()
            .await
            .unwrap();
    }

    /// A runner on this table with quick local timings.
    fn runner(&self) -> StreamRunnerBuilder {
        StreamRunner::builder(self.streams.clone(), self.name.clone())
            .dynamodb_client(self.client.clone())
            .batch_size(10)
            .batching_window(Duration::from_millis(50))
            .poll_interval(Duration::from_millis(50))
            .retry_backoff(Duration::from_millis(10), Duration::from_millis(50))
            .filters(Vec::new())
    }
}

/// Every batch the handler saw, in order.
#[derive(Clone, Default)]
struct Invocations(Arc<Mutex<Vec<Vec<EventRecord>>>>);

impl Invocations {
    fn all(&self) -> Vec<Vec<EventRecord>> {
        self.0.lock().unwrap().clone()
    }

    fn records(&self) -> Vec<EventRecord> {
        self.all().into_iter().flatten().collect()
    }

    /// The handler: records the batch, then answers with `respond(invocation number, batch)`.
    fn handler<F, Fut>(
        &self,
        respond: F,
    ) -> impl Fn(
        Event,
    ) -> std::pin::Pin<
        Box<dyn Future<Output = anyhow::Result<DynamoDbEventResponse>> + Send>,
    > + Send
    + Sync
    + 'static
    where
        F: Fn(usize, Vec<EventRecord>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<DynamoDbEventResponse>> + Send + 'static,
    {
        let seen = Arc::clone(&self.0);
        let respond = Arc::new(respond);
        move |event: Event| {
            let number = {
                let mut seen = seen.lock().unwrap();
                seen.push(event.records.clone());
                seen.len()
            };
            let respond = Arc::clone(&respond);
            Box::pin(async move { respond(number, event.records).await })
        }
    }
}

fn string_attribute<'a>(record: &'a EventRecord, image: &str, name: &str) -> Option<&'a str> {
    let item = match image {
        "NewImage" => &record.change.new_image,
        "OldImage" => &record.change.old_image,
        _ => &record.change.keys,
    };
    match item.get(name) {
        Some(Av::S(text)) | Some(Av::N(text)) => Some(text),
        _ => None,
    }
}

fn comment_id(record: &EventRecord) -> &str {
    string_attribute(record, "Keys", "comment_id").unwrap()
}

fn sequence_number(record: &EventRecord) -> &str {
    record.change.sequence_number.as_deref().unwrap()
}

fn ids(records: &[EventRecord]) -> Vec<String> {
    records.iter().map(|r| comment_id(r).to_owned()).collect()
}

async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Lets the runner poll a few more times, to show that nothing else arrives.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(600)).await;
}

async fn ok() -> anyhow::Result<DynamoDbEventResponse> {
    Ok(DynamoDbEventResponse::default())
}

async fn stopped(runner: RunnerHandle) {
    tokio::time::timeout(Duration::from_secs(5), runner.stop())
        .await
        .expect("stop() did not return within 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_written_to_a_fresh_table_are_delivered_once_each_in_order_with_lambdas_record_shape()
{
    let table = fresh_table().await;
    let invocations = Invocations::default();
    let runner = table
        .runner()
        .handler(invocations.handler(|_, _| ok()))
        .start()
        .await
        .unwrap();

    for attempt in 0..4 {
        for id in ["a", "b", "c"] {
            table.put(id, "PENDING", attempt).await;
        }
    }
    table.delete("b").await;
    eventually("13 records", || invocations.records().len() >= 13).await;
    settle().await;

    let records = invocations.records();
    assert_eq!(records.len(), 13, "each change is delivered exactly once");
    let event_ids: HashSet<&str> = records.iter().map(|r| r.event_id.as_str()).collect();
    assert_eq!(event_ids.len(), 13);

    let mut per_key: HashMap<&str, Vec<&EventRecord>> = HashMap::new();
    for record in &records {
        per_key.entry(comment_id(record)).or_default().push(record);
    }
    for (id, changes) in &per_key {
        let attempts: Vec<&str> = changes
            .iter()
            .filter_map(|r| string_attribute(r, "NewImage", "attempt"))
            .collect();
        assert_eq!(attempts, ["0", "1", "2", "3"], "changes of {id} in order");
        let names: Vec<&str> = changes.iter().map(|r| r.event_name.as_str()).collect();
        let expected: &[&str] = if *id == "b" {
            &["INSERT", "MODIFY", "MODIFY", "MODIFY", "REMOVE"]
        } else {
            &["INSERT", "MODIFY", "MODIFY", "MODIFY"]
        };
        assert_eq!(names, expected, "event names of {id}");
        let sequence_numbers: Vec<u128> = changes
            .iter()
            .map(|r| sequence_number(r).parse().unwrap())
            .collect();
        assert!(
            sequence_numbers.is_sorted(),
            "sequence numbers of {id} increase"
        );
    }

    for record in &records {
        assert_eq!(record.event_source.as_deref(), Some("aws:dynamodb"));
        assert_eq!(record.event_version.as_deref(), Some("1.1"));
        assert_eq!(
            record.event_source_arn.as_deref(),
            Some(runner.stream_arn())
        );
        assert!(!record.aws_region.is_empty());
        assert!(!record.event_id.is_empty());
        assert_eq!(
            record
                .change
                .stream_view_type
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("NEW_AND_OLD_IMAGES")
        );
        assert!(record.change.size_bytes > 0);
        assert!(record.change.approximate_creation_date_time.timestamp() > 1_600_000_000);
        assert!(!sequence_number(record).is_empty());
        assert_eq!(record.change.keys.len(), 1);
        assert!(
            record.user_identity.is_none(),
            "only TTL deletions carry a userIdentity"
        );
        match record.event_name.as_str() {
            "INSERT" => {
                assert_eq!(
                    string_attribute(record, "NewImage", "status"),
                    Some("PENDING")
                );
                assert!(record.change.old_image.is_empty());
            }
            "MODIFY" => {
                assert!(!record.change.new_image.is_empty());
                assert!(!record.change.old_image.is_empty());
            }
            _ => {
                assert!(record.change.new_image.is_empty());
                assert_eq!(string_attribute(record, "OldImage", "attempt"), Some("3"));
            }
        }
    }

    let stats = runner.stats();
    assert_eq!(stats.records_seen, 13);
    assert_eq!(stats.records_filtered_out, 0);
    assert_eq!(stats.records_delivered, 13);
    assert_eq!(stats.records_succeeded, 13);
    assert_eq!(stats.retries, 0);
    assert!(invocations.all().iter().all(|batch| batch.len() <= 10));
    stopped(runner).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_templates_filter_delivers_a_comment_only_while_its_new_image_is_pending() {
    let table = fresh_table().await;
    let invocations = Invocations::default();
    let runner = table
        .runner()
        .filters(load_filters(testkit::table::template_path()).unwrap())
        .handler(invocations.handler(|_, _| ok()))
        .start()
        .await
        .unwrap();

    table.put("c1", "PENDING", 0).await; // delivered
    table.put("c1", "REPLIED", 1).await; // dropped: the replier's own update
    table.put("c1", "PENDING", 2).await; // delivered: back to PENDING
    table.put("c2", "REPLIED", 0).await; // dropped
    table.delete("c2").await; // dropped: a removal has no NewImage
    eventually("5 records read", || runner.stats().records_seen == 5).await;
    settle().await;

    let records = invocations.records();
    let delivered: Vec<(&str, Option<&str>)> = records
        .iter()
        .map(|r| (comment_id(r), string_attribute(r, "NewImage", "attempt")))
        .collect();
    assert_eq!(delivered, [("c1", Some("0")), ("c1", Some("2"))]);
    assert!(
        records
            .iter()
            .all(|r| string_attribute(r, "NewImage", "status") == Some("PENDING"))
    );
    let stats = runner.stats();
    assert_eq!(stats.records_filtered_out, 3);
    assert_eq!(stats.records_delivered, 2);
    stopped(runner).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_failure_of_the_third_record_redelivers_it_and_the_rest_then_moves_on() {
    let table = fresh_table().await;
    for i in 1..=5 {
        table.put(&format!("r{i}"), "PENDING", 0).await;
    }
    let invocations = Invocations::default();
    let runner = table
        .runner()
        .handler(
            invocations.handler(|number, records: Vec<EventRecord>| async move {
                if number == 1 {
                    // The third and fifth records failed: Lambda restarts from the lowest.
                    Ok(batch_item_failures([
                        sequence_number(&records[4]).to_owned(),
                        sequence_number(&records[2]).to_owned(),
                    ]))
                } else {
                    Ok(DynamoDbEventResponse::default())
                }
            }),
        )
        .start()
        .await
        .unwrap();

    eventually("the retry", || invocations.all().len() >= 2).await;
    settle().await;
    let batches = invocations.all();
    assert_eq!(
        batches.len(),
        2,
        "{:?}",
        batches.iter().map(|b| ids(b)).collect::<Vec<_>>()
    );
    assert_eq!(ids(&batches[0]), ["r1", "r2", "r3", "r4", "r5"]);
    assert_eq!(ids(&batches[1]), ["r3", "r4", "r5"]);
    let first_seqs: Vec<&str> = batches[0][2..].iter().map(sequence_number).collect();
    let retried_seqs: Vec<&str> = batches[1].iter().map(sequence_number).collect();
    assert_eq!(
        first_seqs, retried_seqs,
        "the very same records are delivered again"
    );

    table.put("r6", "PENDING", 0).await;
    eventually("the next record", || invocations.all().len() >= 3).await;
    settle().await;
    let batches = invocations.all();
    assert_eq!(batches.len(), 3);
    assert_eq!(
        ids(&batches[2]),
        ["r6"],
        "after success the runner moves on"
    );

    let stats = runner.stats();
    assert_eq!(stats.partial_failures, 1);
    assert_eq!(stats.retries, 1);
    assert_eq!(stats.records_succeeded, 6);
    assert!(runner.dead_letters().is_empty());
    stopped(runner).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_error_is_bisected_down_to_the_bad_record_which_is_dead_lettered_after_the_max_retries()
 {
    let table = fresh_table().await;
    for i in 1..=4 {
        table.put(&format!("r{i}"), "PENDING", 0).await;
    }
    let invocations = Invocations::default();
    let runner = table
        .runner()
        .bisect_batch_on_function_error(true)
        .maximum_retry_attempts(Some(2))
        .handler(
            invocations.handler(|_, records: Vec<EventRecord>| async move {
                if records.iter().any(|r| comment_id(r) == "r2") {
                    anyhow::bail!("cannot handle r2")
                }
                Ok(DynamoDbEventResponse::default())
            }),
        )
        .start()
        .await
        .unwrap();

    eventually("the dead letter and the rest", || {
        invocations.records().iter().any(|r| comment_id(r) == "r4")
    })
    .await;
    settle().await;

    let batches: Vec<Vec<String>> = invocations.all().iter().map(|b| ids(b)).collect();
    assert_eq!(
        batches,
        [
            vec!["r1", "r2", "r3", "r4"], // error: split
            vec!["r1", "r2"],             // error: split
            vec!["r1"],                   // fine
            vec!["r2"],                   // error: retry 1
            vec!["r2"],                   // error: retry 2
            vec!["r2"],                   // error: given up
            vec!["r3", "r4"],             // fine
        ]
    );
    let dead_letters = runner.dead_letters();
    assert_eq!(dead_letters.len(), 1);
    let dead = &dead_letters[0];
    assert_eq!(dead.condition, DeadLetterCondition::RetryAttemptsExhausted);
    assert_eq!(dead.retry_attempts, 2);
    assert_eq!(dead.batch_size, 1);
    assert_eq!(ids(&dead.records), ["r2"]);
    assert_eq!(
        dead.start_sequence_number,
        sequence_number(&dead.records[0])
    );
    assert_eq!(dead.stream_arn, runner.stream_arn());
    assert_eq!(dead.last_error.as_deref(), Some("cannot handle r2"));

    let stats = runner.stats();
    assert_eq!(stats.batches, 7);
    assert_eq!(stats.function_errors, 5);
    assert_eq!(stats.bisections, 2);
    assert_eq!(stats.retries, 6);
    assert_eq!(stats.records_dead_lettered, 1);
    assert_eq!(stats.records_succeeded, 3);
    stopped(runner).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_bisecting_a_failing_batch_is_retried_whole_then_given_up_and_the_shard_moves_on() {
    let table = fresh_table().await;
    for i in 1..=3 {
        table.put(&format!("r{i}"), "PENDING", 0).await;
    }
    let fail = Arc::new(AtomicBool::new(true));
    let invocations = Invocations::default();
    let failing = Arc::clone(&fail);
    let runner = table
        .runner()
        .bisect_batch_on_function_error(false)
        .maximum_retry_attempts(Some(1))
        .handler(invocations.handler(move |_, _| {
            let fail = failing.load(Ordering::SeqCst);
            async move {
                if fail {
                    anyhow::bail!("down")
                }
                Ok(DynamoDbEventResponse::default())
            }
        }))
        .start()
        .await
        .unwrap();

    eventually("the dead letter", || !runner.dead_letters().is_empty()).await;
    fail.store(false, Ordering::SeqCst);
    let batches: Vec<Vec<String>> = invocations.all().iter().map(|b| ids(b)).collect();
    assert_eq!(batches, [vec!["r1", "r2", "r3"], vec!["r1", "r2", "r3"]]);
    let dead = &runner.dead_letters()[0];
    assert_eq!(dead.condition, DeadLetterCondition::RetryAttemptsExhausted);
    assert_eq!(ids(&dead.records), ["r1", "r2", "r3"]);

    table.put("r4", "PENDING", 0).await;
    eventually("the next record", || invocations.all().len() >= 3).await;
    assert_eq!(ids(&invocations.all()[2]), ["r4"]);
    stopped(runner).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_older_than_the_maximum_record_age_are_given_up_even_with_infinite_retries() {
    let table = fresh_table().await;
    table.put("old", "PENDING", 0).await;
    let invocations = Invocations::default();
    let runner = table
        .runner()
        .maximum_retry_attempts(None)
        .maximum_record_age(Some(Duration::from_secs(2)))
        .handler(invocations.handler(|_, _| async { anyhow::bail!("always failing") }))
        .start()
        .await
        .unwrap();

    eventually("the dead letter", || !runner.dead_letters().is_empty()).await;
    let dead = &runner.dead_letters()[0];
    assert_eq!(dead.condition, DeadLetterCondition::RecordAgeExceeded);
    assert_eq!(ids(&dead.records), ["old"]);
    settle().await;
    let delivered = invocations.records().len();
    settle().await;
    assert_eq!(
        invocations.records().len(),
        delivered,
        "no more retries after giving up"
    );
    stopped(runner).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_skips_what_is_already_in_the_stream_and_delivers_what_comes_after_start() {
    let table = fresh_table().await;
    table.put("before", "PENDING", 0).await;
    let invocations = Invocations::default();
    // Found through ListStreams this time (no DynamoDB client).
    let runner = StreamRunner::builder(table.streams.clone(), table.name.clone())
        .starting_position(StartingPosition::Latest)
        .batching_window(Duration::from_millis(50))
        .poll_interval(Duration::from_millis(50))
        .handler(invocations.handler(|_, _| ok()))
        .start()
        .await
        .unwrap();
    let described = table
        .client
        .describe_table()
        .table_name(&table.name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        Some(runner.stream_arn()),
        described.table().unwrap().latest_stream_arn()
    );

    table.put("after", "PENDING", 0).await;
    eventually("the new record", || !invocations.records().is_empty()).await;
    settle().await;
    assert_eq!(ids(&invocations.records()), ["after"]);
    stopped(runner).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_ends_the_runner_promptly_even_with_an_invocation_in_flight() {
    let table = fresh_table().await;

    // Idle runner.
    let idle = table
        .runner()
        .handler(|_: Event| ok())
        .start()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    idle.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "idle stop took {:?}",
        started.elapsed()
    );
    idle.stop().await; // idempotent

    // A handler that never finishes: stop waits for the grace period, then abandons it.
    struct DropFlag(Arc<AtomicBool>);
    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let abandoned = Arc::new(AtomicBool::new(false));
    let invocations = Invocations::default();
    let flag = Arc::clone(&abandoned);
    let runner = table
        .runner()
        .shutdown_grace(Duration::from_millis(300))
        .handler(invocations.handler(move |_, _| {
            let guard = DropFlag(Arc::clone(&flag));
            async move {
                let _guard = guard;
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(DynamoDbEventResponse::default())
            }
        }))
        .start()
        .await
        .unwrap();
    table.put("slow", "PENDING", 0).await;
    eventually("the invocation", || runner.stats().batches == 1).await;

    let started = Instant::now();
    runner.stop().await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "stop took {took:?}");
    assert!(
        abandoned.load(Ordering::SeqCst),
        "the in-flight invocation was dropped"
    );

    table.put("late", "PENDING", 0).await;
    settle().await;
    assert_eq!(runner.stats().batches, 1, "nothing is delivered after stop");
    assert_eq!(runner.stats().records_seen, 1);
}

/// Every event a JSON handler was given, as JSON.
#[derive(Clone, Default)]
struct JsonInvocations(Arc<Mutex<Vec<Value>>>);

impl JsonInvocations {
    fn all(&self) -> Vec<Value> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The records of each event.
    fn batches(&self) -> Vec<Vec<Value>> {
        self.all()
            .iter()
            .map(|event| event["Records"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// A JSON handler, as AWS invokes the replier's entry point: records the event, then answers with
    /// `respond(invocation number, event)`.
    fn handler(
        &self,
        respond: impl Fn(usize, &Value) -> Value + Send + Sync + 'static,
    ) -> impl Fn(Value) -> std::future::Ready<anyhow::Result<Value>> + Send + Sync + 'static {
        let seen = Arc::clone(&self.0);
        move |event: Value| {
            let number = {
                let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
                seen.push(event.clone());
                seen.len()
            };
            std::future::ready(Ok(respond(number, &event)))
        }
    }
}

/// `dynamodb.Keys.comment_id.S` of a record in Lambda's JSON.
fn json_id(record: &Value) -> &str {
    record["dynamodb"]["Keys"]["comment_id"]["S"]
        .as_str()
        .unwrap_or_else(|| panic!("no comment_id key in {record}"))
}

fn json_sequence_number(record: &Value) -> &str {
    record["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap_or_else(|| panic!("no SequenceNumber in {record}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_handler_is_given_lambdas_event_json_and_a_null_response_is_success() {
    let table = fresh_table().await;
    let invocations = JsonInvocations::default();
    let runner = table
        .runner()
        .lambda_handler(invocations.handler(|_, _| Value::Null))
        .start()
        .await
        .unwrap_or_else(|e| panic!("start: {e:#}"));

    table.put("j1", "PENDING", 0).await;
    table.put("j1", "PENDING", 1).await;
    table.delete("j1").await;
    eventually("3 records", || invocations.batches().concat().len() >= 3).await;
    settle().await;

    for event in invocations.all() {
        assert!(event["Records"].is_array(), "{event}");
        let only_records = json!({"Records": event["Records"]});
        assert_eq!(event, only_records, "Records is the event's only key");
    }
    let records = invocations.batches().concat();
    let names: Vec<&str> = records
        .iter()
        .filter_map(|r| r["eventName"].as_str())
        .collect();
    assert_eq!(names, ["INSERT", "MODIFY", "REMOVE"]);
    for record in &records {
        assert_eq!(record["eventSource"], "aws:dynamodb");
        assert_eq!(record["eventVersion"], "1.1");
        assert_eq!(record["eventSourceARN"], runner.stream_arn());
        assert!(record["eventID"].as_str().is_some_and(|id| !id.is_empty()));
        assert!(record["awsRegion"].as_str().is_some_and(|r| !r.is_empty()));
        assert!(record.get("userIdentity").is_none());
        let change = &record["dynamodb"];
        assert_eq!(change["Keys"], json!({"comment_id": {"S": "j1"}}));
        assert!(!json_sequence_number(record).is_empty());
        assert_eq!(change["StreamViewType"], "NEW_AND_OLD_IMAGES");
        assert!(change["SizeBytes"].as_u64().is_some_and(|size| size > 0));
        let created = change["ApproximateCreationDateTime"].as_f64();
        assert!(
            created.is_some_and(|s| s > 1.6e9),
            "epoch seconds: {created:?}"
        );
    }
    let [insert, modify, remove] = &records[..] else {
        panic!("three records expected, got {records:?}");
    };
    assert_eq!(
        insert["dynamodb"]["NewImage"],
        json!({"comment_id": {"S": "j1"}, "status": {"S": "PENDING"}, "attempt": {"N": "0"}})
    );
    assert!(insert["dynamodb"].get("OldImage").is_none());
    assert_eq!(modify["dynamodb"]["NewImage"]["attempt"], json!({"N": "1"}));
    assert_eq!(modify["dynamodb"]["OldImage"]["attempt"], json!({"N": "0"}));
    assert!(remove["dynamodb"].get("NewImage").is_none());
    assert_eq!(remove["dynamodb"]["OldImage"]["attempt"], json!({"N": "1"}));

    let stats = runner.stats();
    assert_eq!(stats.records_delivered, 3);
    assert_eq!(stats.records_succeeded, 3, "a null response is success");
    assert_eq!(stats.retries, 0);
    assert_eq!(stats.partial_failures, 0);
    stopped(runner).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_batch_item_failures_response_redelivers_from_the_named_record() {
    let table = fresh_table().await;
    for i in 1..=4 {
        table.put(&format!("r{i}"), "PENDING", 0).await;
    }
    let invocations = JsonInvocations::default();
    let runner = table
        .runner()
        .lambda_handler(invocations.handler(|number, event| {
            let records = event["Records"].as_array().cloned().unwrap_or_default();
            if number == 1 && records.len() == 4 {
                // r2 and r4 failed, named as Lambda expects: the lowest is where redelivery starts.
                json!({"batchItemFailures": [
                    {"itemIdentifier": json_sequence_number(&records[3])},
                    {"itemIdentifier": json_sequence_number(&records[1])},
                ]})
            } else {
                json!({})
            }
        }))
        .start()
        .await
        .unwrap_or_else(|e| panic!("start: {e:#}"));

    eventually("the redelivery", || invocations.all().len() >= 2).await;
    settle().await;
    let batches = invocations.batches();
    assert_eq!(
        batches
            .iter()
            .map(|b| b.iter().map(json_id).collect())
            .collect::<Vec<Vec<&str>>>(),
        [vec!["r1", "r2", "r3", "r4"], vec!["r2", "r3", "r4"]]
    );
    let first: Vec<&str> = batches[0][1..].iter().map(json_sequence_number).collect();
    let again: Vec<&str> = batches[1].iter().map(json_sequence_number).collect();
    assert_eq!(first, again, "the very same records are delivered again");

    let stats = runner.stats();
    assert_eq!(stats.partial_failures, 1);
    assert_eq!(stats.retries, 1);
    assert_eq!(
        stats.records_succeeded, 4,
        "r1, then r2 to r4 ({{}} is success)"
    );
    assert!(runner.dead_letters().is_empty());
    stopped(runner).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_err_of_a_json_handler_is_a_function_error_whatever_its_error_type() {
    let table = fresh_table().await;
    table.put("x", "PENDING", 0).await;
    let runner = table
        .runner()
        .bisect_batch_on_function_error(false)
        .maximum_retry_attempts(Some(0))
        // Not anyhow's error: any std error type will do, such as the replier's `HandlerError`.
        .lambda_handler(|_event: Value| async {
            Err::<Value, _>(std::io::Error::other("the service is unavailable"))
        })
        .start()
        .await
        .unwrap_or_else(|e| panic!("start: {e:#}"));

    eventually("the dead letter", || !runner.dead_letters().is_empty()).await;
    let dead = &runner.dead_letters()[0];
    assert_eq!(dead.condition, DeadLetterCondition::RetryAttemptsExhausted);
    assert_eq!(dead.retry_attempts, 0);
    assert_eq!(
        dead.last_error.as_deref(),
        Some("the service is unavailable")
    );
    assert_eq!(ids(&dead.records), ["x"]);
    let stats = runner.stats();
    assert_eq!(stats.batches, 1);
    assert_eq!(stats.function_errors, 1);
    assert_eq!(stats.records_succeeded, 0);
    stopped(runner).await;
}
