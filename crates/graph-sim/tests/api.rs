//! The simulator over real HTTP, as the product's client and the end-to-end tests see it: Meta's answers for
//! each rule, the usage headers, the injected faults, and the `/_sim/` control routes.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use graph_sim::{
    CommentSpec, Fault, PersonAnswer, RunningSim, SimConfig, Simulator, WebhookTarget,
};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const IG: &str = "17841401906857599";
const TOKEN: &str = "IGAAtest-token-for-account";

struct TestSim {
    running: RunningSim,
    client: reqwest::Client,
}

#[derive(Debug)]
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn codes(&self) -> (u16, Option<u64>, Option<u64>) {
        let e = &self.body["error"];
        (self.status, e["code"].as_u64(), e["error_subcode"].as_u64())
    }

    fn usage(&self) -> Value {
        let raw = self.headers["x-business-use-case-usage"].to_str().unwrap();
        serde_json::from_str::<Value>(raw).unwrap()[IG][0].clone()
    }
}

async fn spawn_sim(tune: impl FnOnce(&mut SimConfig)) -> TestSim {
    let mut cfg = SimConfig::default();
    cfg.tokens.insert(IG.into(), TOKEN.into());
    tune(&mut cfg);
    let running = Simulator::new(cfg)
        .serve(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    // No pooled connections: a connection closed by a fault must not be silently retried.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    TestSim { running, client }
}

fn body(comment_id: &str, text: &str) -> Value {
    json!({"recipient": {"comment_id": comment_id}, "message": {"text": text}})
}

impl TestSim {
    fn sim(&self) -> &Simulator {
        &self.running.sim
    }

    fn messages_url(&self) -> String {
        self.running.url(&format!("/v25.0/{IG}/messages"))
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> reqwest::Result<Answer> {
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    async fn reply_with(&self, token: &str, comment_id: &str, text: &str) -> Answer {
        let req = self
            .client
            .post(self.messages_url())
            .bearer_auth(token)
            .json(&body(comment_id, text));
        self.send(req).await.unwrap()
    }

    async fn reply(&self, comment_id: &str, text: &str) -> Answer {
        self.reply_with(TOKEN, comment_id, text).await
    }

    /// A reply whose response never arrives: the client error.
    async fn reply_expecting_failure(&self, comment_id: &str, timeout: Duration) -> reqwest::Error {
        let req = self
            .client
            .post(self.messages_url())
            .bearer_auth(TOKEN)
            .timeout(timeout)
            .json(&body(comment_id, "hello"));
        self.send(req).await.unwrap_err()
    }

    async fn control(&self, path: &str, payload: Value) -> Value {
        let resp = self
            .client
            .post(self.running.url(path))
            .json(&payload)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap()
    }

    async fn get(&self, path: &str) -> Value {
        let resp = self
            .client
            .get(self.running.url(path))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap()
    }
}

#[tokio::test]
async fn a_reply_to_a_fresh_comment_returns_the_commenter_and_an_opaque_message_id() {
    let t = spawn_sim(|_| {}).await;
    let mut spec = CommentSpec::new("18058455121735594", IG);
    spec.commenter_id = Some("2706325442860345".into());
    t.sim().register_comment(spec);

    let a = t
        .reply("18058455121735594", "Thanks! Here is the link.")
        .await;

    assert_eq!(a.status, 200);
    assert_eq!(a.body["recipient_id"], "2706325442860345");
    let message_id = a.body["message_id"].as_str().unwrap();
    assert!(message_id.starts_with("aWdfZ"), "{message_id}");
    assert_eq!(a.usage()["type"], "instagram");
    assert!(a.headers.contains_key("x-app-usage"));
    let replies = t.sim().replies();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].message_id, message_id);
    assert_eq!(replies[0].text, "Thanks! Here is the link.");
}

#[tokio::test]
async fn a_second_reply_to_the_same_comment_is_refused_with_100_2534025() {
    let t = spawn_sim(|_| {}).await;
    assert_eq!(t.reply("c1", "first").await.status, 200);

    let again = t.reply("c1", "second").await;

    assert_eq!(again.codes(), (400, Some(100), Some(2534025)));
    assert!(again.body["error"]["fbtrace_id"].is_string());
    assert_eq!(t.sim().reply_count_for("c1"), 1);
}

#[tokio::test]
async fn a_wrong_token_gets_190_and_sending_resumes_once_the_token_is_fixed() {
    let t = spawn_sim(|_| {}).await;

    let refused = t.reply_with("IGAAnew-token", "c1", "hello").await;
    assert_eq!(refused.codes(), (400, Some(190), None));
    assert_eq!(refused.body["error"]["type"], "OAuthException");
    assert_eq!(t.sim().reply_count_for("c1"), 0);

    t.control(
        "/_sim/tokens",
        json!({"ig_id": IG, "token": "IGAAnew-token"}),
    )
    .await;

    assert_eq!(
        t.reply_with("IGAAnew-token", "c1", "hello").await.status,
        200
    );
    assert_eq!(
        t.reply_with(TOKEN, "c2", "hello").await.codes().1,
        Some(190)
    );
}

#[tokio::test]
async fn an_expired_token_gets_190_463() {
    let t = spawn_sim(|_| {}).await;
    t.control("/_sim/tokens/expire", json!({"token": TOKEN}))
        .await;

    let a = t.reply("c1", "hello").await;

    assert_eq!(a.codes(), (400, Some(190), Some(463)));
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
}

#[tokio::test]
async fn the_access_token_query_parameter_is_accepted_like_the_header() {
    let t = spawn_sim(|_| {}).await;
    let url = format!("{}?access_token={TOKEN}", t.messages_url());

    let a = t
        .send(t.client.post(url).json(&body("c1", "hello")))
        .await
        .unwrap();

    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn a_comment_registered_eight_days_ago_is_outside_the_allowed_window() {
    let t = spawn_sim(|_| {}).await;
    let created = (Utc::now() - TimeDelta::days(8)).to_rfc3339();
    t.control(
        "/_sim/comments",
        json!({"comment_id": "old", "ig_id": IG, "created_at": created, "media_product_type": "REELS"}),
    )
    .await;

    let a = t.reply("old", "hello").await;

    assert_eq!(a.codes(), (400, Some(10), Some(2534022)));
    assert_eq!(t.sim().reply_count_for("old"), 0);
}

#[tokio::test]
async fn advancing_the_clock_past_seven_days_closes_the_window_of_a_comment_first_seen_earlier() {
    let t = spawn_sim(|_| {}).await;
    t.sim().register_comment(CommentSpec::new("c1", IG));

    let now = t
        .control("/_sim/clock/advance", json!({"seconds": 7 * 86_400 + 1}))
        .await;

    assert!(now["now"].is_string());
    assert_eq!(
        t.reply("c1", "hello").await.codes(),
        (400, Some(10), Some(2534022))
    );
}

#[tokio::test]
async fn a_live_comment_can_be_answered_only_until_the_broadcast_ends() {
    let t = spawn_sim(|_| {}).await;
    t.sim()
        .register_comment(CommentSpec::new("live1", IG).live_on("media9"));
    t.sim()
        .register_comment(CommentSpec::new("live2", IG).live_on("media9"));
    assert_eq!(t.reply("live1", "hi from the live").await.status, 200);

    t.control("/_sim/live/end", json!({"media_id": "media9"}))
        .await;

    let a = t.reply("live2", "too late").await;
    assert_eq!(a.codes(), (400, Some(10), Some(2534022)));
}

#[tokio::test]
async fn over_the_limit_calls_get_613_with_usage_headers_and_succeed_after_the_window() {
    let t = spawn_sim(|cfg| {
        cfg.hour_limit = 3;
        cfg.hour_window = Duration::from_secs(1);
    })
    .await;
    assert_eq!(t.reply("c1", "ok").await.status, 200);
    assert_eq!(t.reply("c1", "dup").await.codes().1, Some(100)); // failed calls count too
    let third = t.reply("c2", "ok").await;
    assert_eq!(third.usage()["call_count"], 100);

    let throttled = t.reply("c3", "over").await;

    assert_eq!(throttled.codes(), (400, Some(613), None));
    assert_eq!(throttled.body["error"]["is_transient"], true);
    assert_eq!(throttled.usage()["call_count"], 100);
    assert_eq!(throttled.usage()["estimated_time_to_regain_access"], 1);
    assert_eq!(t.sim().reply_count_for("c3"), 0);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = t.reply("c3", "after the window").await;
    assert_eq!(later.status, 200);
    assert_eq!(later.usage()["call_count"], 33);
}

#[tokio::test]
async fn live_replies_have_their_own_per_second_budget() {
    let t = spawn_sim(|cfg| {
        cfg.hour_limit = 1;
        cfg.live_limit = 2;
        cfg.live_window = Duration::from_secs(60);
    })
    .await;
    assert_eq!(t.reply("post", "ok").await.status, 200);
    for id in ["l1", "l2", "l3"] {
        t.sim()
            .register_comment(CommentSpec::new(id, IG).live_on("m"));
    }

    assert_eq!(t.reply("l1", "ok").await.status, 200);
    assert_eq!(t.reply("l2", "ok").await.status, 200);
    assert_eq!(t.reply("l3", "over").await.codes().1, Some(613));
}

#[tokio::test]
async fn an_injected_500_fails_once_and_the_retry_succeeds() {
    let t = spawn_sim(|_| {}).await;
    t.control(
        "/_sim/faults",
        json!({"kind": "http_status", "status": 500, "times": 1}),
    )
    .await;

    let failed = t.reply("c1", "hello").await;
    assert_eq!(failed.codes(), (500, Some(2), None));
    assert_eq!(failed.body["error"]["is_transient"], true);
    assert_eq!(t.sim().reply_count_for("c1"), 0);

    assert_eq!(t.reply("c1", "hello").await.status, 200);
}

#[tokio::test]
async fn an_injected_503_can_be_plain_text() {
    let t = spawn_sim(|_| {}).await;
    t.sim().inject(Fault::http_status(503).once());

    let a = t.reply("c1", "hello").await;

    assert_eq!(a.status, 503);
    assert_eq!(a.body, "Service Unavailable");
}

/// A reply to `c1` under a 1.5 s delay fault (delivering the reply or not) that the client gives up on after
/// 300 ms: the simulator and the client error.
async fn reply_timing_out_on_a_delay(deliver: bool) -> (TestSim, reqwest::Error) {
    let t = spawn_sim(|_| {}).await;
    t.sim()
        .inject(Fault::delay(Duration::from_millis(1500), deliver).once());
    let err = t
        .reply_expecting_failure("c1", Duration::from_millis(300))
        .await;
    (t, err)
}

#[tokio::test]
async fn a_response_delayed_past_the_client_timeout_still_delivered_the_reply() {
    let (t, err) = reply_timing_out_on_a_delay(true).await;

    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(t.sim().reply_count_for("c1"), 1);
    assert_eq!(t.reply("c1", "retry").await.codes().2, Some(2534025));
}

#[tokio::test]
async fn a_delay_without_delivery_sends_nothing_and_a_retry_succeeds() {
    let (t, err) = reply_timing_out_on_a_delay(false).await;

    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(t.sim().reply_count_for("c1"), 0);
    assert_eq!(t.reply("c1", "retry").await.status, 200);
}

#[tokio::test]
async fn a_connection_closed_after_processing_loses_the_response_but_not_the_reply() {
    let t = spawn_sim(|_| {}).await;
    t.sim().inject(Fault::close_connection(true).once());

    let err = t
        .reply_expecting_failure("c1", Duration::from_secs(5))
        .await;

    assert!(!err.is_timeout(), "{err:?}");
    assert_eq!(t.sim().reply_count_for("c1"), 1);
    let log = t.sim().log();
    assert_eq!(log[0].status, None);
    assert_eq!(log[0].fault.as_deref(), Some("close_connection"));
    assert!(log[0].message_id.is_some());
    assert_eq!(t.reply("c1", "retry").await.codes().2, Some(2534025));
}

#[tokio::test]
async fn a_connection_closed_before_processing_sends_nothing() {
    let t = spawn_sim(|_| {}).await;
    t.control(
        "/_sim/faults",
        json!({"kind": "close_connection", "process": false, "comment_id": "c1", "times": 1}),
    )
    .await;

    let err = t
        .reply_expecting_failure("c1", Duration::from_secs(5))
        .await;

    assert!(!err.is_timeout(), "{err:?}");
    assert_eq!(t.sim().reply_count_for("c1"), 0);
    assert_eq!(t.reply("c1", "retry").await.status, 200);
}

#[tokio::test]
async fn an_injected_error_for_one_comment_leaves_the_others_alone_until_cleared() {
    let t = spawn_sim(|_| {}).await;
    t.sim()
        .inject(Fault::graph_error(551, Some(1545041)).for_comment("gone"));

    assert_eq!(
        t.reply("gone", "hi").await.codes(),
        (400, Some(551), Some(1545041))
    );
    assert_eq!(t.reply("gone", "hi").await.codes().1, Some(551));
    assert_eq!(t.reply("other", "hi").await.status, 200);

    let cleared = t
        .client
        .delete(t.running.url("/_sim/faults"))
        .send()
        .await
        .unwrap();
    assert!(cleared.status().is_success());
    assert_eq!(t.reply("gone", "hi").await.status, 200);
}

#[tokio::test]
async fn an_injected_80002_for_the_account_reports_when_access_returns() {
    let t = spawn_sim(|_| {}).await;
    t.control(
        "/_sim/faults",
        json!({"kind": "graph_error", "code": 80002, "ig_id": IG, "estimated_time_to_regain_access": 12, "times": 1}),
    )
    .await;

    let a = t.reply("c1", "hi").await;

    assert_eq!(a.codes(), (400, Some(80002), None));
    assert_eq!(a.body["error"]["is_transient"], true);
    assert_eq!(a.usage()["estimated_time_to_regain_access"], 12);
    assert_eq!(a.usage()["call_count"], 100);
}

#[tokio::test]
async fn a_text_over_1000_bytes_is_an_invalid_parameter_but_1000_bytes_is_fine() {
    let t = spawn_sim(|_| {}).await;
    // 501 two-byte characters: 501 characters, 1002 bytes.
    let too_long = "é".repeat(501);

    assert_eq!(
        t.reply("c1", &too_long).await.codes(),
        (400, Some(100), None)
    );
    assert_eq!(t.reply("c1", &"é".repeat(500)).await.status, 200);
}

#[tokio::test]
async fn an_empty_text_or_a_body_of_the_wrong_shape_is_an_invalid_parameter() {
    let t = spawn_sim(|_| {}).await;

    assert_eq!(t.reply("c1", "").await.codes(), (400, Some(100), None));
    let wrong = t
        .client
        .post(t.messages_url())
        .bearer_auth(TOKEN)
        .json(&json!({"recipient": {"user_id": "123"}, "message": {"text": "hi"}}));
    assert_eq!(t.send(wrong).await.unwrap().codes(), (400, Some(100), None));
    let not_json = t
        .client
        .post(t.messages_url())
        .bearer_auth(TOKEN)
        .body("recipient=c1");
    assert_eq!(
        t.send(not_json).await.unwrap().codes(),
        (400, Some(100), None)
    );
    assert!(t.sim().replies().is_empty());
}

#[tokio::test]
async fn the_log_lists_every_request_in_order_with_a_token_fingerprint_only() {
    let t = spawn_sim(|_| {}).await;
    t.reply("c1", "hello").await;
    t.reply("c1", "again").await;

    let log = t.get("/_sim/log").await;
    let replies = t.get("/_sim/replies").await;

    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["comment_id"], "c1");
    assert_eq!(log[0]["status"], 200);
    assert_eq!(log[0]["text_len"], 5);
    assert_eq!(log[1]["code"], 100);
    assert_eq!(log[1]["subcode"], 2534025);
    assert!(!Value::Array(log.clone()).to_string().contains(TOKEN));
    assert_eq!(replies.as_array().unwrap().len(), 1);
    assert_eq!(replies[0]["text"], "hello");
}

#[tokio::test]
async fn reset_forgets_replies_faults_and_the_clock() {
    let t = spawn_sim(|_| {}).await;
    t.reply("c1", "hello").await;
    t.sim().inject(Fault::http_status(500));
    t.sim().advance_clock(Duration::from_secs(86_400));

    t.control("/_sim/reset", json!({})).await;

    assert!(t.sim().now() < Utc::now() + TimeDelta::hours(1));
    assert_eq!(t.reply("c1", "hello").await.status, 200);
    assert_eq!(t.sim().log().len(), 1);
}

#[tokio::test]
async fn an_unknown_api_version_path_is_refused() {
    let t = spawn_sim(|_| {}).await;
    let req = t
        .client
        .post(t.running.url(&format!("/latest/{IG}/messages")))
        .bearer_auth(TOKEN)
        .json(&body("c1", "hi"));

    assert_eq!(t.send(req).await.unwrap().codes(), (400, Some(2500), None));
}

#[tokio::test]
async fn subscribing_an_account_with_its_token_succeeds_and_is_logged_without_the_token() {
    let t = spawn_sim(|_| {}).await;
    let url = t.running.url(&format!(
        "/v25.0/{IG}/subscribed_apps?subscribed_fields=comments,live_comments,messages"
    ));

    let answer = t
        .send(t.client.post(&url).bearer_auth(TOKEN))
        .await
        .unwrap();

    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, json!({"success": true}));
    assert_eq!(
        t.sim().subscribed_fields(IG),
        Some(vec![
            "comments".into(),
            "live_comments".into(),
            "messages".into()
        ])
    );
    let log = t.get("/_sim/log").await;
    assert_eq!(log[0]["endpoint"], "subscribed_apps");
    assert_eq!(log[0]["status"], 200);
    assert_eq!(
        log[0]["subscribed_fields"],
        json!(["comments", "live_comments", "messages"])
    );
    assert!(!log.to_string().contains(TOKEN));
}

#[tokio::test]
async fn subscribing_with_a_bad_token_is_190_and_with_an_unknown_field_is_100() {
    let t = spawn_sim(|_| {}).await;
    let url = |fields: &str| {
        t.running.url(&format!(
            "/v25.0/{IG}/subscribed_apps?subscribed_fields={fields}"
        ))
    };

    let bad_token = t.client.post(url("comments")).bearer_auth("not-the-token");
    let unknown_field = t.client.post(url("comments,kittens")).bearer_auth(TOKEN);
    let no_fields = t
        .client
        .post(t.running.url(&format!("/v25.0/{IG}/subscribed_apps")))
        .bearer_auth(TOKEN);

    assert_eq!(
        t.send(bad_token).await.unwrap().codes(),
        (400, Some(190), None)
    );
    let unknown = t.send(unknown_field).await.unwrap();
    assert_eq!(unknown.codes(), (400, Some(100), None));
    assert!(
        unknown.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("kittens")
    );
    assert_eq!(
        t.send(no_fields).await.unwrap().codes(),
        (400, Some(100), None)
    );
    assert_eq!(t.sim().subscribed_fields(IG), None);
    assert_eq!(t.sim().log().len(), 3);
    assert!(
        t.sim()
            .log()
            .iter()
            .all(|r| r.endpoint == "subscribed_apps")
    );
}

// Public replies: `POST`/`GET /{version}/{comment_id}/replies`.

impl TestSim {
    fn replies_url(&self, comment_id: &str) -> String {
        self.running.url(&format!("/v25.0/{comment_id}/replies"))
    }

    /// A public reply with `message` form-encoded in the body, as Meta's clients send it.
    async fn public_reply_with(&self, token: &str, comment_id: &str, message: &str) -> Answer {
        let req = self
            .client
            .post(self.replies_url(comment_id))
            .bearer_auth(token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("message={}", form_encode(message)));
        self.send(req).await.unwrap()
    }

    async fn public_reply(&self, comment_id: &str, message: &str) -> Answer {
        self.public_reply_with(TOKEN, comment_id, message).await
    }

    async fn list_public_replies(&self, comment_id: &str, fields: &str) -> Answer {
        let req = self.client.get(format!(
            "{}?fields={}&access_token={TOKEN}",
            self.replies_url(comment_id),
            form_encode(fields)
        ));
        self.send(req).await.unwrap()
    }
}

fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_public_reply_is_answered_with_a_new_comment_id_and_recorded() {
    let t = spawn_sim(|_| {}).await;
    t.sim()
        .register_comment(CommentSpec::new("18058455121735594", IG));

    let a = t
        .public_reply("18058455121735594", "Sent you a DM & more 😍")
        .await;

    assert_eq!(a.status, 200, "{:?}", a.body);
    let id = a.body["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 17, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
    assert_eq!(a.usage()["type"], "instagram");
    let published = t.sim().public_replies();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].comment_id, "18058455121735594");
    assert_eq!(published[0].ig_id, IG);
    assert_eq!(published[0].reply_id, id);
    assert_eq!(published[0].text, "Sent you a DM & more 😍");
    assert_eq!(t.sim().reply_count_for("18058455121735594"), 0, "no DM");
    let log = t.sim().log();
    assert_eq!(
        (log[0].endpoint.as_str(), log[0].method.as_str()),
        ("replies", "POST")
    );
    assert_eq!(log[0].ig_id, IG);
    assert_eq!(log[0].reply_id.as_deref(), Some(id.as_str()));
    assert_eq!(log[0].message_id, None);
    assert_eq!(log[0].status, Some(200));
}

#[tokio::test]
async fn a_second_public_reply_to_the_same_comment_is_accepted_too() {
    let t = spawn_sim(|_| {}).await;
    let first = t.public_reply("c1", "one").await;
    // Also as Meta takes it: both parameters in the query string.
    let req = t.client.post(format!(
        "{}?message=two&access_token={TOKEN}",
        t.replies_url("c1")
    ));
    let second = t.send(req).await.unwrap();

    assert_eq!((first.status, second.status), (200, 200), "{second:?}");
    assert_ne!(first.body["id"], second.body["id"]);
    assert_eq!(t.sim().public_reply_count_for("c1"), 2);
    let texts: Vec<String> = t
        .sim()
        .public_replies()
        .into_iter()
        .map(|r| r.text)
        .collect();
    assert_eq!(texts, ["one", "two"]);
}

#[tokio::test]
async fn listing_a_comments_public_replies_shows_them_oldest_first_from_the_account() {
    let t = spawn_sim(|_| {}).await;
    let first = t.public_reply("c1", "one").await;
    t.sim().advance_clock(Duration::from_secs(60));
    let second = t.public_reply("c1", "two").await;
    t.public_reply("c2", "elsewhere").await;

    let a = t.list_public_replies("c1", "id,text,from").await;

    assert_eq!(a.status, 200, "{:?}", a.body);
    let data = a.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["id"], first.body["id"]);
    assert_eq!(data[1]["id"], second.body["id"]);
    assert_eq!(data[0]["text"], "one");
    assert_eq!(data[0]["from"]["id"], IG);
    let username = data[0]["from"]["username"].as_str().unwrap();
    assert!(!username.is_empty());
    assert_eq!(data[1]["from"]["username"], username, "stable");
    assert_eq!(a.usage()["type"], "instagram");

    let narrow = t.list_public_replies("c1", "text,nonsense").await;
    assert_eq!(narrow.status, 200);
    assert_eq!(
        narrow.body["data"][0],
        json!({"id": first.body["id"], "text": "one"})
    );
    let log = t.sim().log();
    let last = log.last().unwrap();
    assert_eq!(
        (last.endpoint.as_str(), last.method.as_str()),
        ("replies", "GET")
    );
}

#[tokio::test]
async fn a_bad_token_is_refused_with_the_same_190_shapes_as_a_private_reply() {
    let t = spawn_sim(|_| {}).await;
    t.sim().register_comment(CommentSpec::new("c1", IG));

    let unknown = t.public_reply_with("not-a-token", "c1", "hi").await;
    assert_eq!(unknown.codes(), (400, Some(190), None));
    assert_eq!(unknown.body["error"]["type"], "OAuthException");
    assert_eq!(
        t.public_reply_with("not-a-token", "never-seen", "hi")
            .await
            .codes(),
        (400, Some(190), None)
    );
    let no_token = t.client.post(format!("{}?message=hi", t.replies_url("c1")));
    assert_eq!(
        t.send(no_token).await.unwrap().codes(),
        (400, Some(104), None)
    );
    let list = t.client.get(t.replies_url("c1")).bearer_auth("not-a-token");
    assert_eq!(t.send(list).await.unwrap().codes(), (400, Some(190), None));

    t.sim().expire_token(TOKEN);
    assert_eq!(
        t.public_reply("c1", "hi").await.codes(),
        (400, Some(190), Some(463))
    );
    t.sim().set_token(IG, TOKEN);
    t.sim()
        .set_token("17841400000000002", "other-account-token");
    assert_eq!(
        t.public_reply_with("other-account-token", "c1", "hi")
            .await
            .codes(),
        (400, Some(100), Some(33)),
        "another account's comment"
    );
    assert_eq!(t.sim().public_replies().len(), 0);
    assert_eq!(t.public_reply("c1", "hi").await.status, 200);
}

#[tokio::test]
async fn with_only_the_default_token_a_public_reply_needs_a_comment_the_simulator_knows() {
    let t = spawn_sim(|cfg| cfg.default_token = Some("shared".into())).await;
    t.sim().register_comment(CommentSpec::new("known", IG));

    assert_eq!(
        t.public_reply_with("shared", "unknown", "hi").await.codes(),
        (400, Some(100), Some(33))
    );
    assert_eq!(
        t.public_reply_with("shared", "known", "hi").await.status,
        200
    );
    assert_eq!(t.sim().public_replies()[0].ig_id, IG);
}

#[tokio::test]
async fn a_live_comment_cannot_get_a_public_reply() {
    let t = spawn_sim(|_| {}).await;
    t.sim()
        .register_comment(CommentSpec::new("c-live", IG).live_on("live-media-1"));

    let a = t.public_reply("c-live", "hi").await;

    assert_eq!(a.codes(), (400, Some(100), None));
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Live"),
        "{:?}",
        a.body
    );
    assert_eq!(t.sim().public_reply_count_for("c-live"), 0);
}

#[tokio::test]
async fn an_empty_or_missing_message_or_a_reply_to_a_reply_is_an_invalid_parameter() {
    let t = spawn_sim(|_| {}).await;

    assert_eq!(
        t.public_reply("c1", "").await.codes(),
        (400, Some(100), None)
    );
    let missing = t.client.post(t.replies_url("c1")).bearer_auth(TOKEN);
    assert_eq!(
        t.send(missing).await.unwrap().codes(),
        (400, Some(100), None)
    );
    let reply = t.public_reply("c1", "top level").await;
    let reply_id = reply.body["id"].as_str().unwrap();
    assert_eq!(
        t.public_reply(reply_id, "nested").await.codes(),
        (400, Some(100), None),
        "top-level comments only"
    );
    // No length limit is documented for comments.
    assert_eq!(t.public_reply("c2", &"x".repeat(1500)).await.status, 200);
    assert_eq!(t.sim().public_replies().len(), 2);
}

#[tokio::test]
async fn strict_comments_refuse_a_public_reply_to_an_unknown_comment() {
    let t = spawn_sim(|cfg| cfg.strict_comments = true).await;
    assert_eq!(
        t.public_reply("unknown", "hi").await.codes(),
        (400, Some(100), Some(33))
    );
    assert!(t.sim().public_replies().is_empty());
}

#[tokio::test]
async fn processed_then_500_publishes_the_public_reply_but_answers_500() {
    let t = spawn_sim(|_| {}).await;
    t.sim().inject(
        Fault::http_status_after_processing(500)
            .on_public_replies()
            .for_comment("c1")
            .once(),
    );

    let a = t.public_reply("c1", "hi").await;

    assert_eq!(a.status, 500);
    assert_eq!(a.body["error"]["code"], 2);
    assert_eq!(t.sim().public_reply_count_for("c1"), 1, "published anyway");
    let log = t.sim().log();
    assert_eq!(log[0].status, Some(500));
    assert_eq!(log[0].fault.as_deref(), Some("http_status"));
    assert_eq!(
        log[0].reply_id.as_deref(),
        Some(t.sim().public_replies()[0].reply_id.as_str())
    );
    // The retry a client makes without reconciling publishes a second reply.
    assert_eq!(t.public_reply("c1", "hi").await.status, 200);
    assert_eq!(t.sim().public_reply_count_for("c1"), 2);
}

#[tokio::test]
async fn lost_answers_to_public_replies_hang_up_or_time_out_after_publishing() {
    let t = spawn_sim(|_| {}).await;
    t.control(
        "/_sim/faults",
        json!({"kind": "close_connection", "process": true, "endpoint": "public_replies", "times": 1}),
    )
    .await;
    t.sim().inject(
        Fault::delay(Duration::from_millis(400), true)
            .on_public_replies()
            .once(),
    );
    t.sim().inject(
        Fault::delay(Duration::from_millis(400), false)
            .on_public_replies()
            .once(),
    );

    let send = |comment_id: &'static str| {
        t.client
            .post(format!("{}?message=hi", t.replies_url(comment_id)))
            .bearer_auth(TOKEN)
            .timeout(Duration::from_millis(200))
            .send()
    };
    let hung_up = send("c1").await.unwrap_err();
    let timed_out = send("c2").await.unwrap_err();
    let not_sent = send("c3").await.unwrap_err();

    assert!(!hung_up.is_timeout(), "{hung_up:?}");
    assert!(timed_out.is_timeout() && not_sent.is_timeout());
    assert_eq!(t.sim().public_reply_count_for("c1"), 1);
    assert_eq!(t.sim().public_reply_count_for("c2"), 1);
    assert_eq!(t.sim().public_reply_count_for("c3"), 0);
    let log = t.sim().log();
    assert_eq!(log[0].status, None);
    assert!(log[0].reply_id.is_some());
}

#[tokio::test]
async fn faults_aimed_at_private_replies_leave_public_replies_alone_and_vice_versa() {
    let t = spawn_sim(|_| {}).await;
    t.sim().inject(Fault::http_status(503));
    t.sim().inject(
        Fault::graph_error(368, None)
            .for_account(IG)
            .on_public_replies(),
    );

    assert_eq!(t.reply("c1", "dm").await.status, 503);
    let public = t.public_reply("c1", "public").await;
    assert_eq!(public.codes(), (400, Some(368), None));

    t.sim().clear_faults();
    t.sim().inject(
        Fault::http_status(502)
            .on_public_replies()
            .for_comment("c1"),
    );
    assert_eq!(t.reply("c1", "dm").await.status, 200);
    assert_eq!(t.public_reply("c1", "public").await.status, 502);
    assert_eq!(t.public_reply("c2", "public").await.status, 200);
    assert_eq!(t.sim().public_replies().len(), 1);
}

#[tokio::test]
async fn public_replies_have_their_own_budget_refused_with_80002() {
    let t = spawn_sim(|cfg| cfg.public_reply_limit = 2).await;
    assert_eq!(t.public_reply("c1", "a").await.status, 200);
    assert_eq!(t.list_public_replies("c1", "id").await.status, 200);

    let refused = t.public_reply("c1", "b").await;

    assert_eq!(refused.codes().1, Some(80002));
    assert_eq!(refused.usage()["call_count"], 100);
    assert_eq!(t.sim().public_reply_count_for("c1"), 1);
    assert_eq!(t.reply("c1", "dm").await.status, 200, "DMs unaffected");
}

#[tokio::test]
async fn the_control_route_lists_public_replies_and_reset_forgets_them() {
    let t = spawn_sim(|_| {}).await;
    t.public_reply("c1", "one").await;

    let listed = t.get("/_sim/public_replies").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["comment_id"], "c1");
    assert_eq!(listed[0]["ig_id"], IG);
    assert_eq!(listed[0]["text"], "one");

    t.control("/_sim/reset", json!({})).await;
    assert!(t.sim().public_replies().is_empty());
    assert_eq!(t.get("/_sim/public_replies").await, json!([]));
}

// Messages to a person (the Send API, `recipient.id`), the person's answers and their notifications.

const PERSON: &str = "2706325442860345";

fn to_person(igsid: &str, message: Value) -> Value {
    json!({"recipient": {"id": igsid}, "message": message})
}

fn button_template(text: &str, buttons: Value) -> Value {
    json!({"attachment": {"type": "template", "payload": {
        "template_type": "button", "text": text, "buttons": buttons,
    }}})
}

impl TestSim {
    async fn send_to_with(&self, token: &str, igsid: &str, message: Value) -> Answer {
        let req = self
            .client
            .post(self.messages_url())
            .bearer_auth(token)
            .json(&to_person(igsid, message));
        self.send(req).await.unwrap()
    }

    async fn send_to(&self, igsid: &str, text: &str) -> Answer {
        self.send_to_with(TOKEN, igsid, json!({ "text": text }))
            .await
    }

    /// The person writes to the account over `/_sim/person_answers`; the route's answer.
    async fn person_answers(&self, answer: Value) -> (u16, Value) {
        let resp = self
            .client
            .post(self.running.url("/_sim/person_answers"))
            .json(&answer)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    /// `PERSON` commented on `comment_id` and got the account's private reply.
    async fn private_reply_to_person(&self, comment_id: &str) {
        let mut spec = CommentSpec::new(comment_id, IG);
        spec.commenter_id = Some(PERSON.into());
        self.sim().register_comment(spec);
        assert_eq!(self.reply(comment_id, "Here is the link").await.status, 200);
    }
}

/// One notification as the test webhook received it.
#[derive(Debug)]
struct Received {
    signature: Option<String>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn message(&self) -> Value {
        self.json()["entry"][0]["messaging"][0].clone()
    }
}

/// A webhook on a free port that answers `status` and hands over what it received.
struct TestWebhook {
    url: String,
    received: tokio::sync::mpsc::UnboundedReceiver<Received>,
}

const APP_SECRET: &str = "test-app-secret";

async fn spawn_webhook(status: u16) -> TestWebhook {
    use axum::http::{HeaderMap as AxumHeaders, StatusCode};
    let (tx, received) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/webhook",
        axum::routing::post(move |headers: AxumHeaders, body: axum::body::Bytes| {
            let tx = tx.clone();
            async move {
                let signature = headers
                    .get("x-hub-signature-256")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                tx.send(Received {
                    signature,
                    body: body.to_vec(),
                })
                .ok();
                StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    TestWebhook { url, received }
}

impl TestWebhook {
    fn target(&self) -> WebhookTarget {
        WebhookTarget::new(&self.url, APP_SECRET)
    }

    /// Everything received so far (the simulator waits for the webhook's answer, so nothing is in flight).
    fn drain(&mut self) -> Vec<Received> {
        let mut all = Vec::new();
        while let Ok(r) = self.received.try_recv() {
            all.push(r);
        }
        all
    }
}

fn expected_signature(body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn a_message_to_a_person_who_answered_the_private_reply_is_delivered_and_listed() {
    let t = spawn_sim(|_| {}).await;
    t.private_reply_to_person("c1").await;
    let (status, answered) = t
        .person_answers(json!({"ig_id": IG, "comment_id": "c1", "text": "LINK please"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(answered["igsid"], PERSON);
    assert_eq!(answered["webhook_status"], Value::Null);

    let a = t.send_to(PERSON, "Here is your follow-up").await;

    assert_eq!(a.status, 200);
    assert_eq!(a.body["recipient_id"], PERSON);
    let message_id = a.body["message_id"].as_str().unwrap();
    assert!(message_id.starts_with("aWdfZ"), "{message_id}");
    assert!(a.usage()["call_count"].is_number());
    let listed = t
        .get(&format!("/_sim/messages?ig_id={IG}&recipient_id={PERSON}"))
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["message_id"], message_id);
    assert_eq!(listed[0]["text"], "Here is your follow-up");
    assert!(listed[0].get("buttons").is_none());
    assert_eq!(
        t.get("/_sim/messages?recipient_id=someone").await,
        json!([])
    );
    assert_eq!(t.sim().messages_to(IG, PERSON).len(), 1);
    assert_eq!(
        t.sim().replies().len(),
        1,
        "the private reply is listed apart"
    );
    let log = t.sim().log();
    let sent = log.last().unwrap();
    assert_eq!(sent.endpoint, "send_api");
    assert_eq!(sent.recipient_id.as_deref(), Some(PERSON));
    assert_eq!(sent.comment_id, None);
    assert_eq!(sent.message_id.as_deref(), Some(message_id));
    assert!(log.iter().filter(|r| r.endpoint == "messages").count() == 1);
}

#[tokio::test]
async fn the_window_closes_24_hours_after_the_persons_last_message_and_a_new_one_reopens_it() {
    let t = spawn_sim(|_| {}).await;
    let (status, _) = t
        .person_answers(
            json!({"ig_id": IG, "igsid": PERSON, "text": "hi", "seconds_ago": 86_400 - 2}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(t.send_to(PERSON, "still inside").await.status, 200);

    t.sim().advance_clock(Duration::from_secs(3));
    let late = t.send_to(PERSON, "too late").await;
    assert_eq!(late.codes(), (400, Some(10), Some(2018278)));
    assert!(
        late.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("outside of allowed window")
    );

    t.person_answers(json!({"ig_id": IG, "igsid": PERSON, "text": "again"}))
        .await;
    assert_eq!(t.send_to(PERSON, "reopened").await.status, 200);
    assert_eq!(t.sim().messages_to(IG, PERSON).len(), 2);
}

#[tokio::test]
async fn a_commenter_who_never_answered_is_outside_the_window_and_a_stranger_is_unknown() {
    let t = spawn_sim(|_| {}).await;
    t.private_reply_to_person("c1").await;

    let silent = t.send_to(PERSON, "follow-up").await;
    let stranger = t.send_to("1111111111111111", "hello").await;

    assert_eq!(silent.codes(), (400, Some(10), Some(2018278)));
    assert_eq!(stranger.codes(), (400, Some(100), Some(2534014)));
    assert!(t.sim().messages().is_empty());
}

#[tokio::test]
async fn a_button_template_is_delivered_with_its_buttons_and_an_invalid_one_is_refused() {
    let t = spawn_sim(|_| {}).await;
    t.sim()
        .person_answers(PersonAnswer::from_person(IG, PERSON, "LINK"))
        .await
        .unwrap();
    let button = |url: &str, title: &str| json!({"type": "web_url", "url": url, "title": title});

    let ok = t
        .send_to_with(
            TOKEN,
            PERSON,
            button_template(
                "Your link:",
                json!([button("https://shop.example/p/1", "Open")]),
            ),
        )
        .await;
    let too_long_title = t
        .send_to_with(
            TOKEN,
            PERSON,
            button_template(
                "Your link:",
                json!([button("https://shop.example", &"t".repeat(21))]),
            ),
        )
        .await;
    let plain_http = t
        .send_to_with(
            TOKEN,
            PERSON,
            button_template("Your link:", json!([button("http://shop.example", "Open")])),
        )
        .await;
    let no_buttons = t
        .send_to_with(TOKEN, PERSON, button_template("Your link:", json!([])))
        .await;

    assert_eq!(ok.status, 200);
    assert_eq!(too_long_title.codes(), (400, Some(100), None));
    assert_eq!(plain_http.codes(), (400, Some(100), None));
    assert_eq!(no_buttons.codes(), (400, Some(100), None));
    let listed = t.get("/_sim/messages").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["text"], "Your link:");
    assert_eq!(
        listed[0]["buttons"],
        json!([{"url": "https://shop.example/p/1", "title": "Open"}])
    );
}

#[tokio::test]
async fn the_send_api_checks_tokens_as_a_private_reply_does() {
    let t = spawn_sim(|_| {}).await;
    t.sim()
        .person_answers(PersonAnswer::from_person(IG, PERSON, "hi"))
        .await
        .unwrap();
    let text = || json!({"text": "hi"});

    let wrong = t.send_to_with("IGAAother", PERSON, text()).await;
    let missing = t
        .send(
            t.client
                .post(t.messages_url())
                .json(&to_person(PERSON, text())),
        )
        .await
        .unwrap();
    t.sim().expire_token(TOKEN);
    let expired = t.send_to_with(TOKEN, PERSON, text()).await;

    assert_eq!(wrong.codes(), (400, Some(190), None));
    assert_eq!(missing.codes(), (400, Some(104), None));
    assert_eq!(expired.codes(), (400, Some(190), Some(463)));
    assert!(t.sim().messages().is_empty());
    assert!(
        !serde_json::to_string(&t.sim().log())
            .unwrap()
            .contains(TOKEN)
    );
}

#[tokio::test]
async fn the_send_api_has_its_own_budget_refused_with_613_and_usage_headers() {
    let t = spawn_sim(|cfg| {
        cfg.send_api_limit = 2;
        cfg.send_api_window = Duration::from_secs(60);
        cfg.hour_limit = 1;
    })
    .await;
    t.sim()
        .person_answers(PersonAnswer::from_person(IG, PERSON, "hi"))
        .await
        .unwrap();
    assert_eq!(t.reply("c1", "private reply").await.status, 200);
    assert_eq!(t.send_to(PERSON, "one").await.status, 200);
    assert_eq!(
        t.send_to("1111111111111111", "unknown").await.codes().1,
        Some(100)
    ); // refused calls count

    let over = t.send_to(PERSON, "three").await;

    assert_eq!(over.codes(), (400, Some(613), None));
    assert_eq!(over.body["error"]["is_transient"], true);
    assert_eq!(over.usage()["call_count"], 100);
    assert_eq!(over.usage()["estimated_time_to_regain_access"], 1);
    assert_eq!(t.sim().messages().len(), 1);
}

#[tokio::test]
async fn faults_aimed_at_the_send_api_leave_private_replies_alone_and_vice_versa() {
    let t = spawn_sim(|_| {}).await;
    t.sim()
        .person_answers(PersonAnswer::from_person(IG, PERSON, "hi"))
        .await
        .unwrap();
    t.sim().inject(Fault::http_status(503));
    t.control(
        "/_sim/faults",
        json!({"kind": "graph_error", "code": 551, "endpoint": "send_api", "recipient_id": PERSON, "times": 1}),
    )
    .await;

    assert_eq!(t.reply("c1", "dm").await.status, 503);
    assert_eq!(
        t.send_to(PERSON, "first").await.codes(),
        (400, Some(551), None)
    );
    assert_eq!(t.send_to(PERSON, "second").await.status, 200);

    t.sim().clear_faults();
    t.sim()
        .inject(Fault::close_connection(true).on_send_api().once());
    let lost = t
        .client
        .post(t.messages_url())
        .bearer_auth(TOKEN)
        .json(&to_person(PERSON, json!({"text": "lost answer"})))
        .send()
        .await
        .unwrap_err();
    assert!(!lost.is_timeout(), "{lost:?}");
    assert_eq!(t.reply("c1", "dm").await.status, 200);
    let delivered = t.sim().messages_to(IG, PERSON);
    assert_eq!(delivered.len(), 2, "delivered before the connection closed");
    assert_eq!(delivered[1].text, "lost answer");
    let log = t.sim().log();
    let cut = log
        .iter()
        .find(|r| r.fault.as_deref() == Some("close_connection"))
        .unwrap();
    assert_eq!((cut.endpoint.as_str(), cut.status), ("send_api", None));
}

#[tokio::test]
async fn a_person_answering_posts_a_signed_messages_notification_to_the_webhook() {
    let mut hook = spawn_webhook(200).await;
    let t = spawn_sim(|cfg| cfg.webhook = Some(WebhookTarget::new(&hook.url, APP_SECRET))).await;
    t.private_reply_to_person("c1").await;
    let before = t.sim().now();

    let (status, answered) = t
        .person_answers(json!({"ig_id": IG, "comment_id": "c1", "text": "Merci, ça marche 😍"}))
        .await;

    assert_eq!(status, 200);
    assert_eq!(answered["webhook_status"], 200);
    let got = hook.drain();
    assert_eq!(
        got.len(),
        1,
        "one notification, no echo of the private reply"
    );
    let r = &got[0];
    assert_eq!(
        r.signature.as_deref(),
        Some(expected_signature(&r.body).as_str())
    );
    assert!(r.body.is_ascii(), "non-ASCII escaped as on Meta's wire");
    let body = r.json();
    assert_eq!(body["object"], "instagram");
    assert_eq!(body["entry"][0]["id"], IG);
    let m = r.message();
    assert_eq!(m["sender"]["id"], PERSON);
    assert_eq!(m["recipient"]["id"], IG);
    assert_eq!(m["message"]["mid"], answered["mid"]);
    assert_eq!(m["message"]["text"], "Merci, ça marche 😍");
    assert!(m["message"].get("is_echo").is_none());
    let ms = m["timestamp"].as_i64().unwrap();
    assert!((ms - before.timestamp_millis()).abs() < 5_000, "{ms}");
    assert!(body["entry"][0]["time"].as_i64().unwrap() >= ms);
    assert_eq!(
        t.send_to(PERSON, "follow-up").await.status,
        200,
        "window open"
    );
}

#[tokio::test]
async fn the_webhooks_status_is_reported_and_an_unreachable_webhook_is_named_not_fatal() {
    let mut failing = spawn_webhook(500).await;
    let t = spawn_sim(|_| {}).await;
    t.control(
        "/_sim/webhook",
        json!({"url": failing.url, "app_secret": APP_SECRET}),
    )
    .await;

    let (_, refused) = t
        .person_answers(json!({"ig_id": IG, "igsid": PERSON, "text": "hi"}))
        .await;
    assert_eq!(refused["webhook_status"], 500);
    assert_eq!(failing.drain().len(), 1);

    // A port nothing listens on: bind one, then free it.
    let free = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}/webhook", free.local_addr().unwrap());
    drop(free);
    t.sim()
        .set_webhook(Some(WebhookTarget::new(url, APP_SECRET)));
    let unreachable = t
        .sim()
        .person_answers(PersonAnswer::from_person(IG, PERSON, "hi"))
        .await
        .unwrap();
    assert_eq!(unreachable.webhook_status, None);
    assert_eq!(
        unreachable.webhook_error.as_deref(),
        Some("the webhook could not be reached")
    );
    assert_eq!(t.send_to(PERSON, "window open anyway").await.status, 200);

    let removed = t
        .client
        .delete(t.running.url("/_sim/webhook"))
        .send()
        .await
        .unwrap();
    assert!(removed.status().is_success());
    let (_, silent) = t
        .person_answers(json!({"ig_id": IG, "igsid": PERSON, "text": "hi"}))
        .await;
    assert_eq!(silent["webhook_status"], Value::Null);
    assert!(failing.drain().is_empty());
}

#[tokio::test]
async fn with_echoes_every_delivery_comes_back_as_an_echo_before_its_answer() {
    let mut hook = spawn_webhook(200).await;
    let t = spawn_sim(|cfg| cfg.webhook = Some(hook.target().with_echoes())).await;
    t.private_reply_to_person("c1").await;
    let reply_echo = hook.drain();
    t.person_answers(json!({"ig_id": IG, "comment_id": "c1", "text": "LINK"}))
        .await;
    assert_eq!(hook.drain().len(), 1);

    let sent = t.send_to(PERSON, "follow-up").await;
    let refused = t.send_to("1111111111111111", "unknown").await;

    assert_eq!(reply_echo.len(), 1);
    let echo = reply_echo[0].message();
    assert_eq!(echo["sender"]["id"], IG);
    assert_eq!(echo["recipient"]["id"], PERSON);
    assert_eq!(echo["message"]["is_echo"], true);
    assert_eq!(echo["message"]["text"], "Here is the link");
    assert_eq!(echo["message"]["mid"], t.sim().replies()[0].message_id);
    assert_eq!(refused.codes().1, Some(100));
    let got = hook.drain();
    assert_eq!(got.len(), 1, "one echo, none for the refused message");
    assert_eq!(
        got[0].signature.as_deref(),
        Some(expected_signature(&got[0].body).as_str())
    );
    let echo = got[0].message();
    assert_eq!(echo["message"]["is_echo"], true);
    assert_eq!(echo["message"]["mid"], sent.body["message_id"]);
    assert_eq!(echo["message"]["text"], "follow-up");
}

#[tokio::test]
async fn without_echoes_a_delivery_posts_nothing() {
    let mut hook = spawn_webhook(200).await;
    let t = spawn_sim(|cfg| cfg.webhook = Some(hook.target())).await;
    t.private_reply_to_person("c1").await;
    t.sim()
        .person_answers(PersonAnswer::to_private_reply(IG, "c1", "LINK"))
        .await
        .unwrap();

    assert_eq!(t.send_to(PERSON, "follow-up").await.status, 200);

    let got = hook.drain();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message()["sender"]["id"], PERSON);
}

#[tokio::test]
async fn an_answer_needs_a_person_a_text_and_a_delivered_private_reply() {
    let t = spawn_sim(|_| {}).await;
    t.private_reply_to_person("c1").await;

    let (no_reply, body) = t
        .person_answers(json!({"ig_id": IG, "comment_id": "c2", "text": "hi"}))
        .await;
    let (other_account, _) = t
        .person_answers(json!({"ig_id": "other", "comment_id": "c1", "text": "hi"}))
        .await;
    let (no_person, _) = t.person_answers(json!({"ig_id": IG, "text": "hi"})).await;
    let (empty, _) = t
        .person_answers(json!({"ig_id": IG, "igsid": PERSON, "text": ""}))
        .await;
    let (mismatch, _) = t
        .person_answers(
            json!({"ig_id": IG, "comment_id": "c1", "igsid": "1111111111111111", "text": "hi"}),
        )
        .await;

    assert_eq!(no_reply, 404);
    assert!(body["error"].as_str().unwrap().contains("c2"));
    assert_eq!(other_account, 404);
    assert_eq!((no_person, empty, mismatch), (400, 400, 400));
    assert_eq!(
        t.send_to(PERSON, "still closed").await.codes().2,
        Some(2018278)
    );
}

#[tokio::test]
async fn reset_forgets_messages_and_windows_and_restores_the_configured_webhook() {
    let mut hook = spawn_webhook(200).await;
    let t = spawn_sim(|cfg| cfg.webhook = Some(hook.target())).await;
    t.sim()
        .person_answers(PersonAnswer::from_person(IG, PERSON, "hi"))
        .await
        .unwrap();
    assert_eq!(t.send_to(PERSON, "one").await.status, 200);
    t.sim().set_webhook(None);

    t.control("/_sim/reset", json!({})).await;

    assert!(t.sim().messages().is_empty());
    assert_eq!(t.get("/_sim/messages").await, json!([]));
    assert_eq!(t.send_to(PERSON, "two").await.codes().2, Some(2534014));
    hook.drain();
    let answered = t
        .sim()
        .person_answers(PersonAnswer::from_person(IG, PERSON, "back"))
        .await
        .unwrap();
    assert_eq!(answered.webhook_status, Some(200));
    assert_eq!(hook.drain().len(), 1);
}
