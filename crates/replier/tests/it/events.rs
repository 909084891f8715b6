//! The Lambda entry: real payload shapes in, the right answer out; infrastructure failures reported per record.

use crate::harness::*;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use replier::{HandlerError, Replier, ReplierConfig, ReplierParts, ReplyTemplate, StaticTokens};
use reply_core::clock::{Clock, ManualClock};
use reply_core::comment::CommentStatus;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

type Item = HashMap<String, AttributeValue>;

#[tokio::test]
async fn a_real_stream_event_for_a_stored_comment_is_answered_with_no_failures_and_replied() {
    let app = spawn_app().await;
    let event = fixture("stream_insert_pending.json");
    // Store the item the event describes, and stand the clock a minute after the comment.
    let image: serde_dynamo::Item =
        serde_json::from_value(event["Records"][0]["dynamodb"]["NewImage"].clone()).unwrap();
    let mut item: Item = image.into();
    // Its 2024 TTL would let DynamoDB Local delete it at any moment.
    item.insert(
        "expires_at".into(),
        AttributeValue::N((Utc::now().timestamp() + 86_400).to_string()),
    );
    app.dynamodb
        .put_item()
        .table_name(&app.comments_table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    app.clock.set(
        DateTime::parse_from_rfc3339("2024-09-12T01:55:48Z")
            .unwrap()
            .with_timezone(&Utc),
    );

    let response = app.replier.handle(event).await.unwrap();

    assert_eq!(response, json!({"batchItemFailures": []}));
    let stored = app.stored("18058455121735594").await;
    assert_eq!(stored.status, CommentStatus::Replied);
    assert_eq!(
        app.sim.sim.replies()[0].text,
        "Thanks rachitsaini670! Here is the link."
    );
}

#[tokio::test]
async fn a_scheduled_event_runs_the_sweep_and_answers_with_its_summary() {
    let app = spawn_app().await;
    app.sim
        .sim
        .inject(graph_sim::Fault::http_status(502).once());
    app.new_comment("c-scheduled").await;
    app.deliver(&["c-scheduled"]).await;
    app.advance(TimeDelta::hours(1));

    let summary = app
        .replier
        .handle(fixture("eventbridge_scheduled.json"))
        .await
        .unwrap();

    assert_eq!(summary["requeued"], 1);
    assert_eq!(summary["due"], 1);
    assert_eq!(
        app.stored("c-scheduled").await.status,
        CommentStatus::Pending
    );
}

#[tokio::test]
async fn an_event_of_unknown_shape_fails_the_invocation() {
    let app = spawn_app().await;
    let result = app.replier.handle(json!({"hello": "world"})).await;
    assert!(matches!(result, Err(HandlerError::UnknownEvent)));
}

#[tokio::test]
async fn records_that_hit_a_dynamodb_outage_are_reported_as_batch_item_failures_and_others_are_not()
{
    // Nothing listens on port 1: every DynamoDB request fails to connect.
    let dead = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&testkit::sdk_config("http://127.0.0.1:1"))
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build(),
    );
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let replier = Replier::from_parts(
        ReplierConfig::new(
            "comments",
            "accounts",
            ReplyTemplate::parse(REPLY_TEXT).unwrap(),
        ),
        ReplierParts {
            dynamodb: dead,
            tokens: Arc::new(StaticTokens::single(GOOD_TOKEN).unwrap()),
            clock: clock.clone(),
        },
    )
    .unwrap();
    let pending: Item =
        serde_dynamo::to_item(comment("c-outage", TimeDelta::minutes(1), clock.now())).unwrap();
    let mut done = comment("c-finished", TimeDelta::minutes(1), clock.now());
    done.status = CommentStatus::Replied;
    let done: Item = serde_dynamo::to_item(done).unwrap();
    let pending_record = stream_record(pending);
    let done_record = stream_record(done);
    let pending_sequence = pending_record["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap()
        .to_owned();

    let response = replier
        .handle(json!({ "Records": [pending_record, done_record] }))
        .await
        .unwrap();

    assert_eq!(failures(&response), vec![pending_sequence]);
}
