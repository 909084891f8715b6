//! The wire format: a reply request read leniently from its body, the answer to send back (still independent
//! of the HTTP framework; `http` renders it), and the serde types of the control routes and the log. Shapes
//! only, no rule, so that the rules read as decisions and the shapes can be tested without a simulator.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::errors::GraphError;
use crate::rate::Usage;

/// A comment the simulator should know about. JSON body of `POST /_sim/comments`; `created_at` there is
/// RFC 3339 or unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentSpec {
    pub comment_id: String,
    /// The account the comment was made on.
    pub ig_id: String,
    /// The commenter's IGSID, returned as `recipient_id`; derived from the comment ID when absent.
    #[serde(default)]
    pub commenter_id: Option<String>,
    /// Absent = now (simulated).
    #[serde(default, deserialize_with = "rfc3339_or_unix")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub media_id: Option<String>,
    /// `FEED`, `REELS`, `STORY`, `AD`, `LIVE`…; `LIVE` makes the comment a Live comment.
    #[serde(default)]
    pub media_product_type: Option<String>,
    /// A Live comment: replies only while the broadcast lasts, counted against the per-second budget.
    #[serde(default)]
    pub live: bool,
}

impl CommentSpec {
    pub fn new(comment_id: impl Into<String>, ig_id: impl Into<String>) -> Self {
        Self {
            comment_id: comment_id.into(),
            ig_id: ig_id.into(),
            commenter_id: None,
            created_at: None,
            media_id: None,
            media_product_type: None,
            live: false,
        }
    }

    pub fn created_at(mut self, at: DateTime<Utc>) -> Self {
        self.created_at = Some(at);
        self
    }

    /// A comment on the Live broadcast `media_id`.
    pub fn live_on(mut self, media_id: impl Into<String>) -> Self {
        self.media_id = Some(media_id.into());
        self.media_product_type = Some("LIVE".into());
        self.live = true;
        self
    }
}

/// One request to the messages (private replies or the Send API), subscribed_apps or replies endpoint, in
/// arrival order. Never holds the token, only its fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest {
    pub seq: u64,
    /// `messages` (private replies), `send_api` (messages to a person, on the same path), `subscribed_apps` or
    /// `replies` (public replies to a comment, `POST` or `GET`: see `method`).
    #[serde(default = "messages_endpoint")]
    pub endpoint: String,
    /// `POST`, or `GET` for the list of a comment's public replies.
    #[serde(default = "post_method")]
    pub method: String,
    /// Simulated time of arrival.
    pub at: DateTime<Utc>,
    pub version: String,
    /// The account: the path's for `messages` and `subscribed_apps`; for `replies`, the replying account (the
    /// comment's, or the token's own), empty when neither is known.
    pub ig_id: String,
    pub comment_id: Option<String>,
    /// The person a `send_api` message is for (their IGSID, `recipient.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_id: Option<String>,
    pub token_fingerprint: Option<String>,
    /// UTF-8 bytes.
    pub text_len: Option<usize>,
    pub text: Option<String>,
    /// HTTP status answered; `None` when the connection was closed instead.
    pub status: Option<u16>,
    pub code: Option<u32>,
    pub subcode: Option<u32>,
    /// Set when the private reply or the Send API message was delivered (never for public replies: see
    /// `reply_id`).
    pub message_id: Option<String>,
    /// The new comment's ID, set when a public reply was published (even if its answer was then lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_id: Option<String>,
    /// The injected fault that applied, if any (`http_status`, `delay`, `close_connection`, `graph_error`).
    pub fault: Option<String>,
    /// The `subscribed_fields` of a `subscribed_apps` request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribed_fields: Option<Vec<String>>,
}

fn messages_endpoint() -> String {
    ENDPOINT_MESSAGES.to_owned()
}

fn post_method() -> String {
    METHOD_POST.to_owned()
}

/// The `endpoint` of a [`LoggedRequest`].
pub(crate) const ENDPOINT_MESSAGES: &str = "messages";
pub(crate) const ENDPOINT_SUBSCRIBED_APPS: &str = "subscribed_apps";
pub(crate) const ENDPOINT_REPLIES: &str = "replies";
pub(crate) const ENDPOINT_SEND_API: &str = "send_api";
/// The `method` of a [`LoggedRequest`].
pub(crate) const METHOD_POST: &str = "POST";
pub(crate) const METHOD_GET: &str = "GET";

/// The webhook fields an Instagram account can subscribe an app to (Instagram webhooks reference).
pub const SUBSCRIBABLE_FIELDS: &[&str] = &[
    "comments",
    "live_comments",
    "mentions",
    "message_edit",
    "message_reactions",
    "messages",
    "messaging_handover",
    "messaging_optins",
    "messaging_postbacks",
    "messaging_referral",
    "messaging_seen",
    "standby",
    "story_insights",
];

/// A private reply that reached the commenter (at most one per comment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveredReply {
    pub comment_id: String,
    pub ig_id: String,
    pub recipient_id: String,
    pub message_id: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// A message delivered to a person through the Send API (`POST /{version}/{ig_id}/messages` with
/// `recipient.id`), inside their 24-hour messaging window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveredMessage {
    /// The sending account.
    pub ig_id: String,
    /// The person's IGSID.
    pub recipient_id: String,
    pub message_id: String,
    /// What the person reads: `message.text`, or the button template's text.
    pub text: String,
    /// The button template's buttons, in order; empty for a text message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<UrlButton>,
    /// Simulated time of delivery.
    pub at: DateTime<Utc>,
}

/// A person writing to an account, played by the simulator (the commenter answering the private reply, or
/// anyone). JSON body of `POST /_sim/person_answers`. The person is `igsid`, or the recipient of the private
/// reply delivered to `comment_id` (both: they must agree).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonAnswer {
    /// The account written to.
    pub ig_id: String,
    #[serde(default)]
    pub igsid: Option<String>,
    #[serde(default)]
    pub comment_id: Option<String>,
    pub text: String,
    /// How long before the simulated now the person wrote (their window then closes that much earlier);
    /// absent = now.
    #[serde(default)]
    pub seconds_ago: Option<u64>,
}

impl PersonAnswer {
    /// Person `igsid` writes `text` to account `ig_id`.
    pub fn from_person(
        ig_id: impl Into<String>,
        igsid: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Self {
            ig_id: ig_id.into(),
            igsid: Some(igsid.into()),
            comment_id: None,
            text: text.into(),
            seconds_ago: None,
        }
    }

    /// The commenter whose comment `comment_id` got the account's private reply answers it with `text`.
    pub fn to_private_reply(
        ig_id: impl Into<String>,
        comment_id: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Self {
            ig_id: ig_id.into(),
            igsid: None,
            comment_id: Some(comment_id.into()),
            text: text.into(),
            seconds_ago: None,
        }
    }

    /// The person wrote `ago` before the simulated now (whole seconds).
    pub fn ago(mut self, ago: std::time::Duration) -> Self {
        self.seconds_ago = Some(ago.as_secs());
        self
    }
}

/// What [`crate::Simulator::person_answers`] did: the message recorded, and how the webhook took its
/// notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonAnswered {
    pub ig_id: String,
    /// The person who wrote.
    pub igsid: String,
    /// The new message's ID (`message.mid` in the notification).
    pub mid: String,
    /// When the person wrote (simulated): their messaging window runs 24 hours from here.
    pub at: DateTime<Utc>,
    /// The HTTP status the webhook answered; `None` when no webhook is set or it gave no answer.
    pub webhook_status: Option<u16>,
    /// Why the webhook gave no answer (timed out, unreachable), when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_error: Option<String>,
}

/// One `web_url` button of a button template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlButton {
    pub url: String,
    pub title: String,
}

/// A public reply published with `POST /{version}/{comment_id}/replies`: any number per comment, since Meta
/// refuses none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicReply {
    /// The comment replied to.
    pub comment_id: String,
    /// The replying account (whose token the request carried).
    pub ig_id: String,
    /// The new comment's ID, as answered in `{"id": ...}`.
    pub reply_id: String,
    pub text: String,
    /// Simulated time of publication.
    pub at: DateTime<Utc>,
}

/// A request to `POST /{version}/{comment_id}/replies`. Meta reads `message` and `access_token` from the
/// query or the body (form-encoded or JSON), the body winning; the token also from `Authorization`.
#[derive(Debug, Clone, Default)]
pub(crate) struct PublicReplyCall {
    pub version: String,
    pub comment_id: String,
    pub token: Option<String>,
    pub text: Option<String>,
}

impl PublicReplyCall {
    /// `token` comes from the `Authorization` header; the `access_token` parameter is the fallback.
    pub fn parse(
        version: String,
        comment_id: String,
        token: Option<String>,
        query: &HashMap<String, String>,
        body: &[u8],
    ) -> Self {
        let params = body_params(body);
        let param = |name: &str| params.get(name).or_else(|| query.get(name)).cloned();
        Self {
            token: token.or_else(|| param("access_token")),
            text: param("message"),
            version,
            comment_id,
        }
    }
}

/// The parameters of a body: a JSON object's string (or number) members, or else `a=b&c=d` form fields.
fn body_params(body: &[u8]) -> HashMap<String, String> {
    if let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) {
        return obj
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                Value::Number(n) => Some((k, n.to_string())),
                _ => None,
            })
            .collect();
    }
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            (form_decode(k), form_decode(v))
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; invalid UTF-8 is replaced.
fn form_decode(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        let hex = raw
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `fields` of `GET /{version}/{comment_id}/replies`: comma-separated, blanks dropped; `id,text` when
/// absent, as Meta's default.
pub(crate) fn parse_reply_fields(raw: Option<&str>) -> Vec<String> {
    match raw.map(parse_subscribed_fields) {
        Some(fields) if !fields.is_empty() => fields,
        _ => vec!["id".to_owned(), "text".to_owned()],
    }
}

/// A request to `POST /{version}/{ig_id}/messages`, told apart by its recipient: a private reply names a
/// `comment_id`, a message to a person (the Send API) an `id` (IGSID) and no `comment_id`. Anything else is
/// read as a private reply, whose checks then word what is wrong.
#[derive(Debug, Clone)]
pub(crate) enum MessagesCall {
    PrivateReply(ReplyCall),
    SendApi(SendCall),
}

impl MessagesCall {
    /// `token` comes from the `Authorization` header or the query; an `access_token` body field is the fallback.
    pub fn parse(version: String, ig_id: String, token: Option<String>, body: &[u8]) -> Self {
        let params = MessagesParams::parse(body);
        let to_person = params.as_ref().is_some_and(|p| {
            p.recipient
                .as_ref()
                .is_some_and(|r| r.get("comment_id").is_none() && r.get("id").is_some())
        });
        if to_person {
            Self::SendApi(SendCall::from_params(version, ig_id, token, params))
        } else {
            Self::PrivateReply(ReplyCall::from_params(version, ig_id, token, params))
        }
    }
}

/// The parameters of a `POST .../messages` JSON body, each also accepted as a JSON-encoded string, as Meta does.
#[derive(Debug, Clone)]
struct MessagesParams {
    access_token: Option<String>,
    recipient: Option<Value>,
    message: Option<Value>,
}

impl MessagesParams {
    /// `None` when the body is not a JSON object.
    fn parse(body: &[u8]) -> Option<Self> {
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
            return None;
        };
        let param = |name: &str| match body.get(name) {
            Some(Value::String(s)) => serde_json::from_str::<Value>(s).ok(),
            other => other.cloned(),
        };
        Some(Self {
            access_token: body
                .get("access_token")
                .and_then(Value::as_str)
                .map(str::to_owned),
            recipient: param("recipient"),
            message: param("message"),
        })
    }
}

/// A string or a number (Meta's IDs come as either), as a string.
fn id_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

const NOT_AN_OBJECT: &str = "(#100) The request body must be a JSON object";

/// A request to `POST /{version}/{ig_id}/messages` for a private reply, read leniently so that even a
/// malformed one can be logged and matched against faults.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReplyCall {
    pub version: String,
    pub ig_id: String,
    pub token: Option<String>,
    pub comment_id: Option<String>,
    pub text: Option<String>,
    /// Why the body does not have the expected shape, as Meta would word it.
    pub shape_error: Option<&'static str>,
}

impl ReplyCall {
    /// `token` comes from the `Authorization` header or the query; an `access_token` body field is the fallback.
    #[cfg(test)]
    pub fn parse(version: String, ig_id: String, token: Option<String>, body: &[u8]) -> Self {
        Self::from_params(version, ig_id, token, MessagesParams::parse(body))
    }

    fn from_params(
        version: String,
        ig_id: String,
        token: Option<String>,
        params: Option<MessagesParams>,
    ) -> Self {
        let mut call = Self {
            version,
            ig_id,
            token,
            ..Self::default()
        };
        let Some(params) = params else {
            call.shape_error = Some(NOT_AN_OBJECT);
            return call;
        };
        call.token = call.token.or(params.access_token);
        let (recipient, message) = (params.recipient, params.message);
        call.comment_id = recipient
            .as_ref()
            .and_then(|r| r.get("comment_id"))
            .and_then(id_value);
        call.text = message
            .as_ref()
            .and_then(|m| m.get("text"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        call.shape_error = match (&recipient, &call.comment_id, &message, &call.text) {
            (None, ..) => Some("(#100) The parameter recipient is required"),
            (_, None, ..) => Some("(#100) Param recipient[comment_id] must be a valid comment ID"),
            (_, _, None, _) => Some("(#100) The parameter message is required"),
            (.., None) => Some("(#100) Param message[text] must be a UTF-8 encoded string"),
            _ => None,
        };
        call
    }
}

/// A request to `POST /{version}/{ig_id}/messages` for a person (`recipient.id`, the Send API). The message is
/// kept as sent (`text`, or the `attachment` object): which ones Meta accepts is a rule, in `rules::send_api`.
#[derive(Debug, Clone, Default)]
pub(crate) struct SendCall {
    pub version: String,
    pub ig_id: String,
    pub token: Option<String>,
    /// The person's IGSID.
    pub recipient_id: Option<String>,
    /// `message.text`, when it is a string.
    pub text: Option<String>,
    /// `message.attachment`, as sent.
    pub attachment: Option<Value>,
    /// Why the body does not have the expected shape, as Meta would word it.
    pub shape_error: Option<&'static str>,
}

impl SendCall {
    fn from_params(
        version: String,
        ig_id: String,
        token: Option<String>,
        params: Option<MessagesParams>,
    ) -> Self {
        let mut call = Self {
            version,
            ig_id,
            token,
            ..Self::default()
        };
        let Some(params) = params else {
            call.shape_error = Some(NOT_AN_OBJECT);
            return call;
        };
        call.token = call.token.or(params.access_token);
        call.recipient_id = params
            .recipient
            .as_ref()
            .and_then(|r| r.get("id"))
            .and_then(id_value);
        let message = params.message;
        call.text = message
            .as_ref()
            .and_then(|m| m.get("text"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        call.attachment = message.as_ref().and_then(|m| m.get("attachment")).cloned();
        let has_text = message.as_ref().is_some_and(|m| m.get("text").is_some());
        call.shape_error = match (&call.recipient_id, &message) {
            (None, _) => Some("(#100) Param recipient[id] must be a valid Instagram-scoped ID"),
            (_, None) => Some("(#100) The parameter message is required"),
            _ if has_text && call.attachment.is_some() => {
                Some("(#100) Only one of message[text] and message[attachment] may be set")
            }
            _ if has_text && call.text.is_none() => {
                Some("(#100) Param message[text] must be a UTF-8 encoded string")
            }
            _ if !has_text && call.attachment.is_none() => {
                Some("(#100) Param message must have text or an attachment")
            }
            _ => None,
        };
        call
    }
}

/// The `subscribed_fields` parameter of `POST /{version}/{ig_id}/subscribed_apps`: comma-separated names,
/// blanks dropped.
pub(crate) fn parse_subscribed_fields(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What to send back, independent of the HTTP framework.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: AnswerBody,
    /// For `X-Business-Use-Case-Usage` / `X-App-Usage`; `None` when the call was not attributed to the account.
    pub usage: Option<Usage>,
    pub code: Option<u32>,
    pub subcode: Option<u32>,
    /// What the call created, even when the answer says otherwise: the private reply's message ID, or the
    /// public reply's new comment ID.
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnswerBody {
    Json(Value),
    Text(String),
    /// No response: the connection is closed.
    None,
}

impl Answer {
    /// `body` with `status`, and neither usage, error code nor message ID.
    pub(crate) fn new(status: u16, body: AnswerBody) -> Self {
        Self {
            status,
            body,
            usage: None,
            code: None,
            subcode: None,
            message_id: None,
        }
    }

    pub(crate) fn error(e: GraphError, usage: Option<Usage>) -> Self {
        Self {
            usage,
            code: Some(e.code),
            subcode: e.subcode,
            ..Self::new(e.status, AnswerBody::Json(e.body()))
        }
    }

    pub(crate) fn closed() -> Self {
        Self::new(0, AnswerBody::None)
    }

    pub(crate) fn http_status(status: u16, body: Option<&Value>) -> Self {
        let body = match body {
            Some(Value::String(text)) => AnswerBody::Text(text.clone()),
            Some(json) => AnswerBody::Json(json.clone()),
            None if status == 500 => AnswerBody::Json(GraphError::new(2, None).body()),
            None if status >= 500 => AnswerBody::Text(reason_phrase(status).to_owned()),
            None => AnswerBody::Json(GraphError::new(1, None).body()),
        };
        let field = |name: &str| match &body {
            AnswerBody::Json(v) => v["error"][name]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok()),
            _ => None,
        };
        let (code, subcode) = (field("code"), field("error_subcode"));
        Self {
            code,
            subcode,
            ..Self::new(status, body)
        }
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Server Error",
    }
}

fn rfc3339_or_unix<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum When {
        Unix(i64),
        Text(String),
    }
    match Option::<When>::deserialize(d)? {
        None => Ok(None),
        Some(When::Unix(secs)) => DateTime::from_timestamp(secs, 0)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("unix seconds out of range")),
        Some(When::Text(s)) => DateTime::parse_from_rfc3339(&s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IG: &str = "17841401906857599";

    #[test]
    fn a_body_may_carry_parameters_as_json_encoded_strings() {
        let body = br#"{"recipient":"{\"comment_id\":\"c1\"}","message":"{\"text\":\"hi\"}","access_token":"t"}"#;
        let c = ReplyCall::parse("v25.0".into(), IG.into(), None, body);
        assert_eq!(c.comment_id.as_deref(), Some("c1"));
        assert_eq!(c.text.as_deref(), Some("hi"));
        assert_eq!(c.token.as_deref(), Some("t"));
        assert_eq!(c.shape_error, None);
    }

    #[test]
    fn a_public_reply_reads_form_json_or_query_parameters() {
        let query = HashMap::from([
            ("message".to_owned(), "from query".to_owned()),
            ("access_token".to_owned(), "q".to_owned()),
        ]);
        let form = PublicReplyCall::parse(
            "v25.0".into(),
            "c1".into(),
            None,
            &query,
            b"message=Thanks+%F0%9F%98%8D+a%26b&access_token=t",
        );
        assert_eq!(form.text.as_deref(), Some("Thanks 😍 a&b"));
        assert_eq!(form.token.as_deref(), Some("t"));
        let json = PublicReplyCall::parse(
            "v25.0".into(),
            "c1".into(),
            Some("h".into()),
            &HashMap::new(),
            br#"{"message":"hi","access_token":"t"}"#,
        );
        assert_eq!(json.text.as_deref(), Some("hi"));
        assert_eq!(json.token.as_deref(), Some("h"));
        let q = PublicReplyCall::parse("v25.0".into(), "c1".into(), None, &query, b"");
        assert_eq!(q.text.as_deref(), Some("from query"));
        assert_eq!(q.token.as_deref(), Some("q"));
    }

    #[test]
    fn form_decoding_keeps_malformed_escapes_as_they_are() {
        assert_eq!(form_decode(b"100%25+%zz%4"), "100% %zz%4");
    }

    #[test]
    fn created_at_reads_rfc3339_or_unix_seconds() {
        let a: CommentSpec = serde_json::from_str(
            r#"{"comment_id":"c","ig_id":"i","created_at":"2026-07-01T00:00:00Z"}"#,
        )
        .expect("rfc3339");
        let b: CommentSpec =
            serde_json::from_str(r#"{"comment_id":"c","ig_id":"i","created_at":1782864000}"#)
                .expect("unix");
        assert_eq!(a.created_at, b.created_at);
        assert!(a.created_at.is_some());
    }
}
