//! Handler behaviour that is decided before anything is stored. Storage itself is tested against DynamoDB
//! Local in `tests/`.

use super::*;
use reply_core::CommentRecord;
use reply_core::comment::CommentStatus;
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

fn app() -> (WebhookApp, Arc<RecordingStore>) {
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
