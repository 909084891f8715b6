//! The webhook against a real DynamoDB Local: what ends up in the table for duplicates, races, own comments,
//! bad changes, bad signatures and an unavailable store; and in the messages table for messages, postbacks,
//! redeliveries and echoes.
#![allow(clippy::unwrap_used)]

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use reply_core::clock::SystemClock;
use reply_core::sample::{SampleComment, notification_body};
use reply_core::secrets::{CachedSecrets, VerifyToken, WebhookSecrets};
use reply_core::signature::{AppSecrets, sign};
use std::collections::HashMap;
use std::sync::Arc;
use webhook::{WebhookApp, WebhookConfig};

const SECRET: &str = "integration-app-secret";

fn app_for(client: aws_sdk_dynamodb::Client, table: &str) -> WebhookApp {
    app_with_messages(
        client,
        table,
        &format!("no-messages-{}", std::process::id()),
    )
}

fn app_with_messages(client: aws_sdk_dynamodb::Client, table: &str, messages: &str) -> WebhookApp {
    let secrets = WebhookSecrets {
        app_secrets: AppSecrets::from_comma_separated(SECRET).unwrap(),
        verify_token: VerifyToken::new("unused"),
    };
    let mut config = WebhookConfig::for_tables(table, messages);
    // DynamoDB Local, shared by every test of a busy 2-core machine, can take longer than DynamoDB for a
    // thousand puts; these tests are about what is stored (the deadline has tests of its own).
    config.response_deadline = std::time::Duration::from_secs(30);
    WebhookApp::on_dynamodb(
        &config,
        Arc::new(CachedSecrets::fixed(secrets)),
        &client,
        Arc::new(SystemClock),
    )
}

/// The webhook with its role's client on fresh comments and messages tables; the test's own client.
async fn conversation_app() -> (WebhookApp, aws_sdk_dynamodb::Client, String, String) {
    let local = testkit::dynamodb_local().await;
    let table = local.fresh_table().await.unwrap();
    let messages = local.fresh_messages_table().await.unwrap();
    let (role_client, _) =
        testkit::iam::client_for_role(&local.sdk_config(), "WebhookRole").unwrap();
    (
        app_with_messages(role_client, &table, &messages),
        local.client(),
        table,
        messages,
    )
}

/// The webhook with its role's client (a call `WebhookRole` does not grant fails, as in AWS), the test's own
/// client, and a fresh comments table (and messages table).
async fn app() -> (WebhookApp, aws_sdk_dynamodb::Client, String) {
    let (app, client, table, _) = conversation_app().await;
    (app, client, table)
}

fn signed_post(body: &[u8]) -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .uri("/webhook")
        .header("X-Hub-Signature-256", sign(SECRET, body))
        .body(Body::from(body.to_vec()))
        .unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../core/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

async fn items(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Vec<HashMap<String, AttributeValue>> {
    testkit::table::scan_all(client, table).await.unwrap()
}

fn s<'a>(item: &'a HashMap<String, AttributeValue>, key: &str) -> &'a str {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .unwrap_or("<missing>")
}

fn status(response: &Response<Body>) -> StatusCode {
    response.status()
}

#[tokio::test]
async fn a_comment_is_stored_as_one_readable_item() {
    let (app, client, table) = app().await;
    let response = app.handle(signed_post(&fixture("reel_comment.json"))).await;
    assert_eq!(status(&response), StatusCode::OK);

    let items = items(&client, &table).await;
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(s(item, "comment_id"), "18058455121735594");
    assert_eq!(s(item, "account_id"), "17841401906857599");
    assert_eq!(s(item, "commenter_id"), "2706325442860345");
    assert_eq!(s(item, "commenter_username"), "rachitsaini670");
    assert_eq!(s(item, "media_id"), "17868660555124283");
    assert_eq!(s(item, "media_product_type"), "REELS");
    assert_eq!(s(item, "source"), "comment");
    assert_eq!(s(item, "text"), "7");
    assert_eq!(s(item, "status"), "PENDING");
    assert_eq!(s(item, "comment_time"), "2024-09-12T01:54:48Z");
    assert_eq!(s(item, "reply_deadline"), "2024-09-19T01:54:48Z");
    assert!(s(item, "received_at").ends_with('Z'));
    assert!(
        !item.contains_key("parent_id"),
        "absent values are left out, not written empty"
    );
    let ttl: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    assert_eq!(ttl, 1_726_106_088 + 7 * 86_400 + 30 * 86_400);
}

#[tokio::test]
async fn a_redelivered_notification_is_stored_once_and_answered_200_both_times() {
    let (app, client, table) = app().await;
    let body = fixture("reel_comment.json");
    assert_eq!(
        status(&app.handle(signed_post(&body)).await),
        StatusCode::OK
    );
    let first = items(&client, &table).await;
    assert_eq!(
        status(&app.handle(signed_post(&body)).await),
        StatusCode::OK
    );
    let second = items(&client, &table).await;
    assert_eq!(second.len(), 1);
    assert_eq!(
        first, second,
        "the redelivery must not overwrite the stored item"
    );
}

#[tokio::test]
async fn two_identical_posts_racing_store_each_comment_once() {
    let (app, client, table) = app().await;
    let comments: Vec<_> = (0..100)
        .map(|i| SampleComment::new("17841400000000001", &format!("181{i:014}"), "LINK"))
        .collect();
    let body = notification_body(&comments, Utc::now());
    let other = app_for(client.clone(), &table);
    let (a, b) = tokio::join!(
        app.handle(signed_post(&body)),
        other.handle(signed_post(&body))
    );
    assert_eq!((status(&a), status(&b)), (StatusCode::OK, StatusCode::OK));
    let items = items(&client, &table).await;
    assert_eq!(items.len(), 100);
}

#[tokio::test]
async fn the_same_comment_twice_in_one_batch_is_stored_once() {
    let (app, client, table) = app().await;
    let c = SampleComment::new("17841400000000001", "18100000000000777", "LINK");
    let body = notification_body(&[c.clone(), c], Utc::now());
    assert_eq!(
        status(&app.handle(signed_post(&body)).await),
        StatusCode::OK
    );
    assert_eq!(items(&client, &table).await.len(), 1);
}

#[tokio::test]
async fn the_accounts_own_comment_is_stored_as_skipped() {
    let (app, client, table) = app().await;
    let mut own = SampleComment::new("17841400000000001", "18100000000000001", "Check your DMs!");
    own.commenter_id = "17841400000000001".into();
    let body = notification_body(&[own], Utc::now());
    assert_eq!(
        status(&app.handle(signed_post(&body)).await),
        StatusCode::OK
    );
    let items = items(&client, &table).await;
    assert_eq!(s(&items[0], "status"), "SKIPPED");
    assert_eq!(s(&items[0], "status_reason"), "own_comment");
}

/// The account's own reply to a comment is that comment's public reply: where one waits after an attempt
/// whose answer was lost (`RETRY`, `QUEUED`), it is confirmed; one being posted or already recorded is left.
#[tokio::test]
async fn the_accounts_own_reply_confirms_a_waiting_public_reply_and_leaves_the_others() {
    let (app, client, table) = app().await;
    let account = "17841400000000001";
    let parents = [
        ("18100000000000010", Some("RETRY"), "POSTED"),
        ("18100000000000011", Some("QUEUED"), "POSTED"),
        ("18100000000000012", Some("POSTING"), "POSTING"),
        ("18100000000000013", Some("POSTED"), "POSTED"),
        ("18100000000000014", None, "<missing>"),
    ];
    for (id, public, _) in parents {
        let mut item = HashMap::from([
            ("comment_id".to_owned(), AttributeValue::S(id.into())),
            ("status".to_owned(), AttributeValue::S("REPLIED".into())),
        ]);
        if let Some(public) = public {
            item.insert(
                "public_reply_status".into(),
                AttributeValue::S(public.into()),
            );
        }
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    let replies: Vec<SampleComment> = parents
        .iter()
        .enumerate()
        .map(|(i, (parent, _, _))| {
            let mut own =
                SampleComment::new(account, &format!("1790000000000002{i}"), "Sent you a DM!");
            own.commenter_id = account.into();
            own.parent_id = Some((*parent).to_owned());
            own
        })
        .collect();
    let body = notification_body(&replies, Utc::now());
    assert_eq!(
        status(&app.handle(signed_post(&body)).await),
        StatusCode::OK
    );
    let items = items(&client, &table).await;
    for (i, (parent, _, expected)) in parents.iter().enumerate() {
        let item = items
            .iter()
            .find(|item| s(item, "comment_id") == *parent)
            .unwrap();
        assert_eq!(s(item, "public_reply_status"), *expected, "{parent}");
        if *expected == "POSTED" && s(item, "public_reply_id") != "<missing>" {
            assert_eq!(s(item, "public_reply_id"), format!("1790000000000002{i}"));
            assert_eq!(s(item, "public_reply_confirmed_by"), "webhook");
        }
    }
    let confirmed: Vec<&str> = items
        .iter()
        .filter(|item| s(item, "public_reply_confirmed_by") == "webhook")
        .map(|item| s(item, "comment_id"))
        .collect();
    assert_eq!(confirmed.len(), 2, "{confirmed:?}");
    // The own replies themselves are stored, skipped.
    let own_skipped = items
        .iter()
        .filter(|item| s(item, "status_reason") == "own_comment")
        .count();
    assert_eq!(own_skipped, parents.len());
}

#[tokio::test]
async fn each_dashboard_test_delivery_is_kept_skipped_and_does_not_block_the_next() {
    let (app, client, table) = app().await;
    // The "Test" button's sample as Meta's dashboard sends it: entry id 0, the fixed sample comment.
    let body = br#"{"entry": [{"id": "0", "time": 1726106088, "changes": [{"field": "comments", "value": {"from": {"id": "232323232", "username": "test"}, "media": {"id": "123123123", "media_product_type": "FEED"}, "id": "17865799348089039", "parent_id": "1791233333333", "text": "This is an example."}}]}], "object": "instagram"}"#;
    assert_eq!(status(&app.handle(signed_post(body)).await), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(status(&app.handle(signed_post(body)).await), StatusCode::OK);

    let items = items(&client, &table).await;
    assert_eq!(items.len(), 2, "each test delivery is recorded: {items:?}");
    for item in &items {
        assert_eq!(s(item, "status"), "SKIPPED");
        assert_eq!(s(item, "status_reason"), "dashboard_test");
        assert!(s(item, "comment_id").starts_with("dashboard-test#"));
        assert!(!item.contains_key("next_attempt_at"));
    }
}

#[tokio::test]
async fn an_unusable_change_is_skipped_while_the_rest_are_stored() {
    let (app, client, table) = app().await;
    assert_eq!(
        status(&app.handle(signed_post(&fixture("mixed_batch.json"))).await),
        StatusCode::OK
    );
    let mut ids: Vec<_> = items(&client, &table)
        .await
        .iter()
        .map(|i| s(i, "comment_id").to_owned())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "18000000000000001",
            "18000000000000002",
            "18000000000000003",
            "18000000000000010"
        ]
    );
}

#[tokio::test]
async fn a_thousand_change_batch_is_stored_in_full() {
    let (app, client, table) = app().await;
    let comments: Vec<_> = (0..1000)
        .map(|i| {
            SampleComment::new(
                &format!("178414{:011}", i % 13),
                &format!("182{i:014}"),
                "LINK",
            )
        })
        .collect();
    let body = notification_body(&comments, Utc::now());
    assert_eq!(
        status(&app.handle(signed_post(&body)).await),
        StatusCode::OK
    );
    assert_eq!(items(&client, &table).await.len(), 1000);
}

#[tokio::test]
async fn wrong_or_missing_signatures_store_nothing() {
    let (app, client, table) = app().await;
    let body = fixture("reel_comment.json");
    let unsigned = lambda_http::http::Request::builder()
        .method("POST")
        .uri("/webhook")
        .body(Body::from(body.clone()))
        .unwrap();
    assert_eq!(
        status(&app.handle(unsigned).await),
        StatusCode::UNAUTHORIZED
    );
    let wrong = lambda_http::http::Request::builder()
        .method("POST")
        .uri("/webhook")
        .header("X-Hub-Signature-256", sign("not-the-secret", &body))
        .body(Body::from(body))
        .unwrap();
    assert_eq!(status(&app.handle(wrong).await), StatusCode::UNAUTHORIZED);
    assert!(items(&client, &table).await.is_empty());
}

#[tokio::test]
async fn a_missing_table_answers_503_and_the_redelivery_succeeds_once_it_exists() {
    let local = testkit::dynamodb_local().await;
    let table = format!("not-yet-{}", std::process::id());
    let app = app_for(local.client(), &table);
    let body = fixture("reel_comment.json");
    let response = app.handle(signed_post(&body)).await;
    assert_eq!(status(&response), StatusCode::SERVICE_UNAVAILABLE);
    let text = String::from_utf8_lossy(response.body().as_ref()).into_owned();
    assert_eq!(
        text, "temporarily unavailable",
        "no internal error text goes back to the caller"
    );

    let spec = testkit::table::comments_table_spec(testkit::table::template_path()).unwrap();
    testkit::table::create_comments_table(&local.client(), &table, &spec)
        .await
        .unwrap();
    assert_eq!(
        status(&app.handle(signed_post(&body)).await),
        StatusCode::OK
    );
    assert_eq!(items(&local.client(), &table).await.len(), 1);
}

#[tokio::test]
async fn an_unreachable_dynamodb_answers_503() {
    let local = testkit::start_dynamodb_local().await.unwrap();
    let table = local.fresh_table().await.unwrap();
    let app = app_for(local.client(), &table);
    local.stop();
    let response = app.handle(signed_post(&fixture("reel_comment.json"))).await;
    assert_eq!(status(&response), StatusCode::SERVICE_UNAVAILABLE);
}

/// A person's answer with a quick reply and an image, a button tap on a story reply, and an echo.
const CONVERSATION: &[u8] = br#"{"object": "instagram", "entry": [{"id": "17841400000000001", "time": 1764093002500, "messaging": [
    {"sender": {"id": "2706325442860345"}, "recipient": {"id": "17841400000000001"}, "timestamp": 1764093002123, "message": {"mid": "aWdfZAG1-answer", "text": "Yes \u00e4", "quick_reply": {"payload": "YES"}, "reply_to": {"mid": "aWdfZAG1-private-reply"}, "attachments": [{"type": "image", "payload": {"url": "https://lookaside.example/a.jpg"}}]}},
    {"sender": {"id": "2706325442860346"}, "recipient": {"id": "17841400000000001"}, "timestamp": 1764093002124, "message": {"mid": "aWdfZAG1-story", "text": "nice", "reply_to": {"story": {"id": "17900000000000001", "url": "https://lookaside.example/s"}}}},
    {"sender": {"id": "2706325442860345"}, "recipient": {"id": "17841400000000001"}, "timestamp": 1764093002125, "postback": {"mid": "aWdfZAG1-tap", "title": "Get the link", "payload": "GET_LINK"}},
    {"sender": {"id": "17841400000000001"}, "recipient": {"id": "2706325442860345"}, "timestamp": 1764093002126, "message": {"mid": "aWdfZAG1-echo", "text": "Here is your LINK", "is_echo": true}}
]}]}"#;

fn by_id(
    items: &[HashMap<String, AttributeValue>],
) -> HashMap<String, &HashMap<String, AttributeValue>> {
    items
        .iter()
        .map(|i| (s(i, "message_id").to_owned(), i))
        .collect()
}

#[tokio::test]
async fn messages_and_postbacks_are_stored_as_readable_items_and_echoes_are_not() {
    let (app, client, table, messages) = conversation_app().await;
    assert_eq!(
        status(&app.handle(signed_post(CONVERSATION)).await),
        StatusCode::OK
    );
    assert!(items(&client, &table).await.is_empty());
    let stored = items(&client, &messages).await;
    let stored = by_id(&stored);
    let mut ids: Vec<&String> = stored.keys().collect();
    ids.sort();
    assert_eq!(ids, ["aWdfZAG1-answer", "aWdfZAG1-story", "aWdfZAG1-tap"]);

    let answer = stored["aWdfZAG1-answer"];
    assert_eq!(s(answer, "account_id"), "17841400000000001");
    assert_eq!(s(answer, "sender_id"), "2706325442860345");
    assert_eq!(s(answer, "kind"), "message");
    assert_eq!(s(answer, "text"), "Yes ä");
    assert_eq!(s(answer, "quick_reply_payload"), "YES");
    assert_eq!(s(answer, "reply_to_message_id"), "aWdfZAG1-private-reply");
    assert_eq!(answer["has_attachments"].as_bool().ok(), Some(&true));
    assert_eq!(s(answer, "sent_at"), "2025-11-25T17:50:02Z");
    assert!(s(answer, "received_at").ends_with('Z'));
    assert_eq!(s(answer, "status"), "PENDING");
    let ttl: i64 = answer["expires_at"].as_n().unwrap().parse().unwrap();
    assert_eq!(ttl, 1_764_093_002 + 7 * 86_400);

    let story = stored["aWdfZAG1-story"];
    assert_eq!(s(story, "reply_to_story_id"), "17900000000000001");
    assert!(
        !story.contains_key("has_attachments") && !story.contains_key("quick_reply_payload"),
        "absent values are left out, not written empty"
    );
    let tap = stored["aWdfZAG1-tap"];
    assert_eq!(s(tap, "kind"), "postback");
    assert_eq!(s(tap, "postback_payload"), "GET_LINK");
    assert_eq!(s(tap, "postback_title"), "Get the link");
    assert!(!tap.contains_key("text"));
}

#[tokio::test]
async fn a_redelivered_message_is_stored_once_and_answered_200_both_times() {
    let (app, client, _, messages) = conversation_app().await;
    assert_eq!(
        status(&app.handle(signed_post(CONVERSATION)).await),
        StatusCode::OK
    );
    let first = items(&client, &messages).await;
    assert_eq!(
        status(&app.handle(signed_post(CONVERSATION)).await),
        StatusCode::OK
    );
    let second = items(&client, &messages).await;
    assert_eq!(second.len(), 3);
    assert_eq!(
        by_id(&first),
        by_id(&second),
        "the redelivery must not overwrite the stored items"
    );
}

#[tokio::test]
async fn a_missing_messages_table_answers_503_even_when_the_comments_are_stored() {
    let local = testkit::dynamodb_local().await;
    let table = local.fresh_table().await.unwrap();
    let app = app_for(local.client(), &table);
    let response = app.handle(signed_post(CONVERSATION)).await;
    assert_eq!(status(&response), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        String::from_utf8_lossy(response.body().as_ref()),
        "temporarily unavailable"
    );
}
