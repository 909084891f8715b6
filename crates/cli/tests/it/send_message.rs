use crate::harness::*;
use predicates::str::contains;

/// Every item of the stack's messages table.
async fn messages(stack: &Stack) -> Vec<Item> {
    testkit::table::scan_all(&stack.dynamodb, &stack.messages_table)
        .await
        .unwrap()
}

fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map_or("<missing>", String::as_str)
}

#[tokio::test]
async fn a_message_sent_twice_with_one_mid_is_stored_once_and_an_echo_not_at_all() {
    let stack = spawn_stack().await;
    let send = [
        "send-message",
        "--account",
        ACCOUNT,
        "--from",
        "2706325442860345",
        "--text",
        "LINK please äö 😍",
        "--mid",
        "aWdfZAG1-answer",
        "--reply-to-story",
        "17900000000000001",
    ];
    for _ in 0..2 {
        let assert = run(stack.replyctl(&send)).await;
        let out = stdout(&assert);
        assert.success();
        assert!(
            out.contains("Sent message (messages) to") && out.contains("200 OK"),
            "{out}"
        );
        assert!(out.contains("Message ID: aWdfZAG1-answer"), "{out}");
    }
    let echo = run(stack.replyctl(&[
        "send-message",
        "--account",
        ACCOUNT,
        "--from",
        "2706325442860345",
        "--text",
        "Here is your LINK",
        "--mid",
        "aWdfZAG1-echo",
        "--echo",
        "--json",
    ]))
    .await;
    let report = stdout_json(&echo);
    echo.success();
    assert_eq!(report["status"], 200);
    assert_eq!(report["echo"], true);
    assert_eq!(report["mid"], "aWdfZAG1-echo");

    let items = messages(&stack).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    assert_eq!(text(item, "message_id"), "aWdfZAG1-answer");
    assert_eq!(text(item, "account_id"), ACCOUNT);
    assert_eq!(text(item, "sender_id"), "2706325442860345");
    assert_eq!(text(item, "kind"), "message");
    assert_eq!(text(item, "text"), "LINK please äö 😍");
    assert_eq!(text(item, "reply_to_story_id"), "17900000000000001");
    assert_eq!(text(item, "status"), "PENDING");
    assert!(text(item, "sent_at").ends_with('Z'));
    // Messages go to their own table, never among the comments.
    assert!(
        testkit::table::scan_all(&stack.dynamodb, &stack.table)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_button_tap_is_sent_as_a_messaging_postback_and_stored_with_its_payload() {
    let stack = spawn_stack().await;
    let assert = run(stack.replyctl(&[
        "send-message",
        "--account",
        ACCOUNT,
        "--postback",
        "GET_LINK",
        "--title",
        "Get the link",
        "--json",
    ]))
    .await;
    let report = stdout_json(&assert);
    assert.success();
    assert_eq!(report["field"], "messaging_postbacks");
    let items = messages(&stack).await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        text(&items[0], "message_id"),
        report["mid"].as_str().unwrap()
    );
    assert_eq!(text(&items[0], "kind"), "postback");
    assert_eq!(text(&items[0], "postback_payload"), "GET_LINK");
    assert_eq!(text(&items[0], "postback_title"), "Get the link");
}

#[tokio::test]
async fn a_wrong_app_secret_is_refused_with_a_hint() {
    let stack = spawn_stack().await;
    let mut cmd = stack.replyctl(&["send-message", "--text", "LINK"]);
    cmd.env("APP_SECRET", "not-the-webhooks-secret");
    run(cmd)
        .await
        .failure()
        .stderr(contains("401"))
        .stderr(contains("APP_SECRET"));
    assert!(messages(&stack).await.is_empty());
}
