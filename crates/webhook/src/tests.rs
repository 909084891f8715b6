//! Handler behaviour that is decided before anything is stored. Storage itself is tested against DynamoDB
//! Local in `tests/`.

use super::*;
use reply_core::CommentRecord;
use reply_core::comment::CommentStatus;
use reply_core::message::MessageRecord;
use reply_core::secrets::VerifyToken;
use reply_core::signature::{AppSecrets, sign};
use reply_core::store::{Inserted, StoreError};
use std::collections::HashMap;
use std::sync::Mutex;

const SECRET: &str = "fixture-app-secret";
const TOKEN: &str = "fixture-verify-token";

/// Records inserts in memory: enough to see *whether* the handler stores, not how DynamoDB behaves.
#[derive(Debug, Default)]
struct RecordingStore(Mutex<Vec<CommentRecord>>);

#[async_trait::async_trait]
impl CommentStore for RecordingStore {
    async fn insert_new(&self, record: &CommentRecord) -> Result<Inserted, StoreError> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record.clone());
        Ok(Inserted::Stored)
    }
}

/// The same for messages; a message ID starting with `fail` fails for a passing reason, after `delay`.
#[derive(Debug, Default)]
struct RecordingMessages {
    delay: std::time::Duration,
    stored: Mutex<Vec<MessageRecord>>,
}

#[async_trait::async_trait]
impl MessageStore for RecordingMessages {
    async fn insert_new(&self, record: &MessageRecord) -> Result<Inserted, StoreError> {
        tokio::time::sleep(self.delay).await;
        if record.message_id.starts_with("fail") {
            return Err(StoreError::other(
                "storing a message",
                anyhow::anyhow!("ProvisionedThroughputExceededException"),
            ));
        }
        self.stored
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record.clone());
        Ok(Inserted::Stored)
    }
}

impl RecordingMessages {
    fn ids(&self) -> Vec<String> {
        self.stored
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|m| m.message_id.clone())
            .collect()
    }
}

fn app() -> (WebhookApp, Arc<RecordingStore>) {
    let (app, store, _) = app_with_messages(RecordingMessages::default());
    (app, store)
}

fn app_with_messages(
    messages: RecordingMessages,
) -> (WebhookApp, Arc<RecordingStore>, Arc<RecordingMessages>) {
    let messages = Arc::new(messages);
    let (app, store) = app_without_messages();
    (app.with_message_store(messages.clone()), store, messages)
}

fn app_without_messages() -> (WebhookApp, Arc<RecordingStore>) {
    let store = Arc::new(RecordingStore::default());
    let secrets = WebhookSecrets {
        app_secrets: AppSecrets::from_comma_separated(&format!("other-secret,{SECRET}"))
            .expect("secrets"),
        verify_token: VerifyToken::new(TOKEN),
    };
    let mut config = WebhookConfig::for_table("unused");
    config.max_body_bytes = 64 * 1024;
    let app = WebhookApp::new(
        &config,
        Arc::new(CachedSecrets::fixed(secrets)),
        store.clone(),
        Arc::new(SystemClock),
    );
    (app, store)
}

fn fixture_event(name: &str) -> Request {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let json = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    lambda_http::request::from_str(&json).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn core_fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../core/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn post(body: Vec<u8>, signature: Option<String>) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method("POST")
        .uri("/webhook");
    if let Some(sig) = signature {
        builder = builder.header("X-Hub-Signature-256", sig);
    }
    builder.body(Body::from(body)).expect("request")
}

fn get(query: &[(&str, &str)]) -> Request {
    let params: HashMap<String, String> = query
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    lambda_http::http::Request::builder()
        .method("GET")
        .uri("/webhook")
        .body(Body::Empty)
        .expect("request")
        .with_query_string_parameters(params)
}

fn body_text(response: &Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).into_owned()
}

fn stored(store: &RecordingStore) -> Vec<CommentRecord> {
    store.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

#[tokio::test]
async fn the_verification_handshake_echoes_the_challenge_as_plain_text() {
    let (app, _) = app();
    let response = app.handle(fixture_event("apigw_v2_get_verify.json")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(&response), "1158201444");
    assert_eq!(
        response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.as_bytes()),
        Some(&b"text/plain; charset=utf-8"[..])
    );
}

#[tokio::test]
async fn the_challenge_is_returned_unchanged_whatever_it_contains() {
    let (app, _) = app();
    let response = app
        .handle(get(&[
            ("hub.mode", "subscribe"),
            ("hub.verify_token", TOKEN),
            ("hub.challenge", "abc 123&x"),
        ]))
        .await;
    assert_eq!(body_text(&response), "abc 123&x");
}

#[tokio::test]
async fn a_wrong_token_or_mode_or_missing_challenge_is_forbidden_without_detail() {
    let (app, _) = app();
    for query in [
        vec![
            ("hub.mode", "subscribe"),
            ("hub.verify_token", "nope"),
            ("hub.challenge", "1"),
        ],
        vec![
            ("hub.mode", "unsubscribe"),
            ("hub.verify_token", TOKEN),
            ("hub.challenge", "1"),
        ],
        vec![("hub.verify_token", TOKEN), ("hub.challenge", "1")],
        vec![("hub.mode", "subscribe"), ("hub.verify_token", TOKEN)],
        vec![],
    ] {
        let response = app.handle(get(&query)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{query:?}");
        assert_eq!(body_text(&response), "forbidden");
    }
}

#[tokio::test]
async fn a_base64_encoded_api_gateway_event_is_verified_over_the_decoded_bytes_and_stored() {
    let (app, store) = app();
    let response = app.handle(fixture_event("apigw_v2_post_base64.json")).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        body_text(&response)
    );
    let stored = stored(&store);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].text.as_deref(), Some("LINK äöå 😍"));
    assert_eq!(stored[0].status, CommentStatus::Pending);
}

#[tokio::test]
async fn missing_malformed_or_wrong_signatures_are_401_and_store_nothing() {
    let (app, store) = app();
    let body = core_fixture("reel_comment.json");
    for signature in [
        None,
        Some("sha256=nothex".to_owned()),
        Some(sign("wrong-secret", &body)),
        Some(sign(SECRET, b"a different body")),
        Some(sign(SECRET, &body).replace("sha256=", "sha1=")),
    ] {
        let response = app.handle(post(body.clone(), signature.clone())).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{signature:?}");
        assert_eq!(body_text(&response), "invalid signature");
    }
    assert!(stored(&store).is_empty());
}

#[tokio::test]
async fn the_signature_is_checked_over_the_raw_escaped_bytes() {
    let (app, store) = app();
    let body = core_fixture("escaped_unicode.json");
    // Signing the unescaped re-serialization (what a naive verifier would hash) must not be accepted.
    let reserialized =
        serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&body).expect("json"))
            .expect("json");
    assert_ne!(reserialized, body);
    let response = app
        .handle(post(body.clone(), Some(sign(SECRET, &reserialized))))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = app
        .handle(post(body.clone(), Some(sign(SECRET, &body))))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(stored(&store).len(), 1);
}

#[tokio::test]
async fn a_signed_body_that_is_not_json_is_400() {
    let (app, store) = app();
    let body = b"this is not json".to_vec();
    let response = app
        .handle(post(body.clone(), Some(sign(SECRET, &body))))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(stored(&store).is_empty());
}

#[tokio::test]
async fn an_oversized_body_is_413_before_its_signature_is_checked() {
    let (app, store) = app();
    let body = vec![b' '; 64 * 1024 + 1];
    let response = app.handle(post(body, None)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(stored(&store).is_empty());
}

#[tokio::test]
async fn other_methods_and_paths_are_refused() {
    let (app, _) = app();
    let put = lambda_http::http::Request::builder()
        .method("PUT")
        .uri("/webhook")
        .body(Body::Empty)
        .expect("request");
    let response = app.handle(put).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        response.headers().get(header::ALLOW).map(|v| v.as_bytes()),
        Some(&b"GET, POST"[..])
    );
    let elsewhere = lambda_http::http::Request::builder()
        .method("POST")
        .uri("/admin")
        .body(Body::Empty)
        .expect("request");
    assert_eq!(app.handle(elsewhere).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_mixed_batch_stores_the_usable_comments_and_skips_the_rest() {
    let (app, store) = app();
    let body = core_fixture("mixed_batch.json");
    let response = app
        .handle(post(body.clone(), Some(sign(SECRET, &body))))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let stored = stored(&store);
    assert_eq!(stored.len(), 4);
    let own: Vec<_> = stored
        .iter()
        .filter(|r| r.status == CommentStatus::Skipped)
        .collect();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].comment_id.as_str(), "18000000000000002");
}

#[tokio::test]
async fn a_mixed_batch_also_stores_the_persons_message_beside_the_comments() {
    let (app, store, messages) = app_with_messages(RecordingMessages::default());
    let body = core_fixture("mixed_batch.json");
    let response = app
        .handle(post(body.clone(), Some(sign(SECRET, &body))))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(stored(&store).len(), 4);
    assert_eq!(messages.ids(), ["aWdfZAAA"]);
}

/// A person's answer, a button tap and the account's own send coming back, in one entry.
fn conversation() -> Vec<u8> {
    br#"{"object": "instagram", "entry": [{"id": "17841400000000001", "time": 1764093002500, "messaging": [
        {"sender": {"id": "27001"}, "recipient": {"id": "17841400000000001"}, "timestamp": 1764093002000, "message": {"mid": "m-answer", "text": "yes please"}},
        {"sender": {"id": "27002"}, "recipient": {"id": "17841400000000001"}, "timestamp": 1764093002001, "postback": {"mid": "m-tap", "title": "Get it", "payload": "GET_LINK"}},
        {"sender": {"id": "17841400000000001"}, "recipient": {"id": "27001"}, "timestamp": 1764093002002, "message": {"mid": "m-echo", "text": "Here is your LINK", "is_echo": true}},
        {"sender": {"id": "27001"}, "recipient": {"id": "17841400000000001"}, "timestamp": 1764093002003, "read": {"mid": "m-echo"}}
    ]}]}"#
        .to_vec()
}

#[tokio::test]
async fn messages_and_postbacks_are_stored_pending_and_echoes_are_not() {
    let (app, store, messages) = app_with_messages(RecordingMessages::default());
    let body = conversation();
    let response = app
        .handle(post(body.clone(), Some(sign(SECRET, &body))))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        body_text(&response)
    );
    assert!(stored(&store).is_empty());
    assert_eq!(messages.ids(), ["m-answer", "m-tap"]);
    let kept = messages.stored.lock().unwrap_or_else(|e| e.into_inner());
    assert!(kept.iter().all(|m| m.status == CommentStatus::Pending));
    assert_eq!(kept[1].postback_payload.as_deref(), Some("GET_LINK"));
    assert_eq!(kept[0].sent_at.timestamp(), 1_764_093_002);
}

#[tokio::test]
async fn messages_without_a_message_store_are_answered_503_not_acknowledged() {
    let (app, store) = app_without_messages();
    let body = conversation();
    let response = app
        .handle(post(body.clone(), Some(sign(SECRET, &body))))
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body_text(&response), "temporarily unavailable");
    assert!(stored(&store).is_empty());
    // A POST with comments only still needs no message store.
    let body = core_fixture("reel_comment.json");
    let response = app
        .handle(post(body.clone(), Some(sign(SECRET, &body))))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_message_that_could_not_be_stored_gets_the_post_redelivered() {
    let (app, store, messages) = app_with_messages(RecordingMessages::default());
    let body = br#"{"object": "instagram", "entry": [{"id": "17841400000000001", "time": 1764093002500, "messaging": [{"sender": {"id": "27001"}, "timestamp": 1764093002000, "message": {"mid": "fail-1", "text": "hi"}}], "changes": [{"field": "comments", "value": {"id": "18000000000000001", "text": "LINK"}}]}]}"#.to_vec();
    let response = app
        .handle(post(body.clone(), Some(sign(SECRET, &body))))
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body_text(&response), "temporarily unavailable");
    // The comment was stored; the redelivery finds it already there.
    assert_eq!(stored(&store).len(), 1);
    assert!(messages.ids().is_empty());
}

#[tokio::test]
async fn a_message_store_slower_than_metas_budget_gets_a_503_in_time() {
    let (app, _, _) = app_with_messages(RecordingMessages {
        delay: std::time::Duration::from_secs(30),
        ..RecordingMessages::default()
    });
    let app = WebhookApp {
        response_deadline: std::time::Duration::from_millis(300),
        ..app
    };
    let body = conversation();
    let started = std::time::Instant::now();
    let response = app
        .handle(post(body.clone(), Some(sign(SECRET, &body))))
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

#[test]
fn the_message_metrics_are_emitted_by_name() {
    let names = metric_names();
    for name in [
        "MessagesReceived",
        "MessagesStored",
        "MessageDuplicatesSkipped",
        "EchoesIgnored",
    ] {
        assert!(names.contains(&name), "{name}");
    }
    let counts = IntakeCounts {
        messages_received: 2,
        echoes: 1,
        ..IntakeCounts::default()
    };
    let metrics = counts.metrics();
    assert!(metrics.contains(&("MessagesReceived", 2)));
    assert!(metrics.contains(&("EchoesIgnored", 1)));
}

/// A store that answers each insert as told, after a delay.
#[derive(Debug)]
struct ScriptedStore {
    delay: std::time::Duration,
    /// Comment IDs DynamoDB refuses as invalid.
    invalid: Vec<&'static str>,
    inserted: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl CommentStore for ScriptedStore {
    async fn insert_new(&self, record: &CommentRecord) -> Result<Inserted, StoreError> {
        tokio::time::sleep(self.delay).await;
        if self.invalid.contains(&record.comment_id.as_str()) {
            return Err(StoreError::Backend {
                doing: "storing a comment",
                code: Some("ValidationException".into()),
                source: anyhow::anyhow!("Item size has exceeded the maximum allowed size"),
            });
        }
        self.inserted
            .lock()
            .unwrap()
            .push(record.comment_id.as_str().to_owned());
        Ok(Inserted::Stored)
    }
}

fn app_with(store: Arc<ScriptedStore>, deadline: std::time::Duration) -> WebhookApp {
    let secrets = WebhookSecrets {
        app_secrets: AppSecrets::from_comma_separated(SECRET).unwrap(),
        verify_token: VerifyToken::new(TOKEN),
    };
    let mut config = WebhookConfig::for_table("unused");
    config.response_deadline = deadline;
    WebhookApp::new(
        &config,
        Arc::new(CachedSecrets::fixed(secrets)),
        store,
        Arc::new(SystemClock),
    )
}

fn two_comments() -> Vec<u8> {
    use reply_core::sample::{SampleComment, notification_body};
    notification_body(
        &[
            SampleComment::new("17841400000000001", "18100000000000001", "LINK"),
            SampleComment::new("17841400000000001", "18100000000000002", "LINK"),
        ],
        chrono::Utc::now(),
    )
}

#[tokio::test]
async fn a_store_slower_than_metas_budget_gets_a_503_in_time_not_a_timeout() {
    let store = Arc::new(ScriptedStore {
        delay: std::time::Duration::from_secs(30),
        invalid: Vec::new(),
        inserted: Mutex::default(),
    });
    let app = app_with(store, std::time::Duration::from_millis(300));
    let body = two_comments();
    let started = std::time::Instant::now();
    let response = app
        .handle(post(body.clone(), Some(sign(SECRET, &body))))
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(body_text(&response), "temporarily unavailable");
}

#[tokio::test]
async fn a_comment_dynamodb_refuses_for_good_is_skipped_not_redelivered_for_36_hours() {
    let store = Arc::new(ScriptedStore {
        delay: std::time::Duration::ZERO,
        invalid: vec!["18100000000000001"],
        inserted: Mutex::default(),
    });
    let app = app_with(store.clone(), std::time::Duration::from_secs(4));
    let body = two_comments();
    let response = app
        .handle(post(body.clone(), Some(sign(SECRET, &body))))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(*store.inserted.lock().unwrap(), ["18100000000000002"]);
}
