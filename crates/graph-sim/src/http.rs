//! The HTTP face of the simulator: Meta's `POST /{version}/{ig_id}/messages` (private replies and the Send
//! API), `subscribed_apps` and `POST`/`GET /{version}/{comment_id}/replies`, and the `/_sim/` control routes
//! that mirror the [`Simulator`] methods for tests and tools that are not written in Rust.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::WebhookTarget;
use crate::fault::{Fault, FaultKind};
use crate::rate::Usage;
use crate::rules::PersonAnswerError;
use crate::server::ConnKill;
use crate::simulator::Simulator;
use crate::wire::{Answer, AnswerBody, CommentSpec, MessagesCall, PersonAnswer, PublicReplyCall};

impl Simulator {
    /// All routes, for mounting in another server. The `close_connection` fault only closes connections that
    /// [`Simulator::serve`] accepted; elsewhere it answers an empty `502`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/{version}/{ig_id}/messages", post(send_message))
            .route("/{version}/{ig_id}/subscribed_apps", post(subscribe_app))
            .route(
                "/{version}/{comment_id}/replies",
                post(post_public_reply).get(list_public_replies),
            )
            .route("/_sim/health", get(health))
            .route("/_sim/tokens", post(set_token))
            .route("/_sim/tokens/expire", post(expire_token))
            .route("/_sim/comments", post(register_comment))
            .route("/_sim/live/end", post(end_live))
            .route("/_sim/clock", get(clock))
            .route("/_sim/clock/advance", post(advance_clock))
            .route("/_sim/faults", post(add_fault).delete(clear_faults))
            .route("/_sim/log", get(log))
            .route("/_sim/replies", get(replies))
            .route("/_sim/public_replies", get(public_replies))
            .route("/_sim/messages", get(messages))
            .route("/_sim/person_answers", post(person_answers))
            .route("/_sim/webhook", post(set_webhook).delete(remove_webhook))
            .route("/_sim/reset", post(reset))
            .with_state(self.clone())
    }
}

async fn send_message(
    State(sim): State<Simulator>,
    Path((version, ig_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    conn: Option<Extension<ConnectInfo<ConnKill>>>,
    body: Bytes,
) -> Response {
    let token = bearer_token(&headers).or_else(|| query.get("access_token").cloned());
    let (answer, fault, ig_id) = match MessagesCall::parse(version, ig_id, token, &body) {
        MessagesCall::PrivateReply(call) => {
            let fault = sim.take_fault(&call);
            (sim.respond(&call, fault.as_ref()), fault, call.ig_id)
        }
        MessagesCall::SendApi(call) => {
            let fault = sim.take_send_fault(&call);
            (sim.respond_send(&call, fault.as_ref()), fault, call.ig_id)
        }
    };
    sim.echo_delivery(answer.message_id.as_deref()).await;
    if let Some(cut) = wait_or_cut(fault.as_ref(), conn).await {
        return cut;
    }
    to_response(answer, &ig_id)
}

/// A fault's effect on the connection once the answer is decided: the `delay` waited out, or the connection
/// killed by `close_connection` (then the response returned is never written).
async fn wait_or_cut(
    fault: Option<&FaultKind>,
    conn: Option<Extension<ConnectInfo<ConnKill>>>,
) -> Option<Response> {
    match fault {
        Some(FaultKind::Delay { ms, .. }) => {
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            None
        }
        Some(FaultKind::CloseConnection { .. }) => {
            if let Some(Extension(ConnectInfo(kill))) = conn {
                kill.kill();
            }
            Some(StatusCode::BAD_GATEWAY.into_response())
        }
        _ => None,
    }
}

/// Publishes a public reply to the comment: `message` and `access_token` from the query or the body (form or
/// JSON), the token also from `Authorization`. Takes the faults aimed at public replies.
async fn post_public_reply(
    State(sim): State<Simulator>,
    Path((version, comment_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    conn: Option<Extension<ConnectInfo<ConnKill>>>,
    body: Bytes,
) -> Response {
    let call = PublicReplyCall::parse(version, comment_id, bearer_token(&headers), &query, &body);
    let fault = sim.take_public_reply_fault(&call);
    let answer = sim.respond_public_reply(&call, fault.as_ref());
    if let Some(cut) = wait_or_cut(fault.as_ref(), conn).await {
        return cut;
    }
    let account = sim.account_of_comment(&call.comment_id);
    to_response(answer, &account)
}

/// The comment's public replies, oldest first: `fields` and `access_token` from the query.
async fn list_public_replies(
    State(sim): State<Simulator>,
    Path((version, comment_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let token = bearer_token(&headers).or_else(|| query.get("access_token").cloned());
    let fields = query.get("fields").map(String::as_str);
    let answer = sim.list_public_replies(&version, &comment_id, token.as_deref(), fields);
    let account = sim.account_of_comment(&comment_id);
    to_response(answer, &account)
}

/// Subscribes the app to the account's webhook fields. Meta reads `subscribed_fields` from the query or a form
/// body; the query is what clients use.
async fn subscribe_app(
    State(sim): State<Simulator>,
    Path((version, ig_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let token = bearer_token(&headers).or_else(|| query.get("access_token").cloned());
    let fields = query.get("subscribed_fields").map(String::as_str);
    let answer = sim.subscribe(&version, &ig_id, token.as_deref(), fields);
    to_response(answer, &ig_id)
}

/// `Authorization: Bearer <token>` (Meta also accepts the `OAuth` scheme).
fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth");
    let token = token.trim();
    (known && !token.is_empty()).then(|| token.to_owned())
}

fn to_response(answer: Answer, ig_id: &str) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match answer.body {
        AnswerBody::Json(body) => (status, Json(body)).into_response(),
        AnswerBody::Text(text) => (status, text).into_response(),
        AnswerBody::None => status.into_response(),
    };
    if let Some(usage) = answer.usage {
        let (buc, app) = usage_headers(ig_id, usage);
        let headers = response.headers_mut();
        for (name, value) in [("x-business-use-case-usage", buc), ("x-app-usage", app)] {
            if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
                headers.insert(name, v);
            }
        }
    }
    response
}

/// Meta's usage headers; CPU and time shares are reported equal to the call share.
fn usage_headers(ig_id: &str, usage: Usage) -> (Value, Value) {
    let p = usage.percent;
    let buc = json!({ ig_id: [{
        "type": "instagram",
        "call_count": p,
        "total_cputime": p,
        "total_time": p,
        "estimated_time_to_regain_access": usage.regain_minutes,
    }]});
    let app = json!({ "call_count": p, "total_cputime": p, "total_time": p });
    (buc, app)
}

fn ok() -> Json<Value> {
    Json(json!({ "ok": true }))
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

async fn health() -> Json<Value> {
    ok()
}

#[derive(Debug, Deserialize)]
struct TokenBody {
    ig_id: Option<String>,
    token: Option<String>,
}

/// `{"ig_id","token"}` sets the account's token; `{"token"}` alone sets the default token; `{}` removes it.
async fn set_token(State(sim): State<Simulator>, Json(body): Json<TokenBody>) -> Response {
    match (body.ig_id, body.token) {
        (Some(ig_id), Some(token)) => sim.set_token(&ig_id, &token),
        (None, token) => sim.set_default_token(token.as_deref()),
        (Some(_), None) => return bad_request("token is required with ig_id"),
    }
    ok().into_response()
}

#[derive(Debug, Deserialize)]
struct ExpireBody {
    token: String,
}

async fn expire_token(State(sim): State<Simulator>, Json(body): Json<ExpireBody>) -> Json<Value> {
    sim.expire_token(&body.token);
    ok()
}

async fn register_comment(
    State(sim): State<Simulator>,
    Json(spec): Json<CommentSpec>,
) -> Json<Value> {
    sim.register_comment(spec);
    ok()
}

#[derive(Debug, Deserialize)]
struct EndLiveBody {
    media_id: Option<String>,
    comment_id: Option<String>,
}

async fn end_live(State(sim): State<Simulator>, Json(body): Json<EndLiveBody>) -> Response {
    if body.media_id.is_none() && body.comment_id.is_none() {
        return bad_request("media_id or comment_id is required");
    }
    if let Some(media_id) = body.media_id {
        sim.end_live_media(&media_id);
    }
    if let Some(comment_id) = body.comment_id {
        sim.end_live_comment(&comment_id);
    }
    ok().into_response()
}

async fn clock(State(sim): State<Simulator>) -> Json<Value> {
    Json(json!({ "now": sim.now() }))
}

#[derive(Debug, Deserialize)]
struct AdvanceBody {
    seconds: u64,
}

async fn advance_clock(State(sim): State<Simulator>, Json(body): Json<AdvanceBody>) -> Json<Value> {
    sim.advance_clock(Duration::from_secs(body.seconds));
    Json(json!({ "now": sim.now() }))
}

async fn add_fault(State(sim): State<Simulator>, Json(fault): Json<Fault>) -> Json<Value> {
    sim.inject(fault);
    ok()
}

async fn clear_faults(State(sim): State<Simulator>) -> Json<Value> {
    sim.clear_faults();
    ok()
}

async fn log(State(sim): State<Simulator>) -> Response {
    Json(sim.log()).into_response()
}

async fn replies(State(sim): State<Simulator>) -> Response {
    Json(sim.replies()).into_response()
}

async fn public_replies(State(sim): State<Simulator>) -> Response {
    Json(sim.public_replies()).into_response()
}

#[derive(Debug, Deserialize)]
struct MessagesQuery {
    ig_id: Option<String>,
    recipient_id: Option<String>,
}

/// The Send API messages delivered, in order; `?ig_id=...&recipient_id=...` narrows them to one account and
/// person (either alone too).
async fn messages(State(sim): State<Simulator>, Query(q): Query<MessagesQuery>) -> Response {
    let listed: Vec<_> = sim
        .messages()
        .into_iter()
        .filter(|m| q.ig_id.as_ref().is_none_or(|id| *id == m.ig_id))
        .filter(|m| {
            q.recipient_id
                .as_ref()
                .is_none_or(|id| *id == m.recipient_id)
        })
        .collect();
    Json(listed).into_response()
}

/// Plays a person's answer; `404` when the comment named has no delivered private reply, `400` for the other
/// refusals, each with its reason.
async fn person_answers(
    State(sim): State<Simulator>,
    Json(answer): Json<PersonAnswer>,
) -> Response {
    match sim.person_answers(answer).await {
        Ok(answered) => Json(answered).into_response(),
        Err(e @ PersonAnswerError::NoPrivateReply { .. }) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
        Err(e) => bad_request(&e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
struct WebhookBody {
    url: String,
    app_secret: String,
    #[serde(default)]
    echoes: bool,
}

/// `{"url","app_secret","echoes"?}`: where notifications go from now on.
async fn set_webhook(State(sim): State<Simulator>, Json(body): Json<WebhookBody>) -> Response {
    if body.url.trim().is_empty() || body.app_secret.is_empty() {
        return bad_request("url and app_secret must not be empty");
    }
    sim.set_webhook(Some(WebhookTarget {
        url: body.url.trim().to_owned(),
        app_secret: body.app_secret,
        echoes: body.echoes,
    }));
    ok().into_response()
}

async fn remove_webhook(State(sim): State<Simulator>) -> Json<Value> {
    sim.set_webhook(None);
    ok()
}

async fn reset(State(sim): State<Simulator>) -> Json<Value> {
    sim.reset();
    ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_oauth_schemes_carry_the_token() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer_token(&h).as_deref(), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("OAuth xyz"));
        assert_eq!(bearer_token(&h).as_deref(), Some("xyz"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic xyz"));
        assert_eq!(bearer_token(&h), None);
    }

    #[test]
    fn usage_headers_are_keyed_by_account() {
        let (buc, app) = usage_headers(
            "178",
            Usage {
                percent: 100,
                regain_minutes: 7,
            },
        );
        assert_eq!(buc["178"][0]["type"], "instagram");
        assert_eq!(buc["178"][0]["call_count"], 100);
        assert_eq!(buc["178"][0]["estimated_time_to_regain_access"], 7);
        assert_eq!(app["call_count"], 100);
    }
}
