//! The rules of a message to a person (the Send API, PLATFORM.md §8): `POST /{version}/{ig_id}/messages` with
//! `{"recipient":{"id":"<IGSID>"},"message":{...}}` answers `{"recipient_id","message_id"}`. Allowed only within
//! 24 hours of the person's last message to the account (the messaging window, `10/2018278` outside it), to a
//! person the account knows (a commenter on one of its comments, or someone who wrote to it), with the same
//! token checks as a private reply. The message is a `text` of at most 1000 bytes, or a button template (text
//! of at most 640 characters, 1-3 `web_url` buttons with an `https` URL and a title of at most 20 characters);
//! anything else is `100`. Counted against its own per-account budget (`613` over it); takes the faults aimed
//! at [`Endpoint::SendApi`].
//!
//! A person's answer, which opens the window, is recorded here too (`record_answer`), as is the echo of a
//! delivery (`echo_of`); posting their notifications is the `webhook` module's.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::{MAX_TEXT_BYTES, State, injected_error};
use crate::config::{SimConfig, WebhookTarget};
use crate::errors::{GraphError, SUB_NO_MATCHING_USER, SUB_OUTSIDE_MESSAGING_WINDOW};
use crate::fault::{Endpoint, FaultKind, Target};
use crate::ids::{message_id, token_fingerprint};
use crate::rate::{Bucket, Limit};
use crate::webhook::MessageEvent;
use crate::wire::{
    Answer, AnswerBody, DeliveredMessage, ENDPOINT_MESSAGES, ENDPOINT_SEND_API, LoggedRequest,
    METHOD_POST, PersonAnswer, SendCall, UrlButton,
};

/// How long after a person's last message the account may message them (Meta's messaging window).
pub const MESSAGING_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Longest text of a button template, in characters.
pub const MAX_TEMPLATE_TEXT_CHARS: usize = 640;
/// Longest title of a button, in characters.
pub const MAX_BUTTON_TITLE_CHARS: usize = 20;
/// Most buttons in one button template.
pub const MAX_BUTTONS: usize = 3;

impl State {
    /// Takes the first pending fault aimed at the Send API that applies to this account and person.
    pub(crate) fn take_send_fault(&mut self, call: &SendCall) -> Option<FaultKind> {
        let target = Target {
            ig_id: &call.ig_id,
            comment_id: None,
            recipient_id: call.recipient_id.as_deref(),
        };
        self.take_fault_on(Endpoint::SendApi, &target)
    }

    /// Decides the answer to one Send API request (under `fault`, if one applies), records the message it
    /// delivers, and logs the request.
    pub(crate) fn respond_send(
        &mut self,
        cfg: &SimConfig,
        call: &SendCall,
        fault: Option<&FaultKind>,
    ) -> Answer {
        let now = self.now();
        let answer = self.under_fault(fault, |st| st.decide_send(cfg, call, fault, now));
        self.log_send(call, &answer, fault, now);
        answer
    }

    /// Records that person `igsid` wrote to account `ig_id` at `at`: the messaging window runs from the latest
    /// such message.
    pub(crate) fn person_answered(&mut self, ig_id: &str, igsid: &str, at: DateTime<Utc>) {
        let last = self
            .last_message_from
            .entry((ig_id.to_owned(), igsid.to_owned()))
            .or_insert(at);
        *last = (*last).max(at);
    }

    /// Meta's checks in the private reply's order: path, token, call budget, injected error, body, recipient,
    /// window; then the message is delivered.
    fn decide_send(
        &mut self,
        cfg: &SimConfig,
        call: &SendCall,
        fault: Option<&FaultKind>,
        now: DateTime<Utc>,
    ) -> Answer {
        if let Err(e) = self.check_path_and_token(
            &call.version,
            &call.ig_id,
            ENDPOINT_MESSAGES,
            call.token.as_deref(),
            now,
        ) {
            return Answer::error(e, None);
        }
        let limit = Limit {
            calls: cfg.send_api_limit,
            window: cfg.send_api_window,
        };
        let counted = self.rate.call(&call.ig_id, Bucket::SendApi, limit, now);
        if let Some(injected) = injected_error(fault, counted) {
            return injected;
        }
        let usage = match counted {
            Ok(usage) => usage,
            Err(throttled) => return Answer::error(GraphError::new(613, None), Some(throttled)),
        };
        let checked = check_message(call).and_then(|(recipient, text, buttons)| {
            self.check_recipient(&call.ig_id, recipient, now)?;
            Ok((recipient, text, buttons))
        });
        let (recipient, text, buttons) = match checked {
            Ok(message) => message,
            Err(e) => return Answer::error(e, Some(usage)),
        };
        let id = message_id(&call.ig_id);
        self.messages.push(DeliveredMessage {
            ig_id: call.ig_id.clone(),
            recipient_id: recipient.to_owned(),
            message_id: id.clone(),
            text,
            buttons,
            at: now,
        });
        let body = json!({ "recipient_id": recipient, "message_id": id });
        Answer {
            usage: Some(usage),
            message_id: Some(id),
            ..Answer::new(200, AnswerBody::Json(body))
        }
    }

    /// A person the account knows (`100/2534014` otherwise), whose messaging window is open (`10/2018278`).
    fn check_recipient(
        &self,
        ig_id: &str,
        igsid: &str,
        now: DateTime<Utc>,
    ) -> Result<(), GraphError> {
        let last = self
            .last_message_from
            .get(&(ig_id.to_owned(), igsid.to_owned()));
        if let Some(last) = last {
            return if within_window(*last, now) {
                Ok(())
            } else {
                Err(GraphError::new(10, Some(SUB_OUTSIDE_MESSAGING_WINDOW)))
            };
        }
        // Meta answers an IGSID that is not one of the account's people with "no matching user" (the ID is
        // scoped to the account, so another account's commenter is unknown here too). A person who commented
        // but never wrote is known, with no window open.
        let commented = self
            .comments
            .values()
            .any(|c| c.ig_id == ig_id && c.commenter_id == igsid);
        if commented {
            Err(GraphError::new(10, Some(SUB_OUTSIDE_MESSAGING_WINDOW)))
        } else {
            Err(GraphError::new(100, Some(SUB_NO_MATCHING_USER)))
        }
    }

    fn log_send(
        &mut self,
        call: &SendCall,
        answer: &Answer,
        fault: Option<&FaultKind>,
        now: DateTime<Utc>,
    ) {
        let (status, fault) = FaultKind::logged(fault, answer.status);
        tracing::info!(
            ig_id = %call.ig_id,
            recipient_id = call.recipient_id.as_deref(),
            status,
            code = answer.code,
            subcode = answer.subcode,
            fault,
            "send api request"
        );
        let text = call.text.clone().or_else(|| {
            call.attachment
                .as_ref()
                .and_then(|a| a.pointer("/payload/text"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        self.log.push(LoggedRequest {
            seq: self.next_seq(),
            endpoint: ENDPOINT_SEND_API.to_owned(),
            method: METHOD_POST.to_owned(),
            at: now,
            version: call.version.clone(),
            ig_id: call.ig_id.clone(),
            comment_id: None,
            recipient_id: call.recipient_id.clone(),
            token_fingerprint: call.token.as_deref().map(token_fingerprint),
            text_len: text.as_ref().map(String::len),
            text,
            status,
            code: answer.code,
            subcode: answer.subcode,
            message_id: answer.message_id.clone(),
            reply_id: None,
            fault: fault.map(str::to_owned),
            subscribed_fields: None,
        });
    }
}

/// Why [`crate::Simulator::person_answers`] could not play the answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonAnswerError {
    #[error("igsid or comment_id is required")]
    NoPerson,
    #[error("text must not be empty")]
    EmptyText,
    #[error("comment {comment_id} has no private reply delivered by account {ig_id}")]
    NoPrivateReply { ig_id: String, comment_id: String },
    #[error("the private reply to comment {comment_id} went to {recipient}, not to {igsid}")]
    OtherRecipient {
        comment_id: String,
        recipient: String,
        igsid: String,
    },
}

impl State {
    /// Plays a person's answer: resolves who wrote, records the message (opening their window), and returns the
    /// notification to post with where to post it (if anywhere).
    pub(crate) fn record_answer(
        &mut self,
        answer: &PersonAnswer,
    ) -> Result<(MessageEvent, Option<WebhookTarget>), PersonAnswerError> {
        if answer.text.is_empty() {
            return Err(PersonAnswerError::EmptyText);
        }
        let igsid = match (&answer.comment_id, &answer.igsid) {
            (Some(comment_id), igsid) => {
                let recipient = self
                    .replies
                    .iter()
                    .find(|r| &r.comment_id == comment_id && r.ig_id == answer.ig_id)
                    .map(|r| r.recipient_id.clone())
                    .ok_or_else(|| PersonAnswerError::NoPrivateReply {
                        ig_id: answer.ig_id.clone(),
                        comment_id: comment_id.clone(),
                    })?;
                match igsid {
                    Some(igsid) if *igsid != recipient => {
                        return Err(PersonAnswerError::OtherRecipient {
                            comment_id: comment_id.clone(),
                            recipient,
                            igsid: igsid.clone(),
                        });
                    }
                    _ => recipient,
                }
            }
            (None, Some(igsid)) => igsid.clone(),
            (None, None) => return Err(PersonAnswerError::NoPerson),
        };
        let ago = TimeDelta::seconds(
            answer
                .seconds_ago
                .and_then(|s| i64::try_from(s).ok())
                .unwrap_or(0),
        );
        let at = self.now() - ago;
        self.person_answered(&answer.ig_id, &igsid, at);
        let event = MessageEvent {
            account: answer.ig_id.clone(),
            sender: igsid.clone(),
            recipient: answer.ig_id.clone(),
            mid: message_id(&igsid),
            text: answer.text.clone(),
            at,
            echo: false,
        };
        Ok((event, self.webhook.clone()))
    }

    /// The echo of the delivery that created `message_id` (a private reply or a Send API message), when the
    /// webhook wants echoes.
    pub(crate) fn echo_of(&self, message_id: &str) -> Option<(MessageEvent, WebhookTarget)> {
        let target = self.webhook.clone().filter(|w| w.echoes)?;
        let delivered = self
            .messages
            .iter()
            .rev()
            .find(|m| m.message_id == message_id)
            .map(|m| (&m.ig_id, &m.recipient_id, &m.text, m.at))
            .or_else(|| {
                self.replies
                    .iter()
                    .rev()
                    .find(|r| r.message_id == message_id)
                    .map(|r| (&r.ig_id, &r.recipient_id, &r.text, r.at))
            })?;
        let (account, recipient, text, at) = delivered;
        let event = MessageEvent {
            account: account.clone(),
            sender: account.clone(),
            recipient: recipient.clone(),
            mid: message_id.to_owned(),
            text: text.clone(),
            at,
            echo: true,
        };
        Some((event, target))
    }
}

/// Whether a message at `now` is inside the window opened by the person's message at `last`: up to exactly
/// 24 hours later.
fn within_window(last: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let window = TimeDelta::from_std(MESSAGING_WINDOW).unwrap_or(TimeDelta::MAX);
    now <= last + window
}

/// The recipient and what they will read: a text, or a button template's text and buttons. `100` otherwise.
fn check_message(call: &SendCall) -> Result<(&str, String, Vec<UrlButton>), GraphError> {
    let (Some(recipient), None) = (call.recipient_id.as_deref(), call.shape_error) else {
        return Err(invalid(
            call.shape_error.unwrap_or("(#100) Invalid parameter"),
        ));
    };
    match (&call.text, &call.attachment) {
        (Some(text), None) => {
            if text.is_empty() {
                return Err(invalid(
                    "(#100) Param message[text] must be a non-empty UTF-8 encoded string",
                ));
            }
            if text.len() > MAX_TEXT_BYTES {
                return Err(invalid(
                    "(#100) Param message[text] must be at most 1000 bytes of UTF-8 encoded text",
                ));
            }
            Ok((recipient, text.clone(), Vec::new()))
        }
        (None, Some(attachment)) => {
            let (text, buttons) = button_template(attachment)?;
            Ok((recipient, text, buttons))
        }
        _ => Err(invalid("(#100) Invalid parameter")),
    }
}

/// A button template's text and buttons. Only `web_url` buttons are taken: they are all the product sends, and
/// refusing the other kinds (postback, call) makes a stray one visible instead of silently accepted.
fn button_template(attachment: &Value) -> Result<(String, Vec<UrlButton>), GraphError> {
    let str_at = |v: &Value, path: &str| v.pointer(path).and_then(Value::as_str).map(str::to_owned);
    if str_at(attachment, "/type").as_deref() != Some("template") {
        return Err(invalid(
            "(#100) Param message[attachment][type] must be one of {template}",
        ));
    }
    if str_at(attachment, "/payload/template_type").as_deref() != Some("button") {
        return Err(invalid(
            "(#100) Param message[attachment][payload][template_type] must be one of {button}",
        ));
    }
    let text = match str_at(attachment, "/payload/text") {
        Some(t) if !t.is_empty() => t,
        _ => {
            return Err(invalid(
                "(#100) Param message[attachment][payload][text] must be a non-empty UTF-8 encoded string",
            ));
        }
    };
    if text.chars().count() > MAX_TEMPLATE_TEXT_CHARS {
        return Err(invalid(
            "(#100) Param message[attachment][payload][text] must be at most 640 characters",
        ));
    }
    let buttons = match attachment
        .pointer("/payload/buttons")
        .and_then(Value::as_array)
    {
        Some(b) if (1..=MAX_BUTTONS).contains(&b.len()) => b,
        _ => {
            return Err(invalid(
                "(#100) Param message[attachment][payload][buttons] must be an array of 1 to 3 buttons",
            ));
        }
    };
    buttons
        .iter()
        .map(|b| {
            if str_at(b, "/type").as_deref() != Some("web_url") {
                return Err(invalid(
                    "(#100) Param message[attachment][payload][buttons][type] must be one of {web_url}",
                ));
            }
            let url = str_at(b, "/url").filter(|u| is_https_url(u)).ok_or_else(|| {
                invalid("(#100) Param message[attachment][payload][buttons][url] must be a valid https URL")
            })?;
            let title = str_at(b, "/title")
                .filter(|t| !t.is_empty() && t.chars().count() <= MAX_BUTTON_TITLE_CHARS)
                .ok_or_else(|| {
                    invalid("(#100) Param message[attachment][payload][buttons][title] must be 1 to 20 characters")
                })?;
            Ok(UrlButton { url, title })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|buttons| (text, buttons))
}

/// `https://` followed by a host (no blanks anywhere).
fn is_https_url(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
        && url[8..]
            .split(['/', '?', '#'])
            .next()
            .is_some_and(|host| !host.is_empty())
        && !url.chars().any(char::is_whitespace)
}

fn invalid(message: &str) -> GraphError {
    GraphError::new(100, None).with_message(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Comment;
    use crate::wire::MessagesCall;

    const IG: &str = "17841401906857599";
    const PERSON: &str = "2706325442860345";

    fn cfg() -> SimConfig {
        let mut cfg = SimConfig::default();
        cfg.tokens.insert(IG.into(), "tok".into());
        cfg
    }

    fn send_call(message: Value) -> SendCall {
        let body = json!({"recipient": {"id": PERSON}, "message": message});
        match MessagesCall::parse(
            "v25.0".into(),
            IG.into(),
            Some("tok".into()),
            body.to_string().as_bytes(),
        ) {
            MessagesCall::SendApi(call) => call,
            MessagesCall::PrivateReply(call) => panic!("read as a private reply: {call:?}"),
        }
    }

    fn text(t: &str) -> Value {
        json!({ "text": t })
    }

    fn template(text: &str, buttons: Value) -> Value {
        json!({"attachment": {"type": "template", "payload": {
            "template_type": "button", "text": text, "buttons": buttons,
        }}})
    }

    fn button(url: &str, title: &str) -> Value {
        json!({"type": "web_url", "url": url, "title": title})
    }

    fn codes(a: &Answer) -> (u16, Option<u32>, Option<u32>) {
        (a.status, a.code, a.subcode)
    }

    /// A state where the person wrote to the account at `last`.
    fn state_with_answer_at(last: DateTime<Utc>) -> (SimConfig, State) {
        let cfg = cfg();
        let mut st = State::new(&cfg);
        st.person_answered(IG, PERSON, last);
        (cfg, st)
    }

    #[test]
    fn the_window_is_open_until_exactly_24_hours_after_the_persons_last_message() {
        let t0 = Utc::now();
        let (cfg, mut st) = state_with_answer_at(t0);
        let call = send_call(text("follow-up"));
        let at_24h = t0 + TimeDelta::hours(24);

        let inside = st.decide_send(&cfg, &call, None, at_24h);
        let outside = st.decide_send(&cfg, &call, None, at_24h + TimeDelta::milliseconds(1));

        assert_eq!(inside.status, 200);
        assert_eq!(codes(&outside), (400, Some(10), Some(2018278)));
        assert_eq!(st.messages.len(), 1);
    }

    #[test]
    fn a_later_answer_reopens_the_window_and_an_earlier_one_does_not_shorten_it() {
        let t0 = Utc::now();
        let (cfg, mut st) = state_with_answer_at(t0);
        let call = send_call(text("hi"));
        let next_day = t0 + TimeDelta::hours(30);
        assert_eq!(st.decide_send(&cfg, &call, None, next_day).code, Some(10));

        st.person_answered(IG, PERSON, t0 + TimeDelta::hours(29));
        st.person_answered(IG, PERSON, t0);

        assert_eq!(st.decide_send(&cfg, &call, None, next_day).status, 200);
    }

    #[test]
    fn an_unknown_person_is_no_matching_user_and_a_silent_commenter_is_outside_the_window() {
        let cfg = cfg();
        let mut st = State::new(&cfg);
        let call = send_call(text("hi"));
        let now = Utc::now();

        let unknown = st.decide_send(&cfg, &call, None, now);
        st.comments.insert(
            "c1".into(),
            Comment {
                ig_id: IG.into(),
                commenter_id: PERSON.into(),
                created_at: now,
                media_id: None,
                live: false,
                live_ended: false,
            },
        );
        let commenter = st.decide_send(&cfg, &call, None, now);

        assert_eq!(codes(&unknown), (400, Some(100), Some(2534014)));
        assert_eq!(codes(&commenter), (400, Some(10), Some(2018278)));
        assert!(st.messages.is_empty());
    }

    #[test]
    fn another_accounts_person_is_unknown_here() {
        let cfg = cfg();
        let mut st = State::new(&cfg);
        st.person_answered("other-account", PERSON, Utc::now());
        let a = st.decide_send(&cfg, &send_call(text("hi")), None, Utc::now());
        assert_eq!(codes(&a), (400, Some(100), Some(2534014)));
    }

    #[test]
    fn a_text_may_be_1000_bytes_but_not_more_nor_empty() {
        let (cfg, mut st) = state_with_answer_at(Utc::now());
        let now = Utc::now();
        let mut send = |m: Value| codes(&st.decide_send(&cfg, &send_call(m), None, now));

        assert_eq!(send(text(&"é".repeat(500))).0, 200);
        assert_eq!(send(text(&"é".repeat(501))), (400, Some(100), None));
        assert_eq!(send(text("")), (400, Some(100), None));
        assert_eq!(send(json!({"text": 5})), (400, Some(100), None));
        assert_eq!(send(json!({})), (400, Some(100), None));
        let both = json!({"text": "hi", "attachment": template("x", json!([button("https://a.example", "Go")]))["attachment"]});
        assert_eq!(send(both), (400, Some(100), None));
    }

    #[test]
    fn a_button_template_is_delivered_with_its_buttons() {
        let (cfg, mut st) = state_with_answer_at(Utc::now());
        let buttons = json!([
            button("https://shop.example/a", "Open the shop"),
            button("HTTPS://shop.example/b?x=1", "B"),
            button("https://shop.example", &"t".repeat(20)),
        ]);
        let m = template(&"é".repeat(640), buttons);

        let a = st.decide_send(&cfg, &send_call(m), None, Utc::now());

        assert_eq!(a.status, 200);
        let sent = &st.messages[0];
        assert_eq!(sent.text.chars().count(), 640);
        assert_eq!(sent.buttons.len(), 3);
        assert_eq!(sent.buttons[0].url, "https://shop.example/a");
        assert_eq!(sent.buttons[0].title, "Open the shop");
    }

    #[test]
    fn an_invalid_button_template_is_an_invalid_parameter() {
        let (cfg, mut st) = state_with_answer_at(Utc::now());
        let ok = button("https://shop.example", "Go");
        let cases = [
            template(&"x".repeat(641), json!([ok])),
            template("", json!([ok])),
            template("text", json!([])),
            template("text", json!([ok, ok, ok, ok])),
            template("text", json!("not a list")),
            template("text", json!([button("http://shop.example", "Go")])),
            template("text", json!([button("https://", "Go")])),
            template("text", json!([button("https://shop.example/a b", "Go")])),
            template(
                "text",
                json!([button("https://shop.example", &"t".repeat(21))]),
            ),
            template("text", json!([button("https://shop.example", "")])),
            template(
                "text",
                json!([{"type": "postback", "title": "Go", "payload": "p"}]),
            ),
            json!({"attachment": {"type": "image", "payload": {"url": "https://x.example/a.png"}}}),
            json!({"attachment": {"type": "template", "payload": {"template_type": "generic"}}}),
        ];

        for (i, m) in cases.into_iter().enumerate() {
            let a = st.decide_send(&cfg, &send_call(m), None, Utc::now());
            assert_eq!(codes(&a), (400, Some(100), None), "case {i}");
        }
        assert!(st.messages.is_empty());
    }

    #[test]
    fn the_send_api_has_its_own_budget_answered_613_over_it() {
        let mut cfg = cfg();
        cfg.send_api_limit = 2;
        cfg.hour_limit = 1;
        let mut st = State::new(&cfg);
        let now = Utc::now();
        st.person_answered(IG, PERSON, now);
        let call = send_call(text("hi"));

        assert_eq!(st.decide_send(&cfg, &call, None, now).status, 200);
        assert_eq!(st.decide_send(&cfg, &call, None, now).status, 200);
        let over = st.decide_send(&cfg, &call, None, now);

        assert_eq!(codes(&over), (400, Some(613), None));
        assert_eq!(over.usage.map(|u| u.percent), Some(100));
        let later = now + TimeDelta::from_std(cfg.send_api_window).unwrap_or_default();
        assert_eq!(st.decide_send(&cfg, &call, None, later).status, 200);
    }

    #[test]
    fn the_log_names_the_endpoint_and_the_recipient_but_never_the_token() {
        let (cfg, mut st) = state_with_answer_at(Utc::now());
        st.respond_send(&cfg, &send_call(text("hi")), None);

        let entry = &st.log[0];
        assert_eq!(entry.endpoint, "send_api");
        assert_eq!(entry.recipient_id.as_deref(), Some(PERSON));
        assert_eq!(entry.comment_id, None);
        assert!(entry.message_id.is_some());
        assert!(
            entry
                .token_fingerprint
                .as_deref()
                .is_some_and(|f| !f.contains("tok"))
        );
    }

    #[test]
    fn https_urls_need_a_host() {
        assert!(is_https_url("https://a.example"));
        assert!(is_https_url("https://a.example/p?q#f"));
        assert!(!is_https_url("https://"));
        assert!(!is_https_url("https:///path"));
        assert!(!is_https_url("ftp://a.example"));
        assert!(!is_https_url("https"));
    }
}
