use crate::harness::*;
use chrono::Duration;
use predicates::prelude::*;
use predicates::str::contains;
use reply_core::CommentStatus;

#[tokio::test]
async fn retry_moves_a_retry_comment_with_an_open_window_to_pending() {
    let stack = spawn_stack().await;
    let mut record = comment(
        "17900000000000010",
        ACCOUNT,
        CommentStatus::Retry,
        Duration::hours(3),
    );
    record.status_reason = Some("rate_limited".into());
    stack
        .put(
            &record,
            &[
                ("due_at", s("2030-01-01T00:00:00Z")),
                ("due_shard", s("07")),
                ("next_attempt_at", s("2030-01-01T00:00:00Z")),
                ("claim_id", s("abc")),
                ("attempts", n(2)),
                (
                    "unconfirmed_send",
                    aws_sdk_dynamodb::types::AttributeValue::Bool(true),
                ),
            ],
        )
        .await;

    let assert = run(stack.replyctl(&["retry", "17900000000000010"])).await;

    let out = stdout(&assert);
    assert.success();
    assert!(out.contains("RETRY -> PENDING"), "{out}");
    let item = stack.item("17900000000000010").await.unwrap();
    assert_eq!(item["status"].as_s().unwrap(), "PENDING");
    assert_eq!(item["status_reason"].as_s().unwrap(), "manual_retry");
    assert!(
        !item.contains_key("next_attempt_at"),
        "out of the previous version's retry_due index"
    );
    let due_at = item["due_at"].as_s().unwrap();
    assert!(
        due_at.as_str() < "2030"
            && due_at.as_str() > reply_core::comment::format_time(chrono::Utc::now()).as_str(),
        "due to be re-driven soon if nothing takes it: {due_at}"
    );
    assert!(!item.contains_key("claim_id"));
    assert!(
        item["unconfirmed_send"].as_bool().unwrap(),
        "an ambiguous earlier send stays marked"
    );
    assert_eq!(item["attempts"].as_n().unwrap(), "2");
}

#[tokio::test]
async fn retry_re_drives_a_failed_comment_only_when_its_failure_looks_transient() {
    let stack = spawn_stack().await;
    let transient = comment(
        "17900000000000011",
        ACCOUNT,
        CommentStatus::Failed,
        Duration::hours(1),
    );
    stack
        .put(&transient, &[("error_code", n(2)), ("http_status", n(500))])
        .await;
    let mut permanent = comment(
        "17900000000000012",
        ACCOUNT,
        CommentStatus::Failed,
        Duration::hours(1),
    );
    permanent.status_reason = Some("person_unavailable".into());
    stack
        .put(
            &permanent,
            &[("error_code", n(551)), ("http_status", n(400))],
        )
        .await;

    let transient_run = run(stack.replyctl(&["retry", "17900000000000011", "--json"])).await;
    let permanent_run = run(stack.replyctl(&["retry", "17900000000000012"])).await;

    let report = stdout_json(&transient_run);
    transient_run.success();
    assert_eq!(report["previous_status"], "FAILED");
    assert_eq!(report["status"], "PENDING");
    assert_eq!(
        stack.record("17900000000000011").await.status,
        CommentStatus::Pending
    );
    let err = stderr(&permanent_run);
    permanent_run.code(1);
    assert!(
        err.contains("not transient") && err.contains("person_unavailable"),
        "{err}"
    );
    assert_eq!(
        stack.record("17900000000000012").await.status,
        CommentStatus::Failed
    );
}

#[tokio::test]
async fn retry_refuses_a_replied_comment() {
    let stack = spawn_stack().await;
    let record = comment(
        "17900000000000013",
        ACCOUNT,
        CommentStatus::Replied,
        Duration::hours(1),
    );
    stack.put(&record, &[("message_id", s("aWdfZ-done"))]).await;

    let assert = run(stack.replyctl(&["retry", "17900000000000013"])).await;

    assert.code(1).stderr(
        contains("already REPLIED (reply aWdfZ-done)")
            .and(contains("one private reply per comment")),
    );
    let after = stack.record("17900000000000013").await;
    assert_eq!(
        (after.status, after.status_reason),
        (CommentStatus::Replied, None)
    );
}

#[tokio::test]
async fn retry_refuses_a_comment_whose_reply_window_has_closed() {
    let stack = spawn_stack().await;
    let record = comment(
        "17900000000000014",
        ACCOUNT,
        CommentStatus::Retry,
        Duration::days(8),
    );
    stack
        .put(&record, &[("due_at", s("2030-01-01T00:00:00Z"))])
        .await;
    let expired = comment(
        "17900000000000015",
        ACCOUNT,
        CommentStatus::Expired,
        Duration::days(8),
    );
    stack.put(&expired, &[]).await;

    let open_retry = run(stack.replyctl(&["retry", "17900000000000014"])).await;
    let expired_retry = run(stack.replyctl(&["retry", "17900000000000015"])).await;

    open_retry
        .code(1)
        .stderr(contains("reply window closed 1d ago"));
    assert_eq!(
        stack.record("17900000000000014").await.status,
        CommentStatus::Retry
    );
    expired_retry.code(1).stderr(contains("it is EXPIRED"));
}

#[tokio::test]
async fn retry_of_an_unknown_comment_creates_nothing() {
    let stack = spawn_stack().await;

    let assert = run(stack.replyctl(&["retry", "17900000000000016"])).await;

    assert
        .code(1)
        .stderr(contains("no comment 17900000000000016"));
    assert_eq!(stack.count().await, 0);
}

#[tokio::test]
async fn retry_re_drives_a_comment_stuck_in_pending_but_not_a_fresh_one() {
    let stack = spawn_stack().await;
    let stuck = comment(
        "17900000000000031",
        ACCOUNT,
        CommentStatus::Pending,
        Duration::hours(2),
    );
    let fresh = comment(
        "17900000000000032",
        ACCOUNT,
        CommentStatus::Pending,
        Duration::minutes(1),
    );
    stack.put(&stuck, &[]).await;
    stack.put(&fresh, &[]).await;

    let stuck_run = run(stack.replyctl(&["retry", "17900000000000031"])).await;
    let fresh_run = run(stack.replyctl(&["retry", "17900000000000032"])).await;

    stuck_run.success();
    let item = stack.item("17900000000000031").await.unwrap();
    assert_eq!(item["status"].as_s().unwrap(), "PENDING");
    assert_eq!(
        item["status_reason"].as_s().unwrap(),
        "manual_retry",
        "rewritten, so the stream sees it again"
    );
    fresh_run.failure().stderr(contains("PENDING only since"));
    let item = stack.item("17900000000000032").await.unwrap();
    assert!(
        !item.contains_key("status_reason"),
        "a fresh PENDING comment is left alone"
    );
}
