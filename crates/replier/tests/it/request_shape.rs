//! The exact HTTP request (wiremock): path, version, token, headers and byte-exact body, per login type; and
//! Meta's usage headers read from a real response.

use crate::harness::*;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use replier::ReplierSecrets;
use reply_core::comment::CommentStatus;
use serde_json::json;
use wiremock::matchers::{body_string, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn the_request_is_exactly_metas_documented_call() {
    let meta = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v25.0/{ACCOUNT}/messages")))
        .and(header("authorization", format!("Bearer {GOOD_TOKEN}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_string(
            r#"{"recipient":{"comment_id":"c-shape"},"message":{"text":"Thanks ana.banana! Here is the link."}}"#,
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"recipient_id": "526", "message_id": "aWdfZ-1"})))
        .expect(1)
        .mount(&meta)
        .await;
    let app = spawn_app_with(|c| c.graph_api_url = meta.uri()).await;
    app.new_comment("c-shape").await;

    app.deliver(&["c-shape"]).await;

    let stored = app.stored("c-shape").await;
    assert_eq!(stored.status, CommentStatus::Replied);
    assert_eq!(stored.message_id.as_deref(), Some("aWdfZ-1"));
    assert_eq!(stored.recipient_id.as_deref(), Some("526"));
    meta.verify().await;
}

#[tokio::test]
async fn a_facebook_login_account_is_called_on_its_host_with_its_page_id_token_and_the_configured_version()
 {
    let instagram = MockServer::start().await;
    let facebook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&instagram)
        .await;
    Mock::given(method("POST"))
        .and(path("/v26.0/112233445566/messages"))
        .and(header("authorization", "Bearer EAAGpage-token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"recipient_id": "1", "message_id": "aWdfZ-fb"})),
        )
        .expect(1)
        .mount(&facebook)
        .await;
    let app = spawn_app_with(|c| {
        c.graph_api_url = instagram.uri();
        c.graph_api_version = "v26.0".into();
    })
    .await;
    let accounts = json!({ ACCOUNT: {"token": "EAAGpage-token", "host": facebook.uri(), "page_id": "112233445566"} });
    app.tokens
        .set(ReplierSecrets::parse(Some("IGAAdefault"), Some(&accounts.to_string())).unwrap());
    app.new_comment("c-fb").await;

    app.deliver(&["c-fb"]).await;

    assert_eq!(
        app.stored("c-fb").await.message_id.as_deref(),
        Some("aWdfZ-fb")
    );
    instagram.verify().await;
    facebook.verify().await;
}

#[tokio::test]
async fn a_613_with_a_usage_header_waits_for_metas_regain_estimate_and_pauses_the_account() {
    let meta = MockServer::start().await;
    let usage = json!({ ACCOUNT: [{"type": "instagram", "call_count": 100, "total_cputime": 20, "total_time": 25, "estimated_time_to_regain_access": 30}] });
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400)
                .insert_header("x-business-use-case-usage", usage.to_string().as_str())
                .set_body_json(json!({"error": {
                    "message": "(#613) Calls to this api have exceeded the rate limit.",
                    "type": "OAuthException", "code": 613, "error_subcode": 2534040, "fbtrace_id": "Az9"
                }})),
        )
        .expect(1)
        .mount(&meta)
        .await;
    let app = spawn_app_with(|c| c.graph_api_url = meta.uri()).await;
    app.new_comment("c-613").await;

    app.deliver(&["c-613"]).await;

    let stored = app.stored("c-613").await;
    assert_eq!(stored.status, CommentStatus::Retry);
    assert_eq!(
        (stored.error_code, stored.error_subcode),
        (Some(613), Some(2_534_040))
    );
    assert!(stored.due() >= app.now() + TimeDelta::minutes(30));
    let paused_until = app.account_item().await["paused_until"]
        .as_s()
        .unwrap()
        .clone();
    let paused_until = DateTime::parse_from_rfc3339(&paused_until)
        .unwrap()
        .with_timezone(&Utc);
    assert!(paused_until >= app.now() + TimeDelta::minutes(30));
    meta.verify().await;
}
