//! The simulator's state and rules: which token opens which account, which comments exist and how old they are,
//! which already got their one reply, the simulated clock, the call budgets, pending faults, and the log. All
//! decisions are synchronous and made under one lock (the [`Simulator`]'s), so that the order of events is the
//! order of the log.
//!
//! This file holds the state and the rules of a private reply (and how a fault shapes an answer); the first
//! checks of every endpoint (path and token) are in `access`, the public replies to a comment in
//! `public_replies`, messages to a person (the Send API) and their window in `send_api`, the `subscribed_apps`
//! endpoint in `subscriptions`: each an `impl State` block.
//!
//! [`Simulator`]: crate::Simulator

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use crate::config::{SimConfig, WebhookTarget};
use crate::errors::{GraphError, SUB_NOT_REPLYABLE, SUB_OUTSIDE_WINDOW};
use crate::fault::{Endpoint, Fault, FaultKind, Target};
use crate::ids::{commenter_id_for, message_id, token_fingerprint};
use crate::rate::{Bucket, Limit, RateLimiter, Usage};
use crate::wire::{
    Answer, AnswerBody, DeliveredMessage, DeliveredReply, ENDPOINT_MESSAGES, LoggedRequest,
    METHOD_POST, PublicReply, ReplyCall,
};

mod access;
mod public_replies;
mod send_api;
mod subscriptions;

pub use send_api::{
    MAX_BUTTON_TITLE_CHARS, MAX_BUTTONS, MAX_TEMPLATE_TEXT_CHARS, MESSAGING_WINDOW,
    PersonAnswerError,
};

/// Longest private reply Meta accepts, in UTF-8 bytes.
pub const MAX_TEXT_BYTES: usize = 1000;
/// How long after its creation a comment can get a private reply.
pub const REPLY_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// What the simulator knows of one comment.
#[derive(Debug, Clone)]
pub(crate) struct Comment {
    pub(crate) ig_id: String,
    pub(crate) commenter_id: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) media_id: Option<String>,
    pub(crate) live: bool,
    pub(crate) live_ended: bool,
}

/// Everything behind the [`crate::Simulator`]'s lock.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) tokens: HashMap<String, String>,
    pub(crate) default_token: Option<String>,
    /// Expired token -> when it expired.
    pub(crate) expired: HashMap<String, DateTime<Utc>>,
    pub(crate) comments: HashMap<String, Comment>,
    pub(crate) ended_media: HashSet<String>,
    pub(crate) offset: TimeDelta,
    pub(crate) faults: Vec<Fault>,
    pub(crate) rate: RateLimiter,
    pub(crate) log: Vec<LoggedRequest>,
    pub(crate) replies: Vec<DeliveredReply>,
    /// Public replies published, in order (any number per comment).
    pub(crate) public_replies: Vec<PublicReply>,
    /// Account -> the fields it subscribed the app to.
    pub(crate) subscriptions: HashMap<String, Vec<String>>,
    /// Messages delivered through the Send API, in order.
    pub(crate) messages: Vec<DeliveredMessage>,
    /// (account, person's IGSID) -> when the person last wrote to the account: their messaging window's start.
    pub(crate) last_message_from: HashMap<(String, String), DateTime<Utc>>,
    /// Where notifications go (the configured one until changed).
    pub(crate) webhook: Option<WebhookTarget>,
}

impl State {
    pub(crate) fn new(cfg: &SimConfig) -> Self {
        Self {
            tokens: cfg.tokens.clone(),
            default_token: cfg.default_token.clone(),
            expired: HashMap::new(),
            comments: HashMap::new(),
            ended_media: HashSet::new(),
            offset: TimeDelta::zero(),
            faults: Vec::new(),
            rate: RateLimiter::default(),
            log: Vec::new(),
            replies: Vec::new(),
            public_replies: Vec::new(),
            subscriptions: HashMap::new(),
            messages: Vec::new(),
            last_message_from: HashMap::new(),
            webhook: cfg.webhook.clone(),
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now()
            .checked_add_signed(self.offset)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Takes the first pending fault that applies to this request, using up one of its `times`.
    pub(crate) fn take_fault(&mut self, call: &ReplyCall) -> Option<FaultKind> {
        let target = Target::comment(&call.ig_id, call.comment_id.as_deref());
        self.take_fault_on(Endpoint::Messages, &target)
    }

    /// Takes the first pending fault aimed at `endpoint` that applies to this request's account, comment or
    /// person.
    fn take_fault_on(&mut self, endpoint: Endpoint, target: &Target<'_>) -> Option<FaultKind> {
        let idx = self
            .faults
            .iter()
            .position(|f| f.matches(endpoint, target))?;
        let fault = &mut self.faults[idx];
        let kind = fault.kind.clone();
        let used_up = fault.times.as_mut().is_some_and(|n| {
            *n = n.saturating_sub(1);
            *n == 0
        });
        if used_up {
            self.faults.remove(idx);
        }
        Some(kind)
    }

    /// Decides the answer to one request (under `fault`, if one applies) and logs it.
    pub(crate) fn respond(
        &mut self,
        cfg: &SimConfig,
        call: &ReplyCall,
        fault: Option<&FaultKind>,
    ) -> Answer {
        let now = self.now();
        let answer = self.under_fault(fault, |st| st.decide(cfg, call, fault, now));
        self.record(call, &answer, fault, now);
        answer
    }

    /// The answer `process` gives, as `fault` shapes it, for either endpoint that takes faults: an HTTP status
    /// instead (after processing when the fault says so, keeping the created ID for the log), a `503 code 2`
    /// for an undelivered delay, no answer for a closed connection; anything else is processed as usual
    /// (`process` itself applies an injected Graph error).
    fn under_fault(
        &mut self,
        fault: Option<&FaultKind>,
        process: impl FnOnce(&mut Self) -> Answer,
    ) -> Answer {
        match fault {
            Some(FaultKind::HttpStatus {
                status,
                body,
                process: first,
            }) => {
                let created = first.then(|| process(self).message_id).flatten();
                Answer {
                    message_id: created,
                    ..Answer::http_status(*status, body.as_ref())
                }
            }
            Some(FaultKind::Delay { deliver: false, .. }) => {
                let mut e = GraphError::new(2, None);
                e.status = 503;
                Answer::error(e, None)
            }
            Some(FaultKind::CloseConnection { process: false }) => Answer::closed(),
            _ => process(self),
        }
    }

    /// Meta's checks in order: path, token, call budget, injected error, body, comment eligibility.
    fn decide(
        &mut self,
        cfg: &SimConfig,
        call: &ReplyCall,
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
        let comment = call
            .comment_id
            .as_deref()
            .and_then(|id| self.comment_seen(cfg, id, &call.ig_id, now));
        let (bucket, limit) = match comment {
            Some(Comment { live: true, .. }) => (
                Bucket::Live,
                Limit {
                    calls: cfg.live_limit,
                    window: cfg.live_window,
                },
            ),
            _ => (
                Bucket::Hour,
                Limit {
                    calls: cfg.hour_limit,
                    window: cfg.hour_window,
                },
            ),
        };
        let counted = self.rate.call(&call.ig_id, bucket, limit, now);
        if let Some(injected) = injected_error(fault, counted) {
            return injected;
        }
        let usage = match counted {
            Ok(usage) => usage,
            Err(throttled) => return Answer::error(GraphError::new(613, None), Some(throttled)),
        };
        match self.check_reply(call, comment.as_ref(), now) {
            Err(e) => Answer::error(e, Some(usage)),
            Ok((comment_id, text, comment)) => {
                let id = message_id(&call.ig_id);
                self.replies.push(DeliveredReply {
                    comment_id: comment_id.to_owned(),
                    ig_id: call.ig_id.clone(),
                    recipient_id: comment.commenter_id.clone(),
                    message_id: id.clone(),
                    text: text.to_owned(),
                    at: now,
                });
                let body = json!({ "recipient_id": comment.commenter_id, "message_id": id });
                Answer {
                    usage: Some(usage),
                    message_id: Some(id),
                    ..Answer::new(200, AnswerBody::Json(body))
                }
            }
        }
    }

    /// The comment, registering it as created now when unknown (unless comments are strict).
    fn comment_seen(
        &mut self,
        cfg: &SimConfig,
        comment_id: &str,
        ig_id: &str,
        now: DateTime<Utc>,
    ) -> Option<Comment> {
        if let Some(c) = self.comments.get(comment_id) {
            return Some(c.clone());
        }
        if cfg.strict_comments {
            return None;
        }
        let c = Comment {
            ig_id: ig_id.to_owned(),
            commenter_id: commenter_id_for(comment_id),
            created_at: now,
            media_id: None,
            live: false,
            live_ended: false,
        };
        self.comments.insert(comment_id.to_owned(), c.clone());
        Some(c)
    }

    fn check_reply<'a>(
        &self,
        call: &'a ReplyCall,
        comment: Option<&'a Comment>,
        now: DateTime<Utc>,
    ) -> Result<(&'a str, &'a str, &'a Comment), GraphError> {
        let invalid = |msg: &str| GraphError::new(100, None).with_message(msg);
        let (Some(comment_id), Some(text), None) = (
            call.comment_id.as_deref(),
            call.text.as_deref(),
            call.shape_error,
        ) else {
            return Err(invalid(
                call.shape_error.unwrap_or("(#100) Invalid parameter"),
            ));
        };
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
        let Some(comment) = comment else {
            return Err(GraphError::new(100, Some(SUB_NOT_REPLYABLE)));
        };
        if comment.ig_id != call.ig_id {
            return Err(GraphError::new(100, Some(33)).with_message(format!(
                "Unsupported post request. Object with ID '{comment_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
            )));
        }
        if self.replies.iter().any(|r| r.comment_id == comment_id) {
            return Err(GraphError::new(100, Some(SUB_NOT_REPLYABLE)));
        }
        let outside = if comment.live {
            comment.live_ended
                || comment
                    .media_id
                    .as_ref()
                    .is_some_and(|m| self.ended_media.contains(m))
        } else {
            let window = TimeDelta::from_std(REPLY_WINDOW).unwrap_or(TimeDelta::MAX);
            now > comment.created_at + window
        };
        if outside {
            return Err(GraphError::new(10, Some(SUB_OUTSIDE_WINDOW)));
        }
        Ok((comment_id, text, comment))
    }

    fn record(
        &mut self,
        call: &ReplyCall,
        answer: &Answer,
        fault: Option<&FaultKind>,
        now: DateTime<Utc>,
    ) {
        let (status, fault) = FaultKind::logged(fault, answer.status);
        tracing::info!(
            ig_id = %call.ig_id,
            comment_id = call.comment_id.as_deref(),
            status,
            code = answer.code,
            subcode = answer.subcode,
            fault,
            "private reply request"
        );
        self.log.push(LoggedRequest {
            seq: self.next_seq(),
            endpoint: ENDPOINT_MESSAGES.to_owned(),
            at: now,
            version: call.version.clone(),
            ig_id: call.ig_id.clone(),
            comment_id: call.comment_id.clone(),
            recipient_id: None,
            token_fingerprint: call.token.as_deref().map(token_fingerprint),
            text_len: call.text.as_ref().map(String::len),
            text: call.text.clone(),
            status,
            code: answer.code,
            subcode: answer.subcode,
            message_id: answer.message_id.clone(),
            reply_id: None,
            fault: fault.map(str::to_owned),
            subscribed_fields: None,
            method: METHOD_POST.to_owned(),
        });
    }

    /// The `seq` of the next log entry: its position in the log.
    fn next_seq(&self) -> u64 {
        u64::try_from(self.log.len()).unwrap_or(u64::MAX)
    }
}

/// The answer of an injected Graph error, if `fault` is one. The call was already counted (`counted`), and the
/// injected error wins over throttling since this call used it up.
fn injected_error(fault: Option<&FaultKind>, counted: Result<Usage, Usage>) -> Option<Answer> {
    let Some(FaultKind::GraphError {
        code,
        subcode,
        message,
        status,
        is_transient,
        estimated_time_to_regain_access,
    }) = fault
    else {
        return None;
    };
    let mut e = GraphError::new(*code, *subcode);
    e.status = status.unwrap_or(e.status);
    e.is_transient = is_transient.unwrap_or(e.is_transient);
    if let Some(m) = message {
        e.message.clone_from(m);
    }
    let usage = counted.unwrap_or_else(|throttled| throttled);
    let usage = estimated_time_to_regain_access.map_or(usage, |minutes| Usage {
        percent: 100,
        regain_minutes: minutes,
    });
    Some(Answer::error(e, Some(usage)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Simulator;
    use crate::wire::CommentSpec;

    const IG: &str = "17841401906857599";

    fn sim() -> Simulator {
        let mut cfg = SimConfig::default();
        cfg.tokens.insert(IG.into(), "tok".into());
        Simulator::new(cfg)
    }

    fn call(comment_id: &str, text: &str) -> ReplyCall {
        let body = json!({"recipient": {"comment_id": comment_id}, "message": {"text": text}});
        ReplyCall::parse(
            "v25.0".into(),
            IG.into(),
            Some("tok".into()),
            body.to_string().as_bytes(),
        )
    }

    /// The answer to a reply to `comment_id` with the account's token, no fault applying.
    fn reply(s: &Simulator, comment_id: &str, text: &str) -> Answer {
        s.respond(&call(comment_id, text), None)
    }

    fn codes(a: &Answer) -> (u16, Option<u32>, Option<u32>) {
        (a.status, a.code, a.subcode)
    }

    #[test]
    fn a_body_without_recipient_is_an_invalid_parameter() {
        let s = sim();
        let c = ReplyCall::parse(
            "v25.0".into(),
            IG.into(),
            Some("tok".into()),
            br#"{"message":{"text":"x"}}"#,
        );
        assert_eq!(codes(&s.respond(&c, None)), (400, Some(100), None));
    }

    #[test]
    fn a_registered_comment_replies_to_its_commenter() {
        let s = sim();
        let mut spec = CommentSpec::new("c1", IG);
        spec.commenter_id = Some("2706325442860345".into());
        s.register_comment(spec);
        let a = reply(&s, "c1", "hello");
        let AnswerBody::Json(body) = &a.body else {
            panic!("expected JSON, got {a:?}");
        };
        assert_eq!(body["recipient_id"], "2706325442860345");
        assert_eq!(s.reply_count_for("c1"), 1);
    }

    #[test]
    fn a_comment_is_replyable_until_exactly_seven_days_after_creation() {
        let s = sim();
        let created = s.now() - TimeDelta::days(7) + TimeDelta::seconds(30);
        s.register_comment(CommentSpec::new("c1", IG).created_at(created));
        s.register_comment(CommentSpec::new("c2", IG).created_at(created));
        assert_eq!(reply(&s, "c1", "hi").status, 200);
        s.advance_clock(Duration::from_secs(60));
        assert_eq!(
            codes(&reply(&s, "c2", "hi")),
            (400, Some(10), Some(2534022))
        );
    }

    #[test]
    fn a_comment_of_another_account_is_not_found() {
        let s = sim();
        s.register_comment(CommentSpec::new("c1", "other"));
        assert_eq!(codes(&reply(&s, "c1", "hi")), (400, Some(100), Some(33)));
    }

    #[test]
    fn strict_mode_rejects_unknown_comments() {
        let mut cfg = SimConfig::with_default_token("tok");
        cfg.strict_comments = true;
        let s = Simulator::new(cfg);
        assert_eq!(
            codes(&reply(&s, "nope", "hi")),
            (400, Some(100), Some(2534025))
        );
    }

    #[test]
    fn a_missing_token_is_code_104_and_an_expired_one_190_463() {
        let s = sim();
        let mut c = call("c1", "hi");
        c.token = None;
        assert_eq!(codes(&s.respond(&c, None)), (400, Some(104), None));
        s.expire_token("tok");
        assert_eq!(codes(&reply(&s, "c1", "hi")), (400, Some(190), Some(463)));
        s.set_token(IG, "tok");
        assert_eq!(reply(&s, "c1", "hi").status, 200);
    }

    #[test]
    fn a_fault_with_times_is_used_up_and_then_gone() {
        let s = sim();
        s.inject(Fault::http_status(503).times(2));
        let c = call("c1", "hi");
        for _ in 0..2 {
            let f = s.take_fault(&c);
            assert_eq!(
                f,
                Some(FaultKind::HttpStatus {
                    status: 503,
                    body: None,
                    process: false,
                })
            );
        }
        assert_eq!(s.take_fault(&c), None);
    }

    #[test]
    fn a_5xx_after_processing_delivers_the_reply_and_a_second_one_is_refused() {
        let s = sim();
        s.inject(Fault::http_status_after_processing(502).once());
        let c = call("c1", "hi");
        let fault = s.take_fault(&c);
        let first = s.respond(&c, fault.as_ref());
        assert_eq!(first.status, 502);
        assert_eq!(s.reply_count_for("c1"), 1, "the reply went out");
        assert!(s.log()[0].message_id.is_some());
        assert_eq!(
            codes(&reply(&s, "c1", "hi")),
            (400, Some(100), Some(2_534_025))
        );
        assert_eq!(s.reply_count_for("c1"), 1);
    }

    #[test]
    fn the_log_keeps_a_fingerprint_never_the_token() {
        let s = sim();
        reply(&s, "c1", "hi");
        let log = s.log();
        assert_eq!(log.len(), 1);
        let fp = log[0].token_fingerprint.clone().unwrap_or_default();
        assert!(fp.starts_with("sha256:") && !fp.contains("tok"));
        assert!(
            !serde_json::to_string(&log)
                .unwrap_or_default()
                .contains("\"tok\"")
        );
    }
}
