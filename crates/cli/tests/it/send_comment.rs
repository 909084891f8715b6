use crate::harness::*;
use chrono::{Duration, Utc};
use predicates::prelude::*;
use predicates::str::contains;
use reply_core::{CommentSource, CommentStatus};
use std::collections::HashSet;

#[tokio::test]
async fn a_sent_comment_is_signed_so_that_the_real_webhook_stores_it() {
    let stack = spawn_stack().await;

    let assert = run(stack.replyctl(&[
        "send-comment",
        "--text",
        "LINK please äö 😍",
        "--account",
        ACCOUNT,
        "--commenter",
        "2706325442860345",
        "--username",
        "rachitsaini670",
        "--media-type",
        "reels",
        "--comment-id",
        "18058455121735594",
    ]))
    .await;

    let out = stdout(&assert);
    assert.success();
    assert!(out.contains("POST 1/1  1 comment  200 OK"), "{out}");
    assert!(out.contains("Comment ID: 18058455121735594"), "{out}");
    let record = stack.record("18058455121735594").await;
    assert_eq!(record.status, CommentStatus::Pending);
    assert_eq!(record.account_id.as_str(), ACCOUNT);
    assert_eq!(record.text.as_deref(), Some("LINK please äö 😍"));
    assert_eq!(record.commenter_username.as_deref(), Some("rachitsaini670"));
    assert_eq!(record.media_product_type.as_deref(), Some("REELS"));
    assert_eq!(record.source, CommentSource::Comment);
}

#[tokio::test]
async fn a_live_comment_is_sent_as_a_live_comments_change() {
    let stack = spawn_stack().await;

    let assert = run(stack.replyctl(&[
        "send-comment",
        "--live",
        "--comment-id",
        "17900000000000001",
        "--json",
    ]))
    .await;

    let report = stdout_json(&assert);
    assert.success();
    assert_eq!(report["field"], "live_comments");
    let record = stack.record("17900000000000001").await;
    assert_eq!(record.source, CommentSource::LiveComment);
    assert_eq!(record.media_product_type.as_deref(), Some("LIVE"));
}

#[tokio::test]
async fn a_wrong_app_secret_exits_1_and_says_the_secrets_differ() {
    let stack = spawn_stack().await;

    let assert =
        run(stack.replyctl(&["send-comment", "--app-secret", "not-the-webhooks-secret"])).await;

    assert
        .code(1)
        .stdout(contains("401 Unauthorized"))
        .stderr(contains("APP_SECRET here differs from the webhook's"));
    assert_eq!(stack.count().await, 0);
}

#[tokio::test]
async fn two_hundred_fifty_comments_in_posts_of_100_are_all_stored() {
    let stack = spawn_stack().await;

    let assert = run(stack.replyctl(&[
        "send-comment",
        "--count",
        "250",
        "--batch-size",
        "100",
        "--json",
    ]))
    .await;

    let report = stdout_json(&assert);
    assert.success();
    let posts = report["posts"].as_array().unwrap();
    let sizes: Vec<u64> = posts
        .iter()
        .map(|p| p["comments"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, vec![100, 100, 50]);
    assert!(
        posts
            .iter()
            .all(|p| p["status"] == 200 && p["elapsed_ms"].is_u64())
    );
    let ids: HashSet<&str> = report["comment_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 250);
    assert!(ids.iter().all(|id| (17..=18).contains(&id.len())));
    assert_eq!(stack.count().await, 250);
}

#[tokio::test]
async fn an_age_of_8d_stores_a_comment_made_eight_days_ago() {
    let stack = spawn_stack().await;

    let assert = run(stack.replyctl(&[
        "send-comment",
        "--age",
        "8d",
        "--comment-id",
        "17900000000000008",
    ]))
    .await;

    assert.success();
    let record = stack.record("17900000000000008").await;
    let expected = Utc::now() - Duration::days(8);
    assert!(
        (record.comment_time - expected).num_seconds().abs() < 120,
        "{}",
        record.comment_time
    );
    assert!(
        record.reply_deadline < Utc::now(),
        "the 7-day window of an 8-day-old comment is closed"
    );
}

#[tokio::test]
async fn a_duplicate_notification_is_posted_twice_and_stored_once() {
    let stack = spawn_stack().await;

    let assert = run(stack.replyctl(&["send-comment", "--duplicate", "--json"])).await;

    let report = stdout_json(&assert);
    assert.success();
    let posts = report["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[1]["repeat"], true);
    assert!(posts.iter().all(|p| p["status"] == 200));
    assert_eq!(stack.count().await, 1);
}

#[tokio::test]
async fn an_unreachable_local_webhook_exits_1_and_asks_whether_the_local_stack_runs() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();

    let assert = run(replyctl(&[
        "send-comment",
        "--url",
        &format!("http://{closed}/webhook"),
    ]))
    .await;

    assert.code(1).stderr(contains(
        "is the local stack running? Start it with `cargo run -p local-stack`",
    ));
}

#[tokio::test]
async fn a_deployed_url_without_app_secret_is_refused_before_anything_is_sent() {
    let assert = run(replyctl(&[
        "send-comment",
        "--url",
        "https://example.invalid/webhook",
    ]))
    .await;

    assert
        .code(1)
        .stderr(contains("APP_SECRET is required"))
        .stdout(contains("POST").not());
}
