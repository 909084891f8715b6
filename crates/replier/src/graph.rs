//! The calls to Meta: the private reply, `POST {host}/{version}/{id}/messages` with the comment ID as
//! recipient (PLATFORM.md section 5), and the comment's public replies, `POST`/`GET
//! {host}/{version}/{comment_id}/replies` (section 9). This module only tells apart what happened on the wire; what it means for the
//! comment is decided in [`crate::classify`]. The body is built from a struct so that its field order is
//! exactly Meta's example, and neither the token nor the text is ever logged.

use crate::config::ReplierConfig;
use crate::ports::ReplySender;
use crate::tokens::SendTarget;
use crate::usage::{APP_USAGE_HEADER, BUSINESS_USE_CASE_HEADER, Usage};
use async_trait::async_trait;
use reply_core::lifecycle::StatusReason;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Meta's error object (`{"error": {...}}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphError {
    pub code: u32,
    pub subcode: Option<u32>,
    pub message: Option<String>,
    pub kind: Option<String>,
    pub fbtrace_id: Option<String>,
    pub is_transient: Option<bool>,
    /// Minutes, when the error body carries it (some throttling errors do).
    pub regain_minutes: Option<u32>,
}

impl GraphError {
    /// Reads `{"error": {...}}`; `None` unless it has a numeric `code`.
    pub fn from_body(body: &[u8]) -> Option<Self> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let error = value.get("error")?;
        let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_owned);
        Some(Self {
            code: crate::usage::number(error.get("code")?)?,
            subcode: error.get("error_subcode").and_then(crate::usage::number),
            message: text("message"),
            kind: text("type"),
            fbtrace_id: text("fbtrace_id"),
            is_transient: error.get("is_transient").and_then(Value::as_bool),
            regain_minutes: error
                .get("estimated_time_to_regain_access")
                .or_else(|| {
                    error
                        .get("error_data")
                        .and_then(|d| d.get("estimated_time_to_regain_access"))
                })
                .and_then(crate::usage::number),
        })
    }
}

/// What became of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendResult {
    /// 2xx: Meta accepted the reply.
    Sent {
        recipient_id: Option<String>,
        message_id: Option<String>,
    },
    /// A non-2xx answer; `error` when the body is Meta's error JSON.
    Refused {
        status: u16,
        error: Option<GraphError>,
        usage: Usage,
    },
    /// The request never reached Meta (no connection could be made): certainly not sent.
    NotSent { reason: StatusReason },
    /// The request went out but no answer came back (timeout, connection dropped, unreadable 2xx body):
    /// the reply may have been delivered.
    Ambiguous { reason: StatusReason },
}

#[derive(Serialize)]
struct Recipient<'a> {
    comment_id: &'a str,
}

#[derive(Serialize)]
struct Message<'a> {
    text: &'a str,
}

/// `{"recipient":{"comment_id":"..."},"message":{"text":"..."}}`, in this order.
#[derive(Serialize)]
struct ReplyBody<'a> {
    recipient: Recipient<'a>,
    message: Message<'a>,
}

#[derive(Deserialize)]
struct SentBody {
    #[serde(default)]
    recipient_id: Option<String>,
    #[serde(default)]
    message_id: Option<String>,
}

/// The HTTP client for Meta, built once per cold start.
#[derive(Debug, Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base_url: String,
    version: String,
}

impl GraphClient {
    /// One connection pool for the container's life, with the configured timeouts.
    pub fn from_config(config: &ReplierConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.http_connect_timeout)
            .timeout(config.http_timeout)
            .user_agent(concat!("ig-private-replies/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self::new(http, config))
    }

    pub fn new(http: reqwest::Client, config: &ReplierConfig) -> Self {
        Self {
            http,
            base_url: config.graph_api_url.clone(),
            version: config.graph_api_version.clone(),
        }
    }

    /// The URL a reply for `target` goes to.
    pub fn url_for(&self, target: &SendTarget) -> String {
        let base = target.host.as_deref().unwrap_or(&self.base_url);
        format!("{base}/{}/{}/messages", self.version, target.path_id)
    }
}

/// `{"message": "..."}`: the public reply.
#[derive(Serialize)]
struct PublicReplyBody<'a> {
    message: &'a str,
}

#[derive(Deserialize)]
struct PostedBody {
    #[serde(default)]
    id: Option<String>,
}

/// A page of `GET .../replies?fields=id,from`.
#[derive(Deserialize)]
struct RepliesPage {
    #[serde(default)]
    data: Vec<ListedReply>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct ListedReply {
    id: String,
    #[serde(default)]
    from: Option<ListedFrom>,
}

#[derive(Deserialize)]
struct ListedFrom {
    id: String,
}

#[derive(Deserialize)]
struct Paging {
    #[serde(default)]
    next: Option<String>,
}

/// Pages of replies read before giving up: our reply comes within seconds of the comment, so it is among the
/// first; a comment with thousands of replies is not worth reading to the end.
const MAX_REPLY_PAGES: usize = 4;

impl GraphClient {
    fn replies_url(&self, target: &SendTarget, comment_id: &str) -> String {
        let base = target.host.as_deref().unwrap_or(&self.base_url);
        format!("{base}/{}/{comment_id}/replies", self.version)
    }

    /// Sends a request and reads its answer: 2xx bodies go to `parse` (an unreadable one is ambiguous).
    async fn call<T>(
        &self,
        request: reqwest::RequestBuilder,
        target: &SendTarget,
        parse: impl FnOnce(&[u8]) -> T,
    ) -> Result<T, SendResult> {
        let response = match request.bearer_auth(target.token()).send().await {
            Ok(r) => r,
            Err(e) => return Err(transport_failure(&e)),
        };
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let usage = Usage::from_headers(
            header(BUSINESS_USE_CASE_HEADER).as_deref(),
            header(APP_USAGE_HEADER).as_deref(),
        );
        let bytes = response.bytes().await;
        if (200..300).contains(&status) {
            return match bytes {
                Ok(bytes) => Ok(parse(&bytes)),
                Err(_) => Err(SendResult::Ambiguous {
                    reason: StatusReason::ResponseBodyLost,
                }),
            };
        }
        let error = bytes.ok().and_then(|b| GraphError::from_body(&b));
        Err(SendResult::Refused {
            status,
            error,
            usage,
        })
    }
}

#[async_trait]
impl ReplySender for GraphClient {
    async fn post_public_reply(
        &self,
        target: &SendTarget,
        comment_id: &str,
        text: &str,
    ) -> SendResult {
        let request = self
            .http
            .post(self.replies_url(target, comment_id))
            .json(&PublicReplyBody { message: text });
        let posted = self
            .call(request, target, |bytes| {
                serde_json::from_slice::<PostedBody>(bytes)
                    .ok()
                    .and_then(|b| b.id)
            })
            .await;
        match posted {
            Ok(id) => SendResult::Sent {
                recipient_id: None,
                message_id: id,
            },
            Err(failure) => failure,
        }
    }

    async fn public_replies_by(
        &self,
        target: &SendTarget,
        comment_id: &str,
        account_id: &str,
    ) -> Result<Vec<String>, SendResult> {
        let mut found = Vec::new();
        let first = self.replies_url(target, comment_id) + "?fields=id,from&limit=50";
        let mut url = Some(first);
        for _ in 0..MAX_REPLY_PAGES {
            let Some(next) = url.take() else { break };
            let request = self.http.get(&next);
            let page = self
                .call(request, target, |bytes| {
                    serde_json::from_slice::<RepliesPage>(bytes).ok()
                })
                .await?
                // A 2xx we cannot read says nothing either way.
                .ok_or(SendResult::NotSent {
                    reason: StatusReason::ResponseBodyLost,
                })?;
            found.extend(
                page.data
                    .into_iter()
                    .filter(|r| r.from.as_ref().is_some_and(|f| f.id == account_id))
                    .map(|r| r.id),
            );
            if !found.is_empty() {
                break;
            }
            url = page.paging.and_then(|p| p.next);
        }
        Ok(found)
    }

    async fn send(&self, target: &SendTarget, comment_id: &str, text: &str) -> SendResult {
        let body = ReplyBody {
            recipient: Recipient { comment_id },
            message: Message { text },
        };
        let request = self.http.post(self.url_for(target)).json(&body);
        let sent = self
            .call(request, target, |bytes| {
                serde_json::from_slice::<SentBody>(bytes).ok()
            })
            .await;
        match sent {
            Ok(parsed) => SendResult::Sent {
                recipient_id: parsed.as_ref().and_then(|b| b.recipient_id.clone()),
                message_id: parsed.and_then(|b| b.message_id),
            },
            Err(failure) => failure,
        }
    }
}

fn transport_failure(e: &reqwest::Error) -> SendResult {
    // A connect error (including a connect timeout) means nothing was sent; anything later may have been.
    if e.is_connect() {
        SendResult::NotSent {
            reason: StatusReason::ConnectionError,
        }
    } else if e.is_timeout() {
        SendResult::Ambiguous {
            reason: StatusReason::Timeout,
        }
    } else if e.is_builder() {
        SendResult::NotSent {
            reason: StatusReason::InvalidRequest,
        }
    } else {
        SendResult::Ambiguous {
            reason: StatusReason::ConnectionDropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_recipient_then_message_exactly_as_meta_documents() {
        let body = ReplyBody {
            recipient: Recipient {
                comment_id: "18058455121735594",
            },
            message: Message {
                text: "Hi \"ana\" ✨",
            },
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap_or_default(),
            r#"{"recipient":{"comment_id":"18058455121735594"},"message":{"text":"Hi \"ana\" ✨"}}"#
        );
    }

    #[test]
    fn a_graph_error_body_is_read_with_its_subcode_and_trace_id() {
        let body = br#"{"error":{"message":"(#551) This person isn't available right now.","type":"IGApiException","code":551,"error_subcode":1545041,"is_transient":false,"fbtrace_id":"AbCdEf"}}"#;
        let e = GraphError::from_body(body).unwrap_or_default();
        assert_eq!((e.code, e.subcode), (551, Some(1545041)));
        assert_eq!(e.fbtrace_id.as_deref(), Some("AbCdEf"));
        assert_eq!(e.kind.as_deref(), Some("IGApiException"));
        assert_eq!(e.is_transient, Some(false));
    }

    #[test]
    fn bodies_without_a_numeric_error_code_are_not_graph_errors() {
        for body in [
            &b"Service Unavailable"[..],
            b"{}",
            br#"{"error":"x"}"#,
            br#"{"error":{"message":"m"}}"#,
        ] {
            assert_eq!(GraphError::from_body(body), None);
        }
        let quoted =
            GraphError::from_body(br#"{"error":{"code":"613","error_subcode":"2534040"}}"#);
        assert_eq!(
            quoted.map(|e| (e.code, e.subcode)),
            Some((613, Some(2534040)))
        );
    }
}
