//! Faults a test orders in advance: the failures Meta produces rarely and unpredictably (5xx, slow or lost
//! responses, dropped connections, throttling, blocked accounts) made to happen on the next matching request.
//! The same type is the JSON body of `POST /_sim/faults`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One fault, with the requests it applies to and how many times it fires.
///
/// JSON: `{"kind":"graph_error","code":190,"subcode":460,"ig_id":"178...","comment_id":"180...","times":1}`;
/// `ig_id`/`comment_id`/`recipient_id` absent = any, `times` absent = every matching request until cleared,
/// `endpoint` absent = `messages` (private replies), `"public_replies"` = `POST /{comment_id}/replies` instead,
/// `"send_api"` = messages to a person (`recipient.id`). A fault applies to one endpoint only, so that faults
/// ordered for private replies never touch the other endpoints and vice versa.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default, skip_serializing_if = "Endpoint::is_messages")]
    pub endpoint: Endpoint,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ig_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment_id: Option<String>,
    /// The person (IGSID) a Send API message is for. Only Send API calls name one, so a fault narrowed to a
    /// recipient applies to nothing else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    #[serde(flatten)]
    pub kind: FaultKind,
}

/// Which of Meta's endpoints a [`Fault`] applies to. `subscribed_apps` and the `GET` of public replies take no
/// faults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST /{version}/{ig_id}/messages`, the private reply: every fault's target unless told otherwise.
    #[default]
    Messages,
    /// `POST /{version}/{comment_id}/replies`, the public reply. `process`/`deliver` there mean the reply is
    /// published (and recorded) before the answer fails.
    PublicReplies,
    /// `POST /{version}/{ig_id}/messages` with `recipient.id`: a message to a person (the Send API).
    /// `process`/`deliver` there mean the message is delivered (and recorded) before the answer fails.
    SendApi,
}

impl Endpoint {
    fn is_messages(&self) -> bool {
        *self == Self::Messages
    }
}

/// What happens to a request the fault applies to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer `status`. `body`: a JSON value is sent as JSON, a string as plain text; absent = Meta's `code 2`
    /// transient JSON for 500, the plain reason phrase for other 5xx, `code 1` JSON otherwise. `process: true`:
    /// the reply is processed first (sent if it can be), as Meta sometimes does before answering 5xx.
    HttpStatus {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<Value>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        process: bool,
    },
    /// Wait `ms` before answering. `deliver: true`: the reply is processed (and recorded if it succeeds) before
    /// the wait, so a client that times out has still sent it. `deliver: false`: nothing is processed and the
    /// answer after the wait is a transient `503 code 2`.
    Delay {
        ms: u64,
        #[serde(default)]
        deliver: bool,
    },
    /// Read the request, then close the connection without any response. `process: true`: the reply is
    /// processed first (sent, but the client never learns it). Needs [`crate::Simulator::serve`].
    CloseConnection {
        #[serde(default)]
        process: bool,
    },
    /// Answer this Graph API error instead of processing. Unset fields take Meta's usual values for the code;
    /// `estimated_time_to_regain_access` (minutes) goes into `X-Business-Use-Case-Usage` at 100%.
    GraphError {
        code: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subcode: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_transient: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        estimated_time_to_regain_access: Option<u32>,
    },
}

impl FaultKind {
    /// The name used in the request log.
    /// What the log records of a request answered `status` under `fault`: the status the client saw (none
    /// when the connection was closed on it) and the fault's label.
    pub(crate) fn logged(fault: Option<&Self>, status: u16) -> (Option<u16>, Option<&'static str>) {
        let closed = matches!(fault, Some(Self::CloseConnection { .. }));
        ((!closed).then_some(status), fault.map(Self::label))
    }

    pub(crate) fn label(&self) -> &'static str {
        match self {
            Self::HttpStatus { .. } => "http_status",
            Self::Delay { .. } => "delay",
            Self::CloseConnection { .. } => "close_connection",
            Self::GraphError { .. } => "graph_error",
        }
    }
}

impl Fault {
    /// Applies to every request until cleared; narrow it with the builder methods.
    pub fn new(kind: FaultKind) -> Self {
        Self {
            endpoint: Endpoint::Messages,
            ig_id: None,
            comment_id: None,
            recipient_id: None,
            times: None,
            kind,
        }
    }

    pub fn graph_error(code: u32, subcode: Option<u32>) -> Self {
        Self::new(FaultKind::GraphError {
            code,
            subcode,
            message: None,
            status: None,
            is_transient: None,
            estimated_time_to_regain_access: None,
        })
    }

    pub fn http_status(status: u16) -> Self {
        Self::new(FaultKind::HttpStatus {
            status,
            body: None,
            process: false,
        })
    }

    /// `status` after the reply was processed: it went out, but the answer says it failed.
    pub fn http_status_after_processing(status: u16) -> Self {
        Self::new(FaultKind::HttpStatus {
            status,
            body: None,
            process: true,
        })
    }

    pub fn delay(wait: Duration, deliver: bool) -> Self {
        let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        Self::new(FaultKind::Delay { ms, deliver })
    }

    pub fn close_connection(process: bool) -> Self {
        Self::new(FaultKind::CloseConnection { process })
    }

    /// Fire `n` times, then disappear.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    pub fn once(self) -> Self {
        self.times(1)
    }

    pub fn for_account(mut self, ig_id: impl Into<String>) -> Self {
        self.ig_id = Some(ig_id.into());
        self
    }

    pub fn for_comment(mut self, comment_id: impl Into<String>) -> Self {
        self.comment_id = Some(comment_id.into());
        self
    }

    /// Aims the fault at `endpoint` instead of private replies.
    pub fn on(mut self, endpoint: Endpoint) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// Aims the fault at public replies (`POST /{comment_id}/replies`), where `ig_id` is the replying account.
    pub fn on_public_replies(self) -> Self {
        self.on(Endpoint::PublicReplies)
    }

    /// Aims the fault at messages to a person (the Send API, `recipient.id`), where `ig_id` is the sending
    /// account.
    pub fn on_send_api(self) -> Self {
        self.on(Endpoint::SendApi)
    }

    /// Narrows the fault to Send API messages for this person (IGSID).
    pub fn for_recipient(mut self, igsid: impl Into<String>) -> Self {
        self.recipient_id = Some(igsid.into());
        self
    }

    pub(crate) fn matches(&self, endpoint: Endpoint, target: &Target<'_>) -> bool {
        let narrowed = |want: Option<&str>, got: Option<&str>| want.is_none_or(|w| Some(w) == got);
        self.endpoint == endpoint
            && self
                .ig_id
                .as_deref()
                .is_none_or(|want| want == target.ig_id)
            && narrowed(self.comment_id.as_deref(), target.comment_id)
            && narrowed(self.recipient_id.as_deref(), target.recipient_id)
    }
}

/// What a request is about, as a [`Fault`] narrows it: the account, and the comment or the person when the
/// endpoint names one.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Target<'a> {
    pub ig_id: &'a str,
    pub comment_id: Option<&'a str>,
    pub recipient_id: Option<&'a str>,
}

impl<'a> Target<'a> {
    pub(crate) fn comment(ig_id: &'a str, comment_id: Option<&'a str>) -> Self {
        Self {
            ig_id,
            comment_id,
            recipient_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_reads_from_flat_json() {
        let f: Fault = serde_json::from_str(
            r#"{"kind":"graph_error","code":551,"subcode":1545041,"comment_id":"c1","times":2}"#,
        )
        .expect("valid fault");
        assert_eq!(
            f,
            Fault::graph_error(551, Some(1545041))
                .for_comment("c1")
                .times(2)
        );
    }

    #[test]
    fn a_fault_narrowed_to_a_comment_skips_other_comments_and_accounts() {
        let f = Fault::http_status(500).for_account("a").for_comment("c1");
        let m = Endpoint::Messages;
        assert!(f.matches(m, &Target::comment("a", Some("c1"))));
        assert!(!f.matches(m, &Target::comment("a", Some("c2"))));
        assert!(!f.matches(m, &Target::comment("b", Some("c1"))));
        assert!(!f.matches(m, &Target::comment("a", None)));
        assert!(Fault::http_status(500).matches(m, &Target::comment("any", None)));
    }

    #[test]
    fn a_fault_applies_to_private_replies_unless_aimed_at_public_ones() {
        let private = Fault::http_status(500);
        let public = Fault::http_status(500).on_public_replies();
        let send = Fault::http_status(500).on_send_api();
        let c1 = Target::comment("a", Some("c1"));
        assert!(private.matches(Endpoint::Messages, &c1));
        assert!(!private.matches(Endpoint::PublicReplies, &c1));
        assert!(!private.matches(Endpoint::SendApi, &c1));
        assert!(public.matches(Endpoint::PublicReplies, &c1));
        assert!(!public.matches(Endpoint::Messages, &c1));
        assert!(send.matches(Endpoint::SendApi, &c1));
        assert!(!send.matches(Endpoint::Messages, &c1));
    }

    #[test]
    fn a_fault_narrowed_to_a_recipient_applies_to_messages_for_that_person_only() {
        let f = Fault::graph_error(551, None)
            .on_send_api()
            .for_recipient("p1");
        let to = |igsid| Target {
            ig_id: "a",
            comment_id: None,
            recipient_id: Some(igsid),
        };
        assert!(f.matches(Endpoint::SendApi, &to("p1")));
        assert!(!f.matches(Endpoint::SendApi, &to("p2")));
        assert!(!f.matches(Endpoint::SendApi, &Target::comment("a", None)));
        let json: Fault = serde_json::from_str(
            r#"{"kind":"graph_error","code":551,"endpoint":"send_api","recipient_id":"p1"}"#,
        )
        .expect("valid fault");
        assert_eq!(json, f);
    }

    #[test]
    fn the_endpoint_reads_from_json_and_defaults_to_messages() {
        let f: Fault = serde_json::from_str(
            r#"{"kind":"http_status","status":500,"endpoint":"public_replies"}"#,
        )
        .expect("valid fault");
        assert_eq!(f, Fault::http_status(500).on_public_replies());
        let json = serde_json::to_value(Fault::http_status(500)).expect("serializable");
        assert!(json.get("endpoint").is_none());
    }
}
