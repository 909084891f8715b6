use crate::harness::*;
use chrono::Duration;
use reply_core::CommentStatus;

/// Three comments: an old replied one and a rate-limited one on ACCOUNT, a new pending one on OTHER_ACCOUNT.
async fn three_comments(stack: &Stack) {
    let mut replied = comment(
        "17900000000000001",
        ACCOUNT,
        CommentStatus::Replied,
        Duration::minutes(30),
    );
    replied.commenter_username = Some("alice".into());
    stack
        .put(
            &replied,
            &[
                ("message_id", s("aWdfZ-reply-1")),
                ("replied_at", s("2026-01-01T00:00:00Z")),
            ],
        )
        .await;
    let mut retry = comment(
        "17900000000000002",
        ACCOUNT,
        CommentStatus::Retry,
        Duration::minutes(20),
    );
    retry.status_reason = Some("rate_limited".into());
    stack
        .put(
            &retry,
            &[
                ("error_code", n(613)),
                ("due_at", s("2030-01-01T00:00:00Z")),
            ],
        )
        .await;
    let pending = comment(
        "17900000000000003",
        OTHER_ACCOUNT,
        CommentStatus::Pending,
        Duration::minutes(10),
    );
    stack.put(&pending, &[]).await;
}

fn ids(report: &serde_json::Value) -> Vec<String> {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["comment_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn list_returns_the_newest_comments_first_filtered_by_status_and_account() {
    let stack = spawn_stack().await;
    three_comments(&stack).await;

    let all = run(stack.replyctl(&["list", "--json"])).await;
    let retry = run(stack.replyctl(&["list", "--json", "--status", "retry"])).await;
    let other = run(stack.replyctl(&["list", "--json", "--account", OTHER_ACCOUNT])).await;
    let newest_two = run(stack.replyctl(&["list", "--json", "--limit", "2"])).await;

    let all = stdout_json(&all);
    assert_eq!(
        ids(&all),
        [
            "17900000000000003",
            "17900000000000002",
            "17900000000000001"
        ]
    );
    assert_eq!(all["scanned"], 3);
    assert_eq!(all["truncated"], false);
    assert_eq!(all["items"][2]["message_id"], "aWdfZ-reply-1");
    assert_eq!(all["items"][1]["error_code"], 613);
    assert_eq!(ids(&stdout_json(&retry)), ["17900000000000002"]);
    assert_eq!(ids(&stdout_json(&other)), ["17900000000000003"]);
    let newest_two = stdout_json(&newest_two);
    assert_eq!(ids(&newest_two), ["17900000000000003", "17900000000000002"]);
    assert_eq!(newest_two["matched"], 3);
}

#[tokio::test]
async fn list_prints_an_aligned_table_with_the_operator_columns() {
    let stack = spawn_stack().await;
    three_comments(&stack).await;

    let assert = run(stack.replyctl(&["list"])).await;

    let out = stdout(&assert);
    assert.success();
    let lines: Vec<&str> = out.lines().collect();
    let header = lines[0];
    for column in [
        "RECEIVED",
        "COMMENTED",
        "COMMENT ID",
        "ACCOUNT",
        "COMMENTER",
        "STATUS",
        "REASON",
        "REPLY ID",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let status_at = header.find("STATUS").unwrap();
    let reason_at = header.find("REASON").unwrap();
    let reply_at = header.find("REPLY ID").unwrap();
    let row = |id: &str| *lines.iter().find(|l| l.contains(id)).unwrap();
    assert_eq!(
        row("17900000000000003").find("PENDING"),
        Some(status_at),
        "{out}"
    );
    assert_eq!(
        row("17900000000000002").find("RETRY"),
        Some(status_at),
        "{out}"
    );
    assert_eq!(
        row("17900000000000002").find("rate_limited (613)"),
        Some(reason_at),
        "{out}"
    );
    assert_eq!(
        row("17900000000000001").find("aWdfZ-reply-1"),
        Some(reply_at),
        "{out}"
    );
    assert!(row("17900000000000001").contains("@alice"), "{out}");
    assert!(row("17900000000000001").contains("30m ago"), "{out}");
    assert!(
        !out.contains('\u{1b}'),
        "no colour when stdout is not a terminal"
    );
}

#[tokio::test]
async fn list_says_when_the_scan_cap_stopped_it() {
    let stack = spawn_stack().await;
    three_comments(&stack).await;

    let assert = run(stack.replyctl(&["list", "--max-scan", "2", "--json"])).await;

    let report = stdout_json(&assert);
    assert.success();
    assert_eq!(report["truncated"], true);
    assert_eq!(report["scanned"], 2);
}

#[tokio::test]
async fn show_prints_every_attribute_of_one_comment_but_never_a_token() {
    let stack = spawn_stack().await;
    let mut record = comment(
        "17900000000000004",
        ACCOUNT,
        CommentStatus::Replied,
        Duration::hours(2),
    );
    record.text = Some("Hello äö 😍".into());
    stack
        .put(
            &record,
            &[
                ("message_id", s("aWdfZ-reply-4")),
                ("access_token", s("IGAA-very-secret")),
            ],
        )
        .await;

    let human = run(stack.replyctl(&["show", "17900000000000004"])).await;
    let json = run(stack.replyctl(&["show", "17900000000000004", "--json"])).await;

    let out = stdout(&human);
    human.success();
    for expected in [
        "comment_id",
        "REPLIED",
        "Hello äö 😍",
        "aWdfZ-reply-4",
        "window open, closes in 6d 21h",
        "(redacted)",
    ] {
        assert!(out.contains(expected), "{expected} missing from\n{out}");
    }
    assert!(!out.contains("IGAA-very-secret"));
    let value_at = out.lines().next().unwrap().find("VALUE").unwrap();
    let status_line = out.lines().find(|l| l.starts_with("status ")).unwrap();
    assert_eq!(status_line.find("REPLIED"), Some(value_at), "{out}");
    let item = stdout_json(&json);
    assert_eq!(item["comment_id"], "17900000000000004");
    assert_eq!(item["text"], "Hello äö 😍");
    assert_eq!(item["access_token"], "(redacted)");
}

#[tokio::test]
async fn show_of_an_unknown_comment_exits_1_and_says_where_it_looked() {
    let stack = spawn_stack().await;

    let assert = run(stack.replyctl(&["show", "17900000000000099"])).await;

    let err = stderr(&assert);
    assert.code(1);
    assert!(
        err.contains(&format!(
            "no comment 17900000000000099 in table {}",
            stack.table
        )),
        "{err}"
    );
}

#[tokio::test]
async fn stats_counts_comments_by_status_and_by_account() {
    let stack = spawn_stack().await;
    three_comments(&stack).await;

    let json = run(stack.replyctl(&["stats", "--by-account", "--json"])).await;
    let human = run(stack.replyctl(&["stats"])).await;

    let report = stdout_json(&json);
    assert_eq!(report["total"], 3);
    assert_eq!(report["by_status"]["REPLIED"], 1);
    assert_eq!(report["by_status"]["RETRY"], 1);
    assert_eq!(report["by_status"]["PENDING"], 1);
    assert_eq!(report["by_status"]["FAILED"], 0);
    assert_eq!(report["by_account"][ACCOUNT]["REPLIED"], 1);
    assert_eq!(report["by_account"][ACCOUNT]["PENDING"], 0);
    assert_eq!(report["by_account"][OTHER_ACCOUNT]["PENDING"], 1);
    let out = stdout(&human);
    human.success();
    let count_of = |status: &str| {
        let line = out.lines().find(|l| l.starts_with(status)).unwrap();
        line.split_whitespace().last().unwrap().to_owned()
    };
    assert_eq!(count_of("REPLIED"), "1");
    assert_eq!(count_of("FAILED"), "0");
    assert_eq!(count_of("TOTAL"), "3");
}

#[tokio::test]
async fn reading_the_table_without_any_aws_configuration_says_how_to_reach_the_local_stack() {
    let assert = run(replyctl(&["list"])).await;

    let err = stderr(&assert);
    assert.code(1);
    assert!(
        err.contains("AWS_PROFILE") && err.contains("--endpoint http://127.0.0.1:8000"),
        "{err}"
    );
}

#[tokio::test]
async fn the_endpoint_flag_alone_reaches_dynamodb_local_with_test_credentials() {
    let stack = spawn_stack().await;
    three_comments(&stack).await;

    let assert = run(replyctl(&[
        "stats",
        "--json",
        "--table",
        &stack.table,
        "--endpoint",
        &stack.endpoint,
    ]))
    .await;

    let report = stdout_json(&assert);
    assert.success();
    assert_eq!(report["total"], 3);
}
