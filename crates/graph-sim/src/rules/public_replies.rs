//! The rules of the public replies to a comment (PLATFORM.md §9): `POST /{version}/{comment_id}/replies` with
//! `message=<text>` publishes one and answers `{"id": "<new comment id>"}`, and `GET` lists them. Unlike the
//! private reply, Meta refuses no second public reply: every accepted one is recorded, so a retry after a lost
//! answer publishes twice, which is what a client's reconciliation (the `GET`) is there for.
//!
//! The path names the comment, not the account: the replying account is the comment's (the token must be one
//! it accepts), or, for a comment the simulator does not know, the account whose own token the request
//! carries. Refused: no or an empty `message`, a Live comment ("not on Live"), a reply to a public reply
//! ("top-level comments only"). There is no length limit (PLATFORM.md gives none for comments), and no window.
//! Both calls count against the account's public-reply budget; only the `POST` takes faults
//! ([`Endpoint::PublicReplies`]).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::access::check_version;
use super::{Comment, State, injected_error};
use crate::config::SimConfig;
use crate::errors::GraphError;
use crate::fault::{Endpoint, FaultKind, Target};
use crate::ids::{comment_id, commenter_id_for, token_fingerprint, username_for};
use crate::rate::{Bucket, Limit};
use crate::wire::{
    Answer, AnswerBody, ENDPOINT_REPLIES, LoggedRequest, METHOD_GET, METHOD_POST, PublicReply,
    PublicReplyCall,
};

impl State {
    /// Takes the first pending fault aimed at public replies that applies to this request (its account being
    /// the replying one, when known).
    pub(crate) fn take_public_reply_fault(&mut self, call: &PublicReplyCall) -> Option<FaultKind> {
        let account = self.caller_hint(&call.comment_id, call.token.as_deref());
        let target = Target::comment(&account, Some(call.comment_id.as_str()));
        self.take_fault_on(Endpoint::PublicReplies, &target)
    }

    /// Decides the answer to one `POST .../replies` (under `fault`, if one applies), records the public reply it
    /// publishes, and logs the request.
    pub(crate) fn respond_public_reply(
        &mut self,
        cfg: &SimConfig,
        call: &PublicReplyCall,
        fault: Option<&FaultKind>,
    ) -> Answer {
        let now = self.now();
        let answer = self.under_fault(fault, |st| st.decide_public_reply(cfg, call, fault, now));
        let (status, label) = FaultKind::logged(fault, answer.status);
        self.log_replies_request(
            METHOD_POST,
            &call.version,
            &call.comment_id,
            call.token.as_deref(),
            call.text.as_deref(),
            status,
            &answer,
            label,
            now,
        );
        answer
    }

    /// `GET .../replies?fields=...`: the comment's public replies, oldest first, with the fields asked for
    /// (`id`, `text`, `from`, `username`, `timestamp`, `parent_id`; others ignored). Logged.
    pub(crate) fn list_public_replies(
        &mut self,
        cfg: &SimConfig,
        version: &str,
        comment_id: &str,
        token: Option<&str>,
        fields: &[String],
    ) -> Answer {
        let now = self.now();
        let answer = self.decide_list(cfg, version, comment_id, token, fields, now);
        self.log_replies_request(
            METHOD_GET,
            version,
            comment_id,
            token,
            None,
            Some(answer.status),
            &answer,
            None,
            now,
        );
        answer
    }

    /// Meta's checks in the private reply's order: path, token and account, call budget, injected error,
    /// body, comment eligibility; then the reply is published.
    fn decide_public_reply(
        &mut self,
        cfg: &SimConfig,
        call: &PublicReplyCall,
        fault: Option<&FaultKind>,
        now: DateTime<Utc>,
    ) -> Answer {
        let account = match check_version(&call.version, &call.comment_id, ENDPOINT_REPLIES)
            .and_then(|()| {
                self.replying_account(cfg, &call.comment_id, call.token.as_deref(), now, "post")
            }) {
            Ok(account) => account,
            Err(e) => return Answer::error(e, None),
        };
        let counted = self.count_call(cfg, &account, now);
        if let Some(injected) = injected_error(fault, counted) {
            return injected;
        }
        let usage = match counted {
            Ok(usage) => usage,
            Err(throttled) => return Answer::error(GraphError::new(80002, None), Some(throttled)),
        };
        let text = match self.check_public_reply(call) {
            Ok(text) => text.to_owned(),
            Err(e) => return Answer::error(e, Some(usage)),
        };
        let id = self.new_comment_id();
        self.public_replies.push(PublicReply {
            comment_id: call.comment_id.clone(),
            ig_id: account,
            reply_id: id.clone(),
            text,
            at: now,
        });
        Answer {
            usage: Some(usage),
            message_id: Some(id.clone()),
            ..Answer::new(200, AnswerBody::Json(json!({ "id": id })))
        }
    }

    fn decide_list(
        &mut self,
        cfg: &SimConfig,
        version: &str,
        comment_id: &str,
        token: Option<&str>,
        fields: &[String],
        now: DateTime<Utc>,
    ) -> Answer {
        let account = match check_version(version, comment_id, ENDPOINT_REPLIES)
            .and_then(|()| self.replying_account(cfg, comment_id, token, now, "get"))
        {
            Ok(account) => account,
            Err(e) => return Answer::error(e, None),
        };
        let usage = match self.count_call(cfg, &account, now) {
            Ok(usage) => usage,
            Err(throttled) => return Answer::error(GraphError::new(80002, None), Some(throttled)),
        };
        let data: Vec<Value> = self
            .public_replies
            .iter()
            .filter(|r| r.comment_id == comment_id)
            .map(|r| reply_fields(r, fields))
            .collect();
        Answer {
            usage: Some(usage),
            ..Answer::new(200, AnswerBody::Json(json!({ "data": data })))
        }
    }

    /// The account a request about `comment_id` acts as. A known comment (or public reply): its account, whose
    /// token the request must carry (`104`, `190/463`, `190`; another account's valid token: `100/33`). An
    /// unknown comment: the account whose own token it is, the comment then registered as that account's, created
    /// now (strict comments, or only the default token: `100/33`, as the account cannot be told).
    fn replying_account(
        &mut self,
        cfg: &SimConfig,
        comment_id: &str,
        token: Option<&str>,
        now: DateTime<Utc>,
        verb: &str,
    ) -> Result<String, GraphError> {
        let not_found = || {
            GraphError::new(100, Some(33)).with_message(format!(
                "Unsupported {verb} request. Object with ID '{comment_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
            ))
        };
        if let Some(owner) = self.comment_account(comment_id) {
            return match self.check_token(&owner, token, now) {
                Ok(()) => Ok(owner),
                Err(e)
                    if e.code == 190
                        && e.subcode.is_none()
                        && token.and_then(|t| self.token_account(t)).is_some() =>
                {
                    Err(not_found())
                }
                Err(e) => Err(e),
            };
        }
        let Some(account) = token.and_then(|t| self.token_account(t)) else {
            // Only the token checks can tell a caller more than "not found".
            self.check_token("", token, now)?;
            return Err(not_found());
        };
        self.check_token(&account, token, now)?;
        if cfg.strict_comments {
            return Err(not_found());
        }
        self.comments.insert(
            comment_id.to_owned(),
            Comment {
                ig_id: account.clone(),
                commenter_id: commenter_id_for(comment_id),
                created_at: now,
                media_id: None,
                live: false,
                live_ended: false,
            },
        );
        Ok(account)
    }

    /// The account of a known comment, or of a public reply (itself a comment of the replying account).
    pub(crate) fn comment_account(&self, comment_id: &str) -> Option<String> {
        self.comments
            .get(comment_id)
            .map(|c| c.ig_id.clone())
            .or_else(|| {
                self.public_replies
                    .iter()
                    .find(|r| r.reply_id == comment_id)
                    .map(|r| r.ig_id.clone())
            })
    }

    /// Who a request seems to come from, before any check: for fault matching and the log.
    fn caller_hint(&self, comment_id: &str, token: Option<&str>) -> String {
        self.comment_account(comment_id)
            .or_else(|| token.and_then(|t| self.token_account(t)))
            .unwrap_or_default()
    }

    fn count_call(
        &mut self,
        cfg: &SimConfig,
        account: &str,
        now: DateTime<Utc>,
    ) -> Result<crate::rate::Usage, crate::rate::Usage> {
        let limit = Limit {
            calls: cfg.public_reply_limit,
            window: cfg.public_reply_window,
        };
        self.rate.call(account, Bucket::PublicReplies, limit, now)
    }

    /// The body and the comment: a non-empty `message`, a top-level comment, not a Live one.
    fn check_public_reply<'a>(&self, call: &'a PublicReplyCall) -> Result<&'a str, GraphError> {
        let invalid = |msg: &str| GraphError::new(100, None).with_message(msg);
        let Some(text) = call.text.as_deref() else {
            return Err(invalid("(#100) The parameter message is required"));
        };
        if text.is_empty() {
            return Err(invalid(
                "(#100) Param message must be a non-empty UTF-8 encoded string",
            ));
        }
        if self
            .public_replies
            .iter()
            .any(|r| r.reply_id == call.comment_id)
        {
            return Err(invalid(
                "(#100) Invalid parameter: replies can only be made to top-level comments",
            ));
        }
        if self.comments.get(&call.comment_id).is_some_and(|c| c.live) {
            return Err(invalid(
                "(#100) Invalid parameter: Live comments can't receive public replies",
            ));
        }
        Ok(text)
    }

    /// A comment ID no comment or public reply has.
    fn new_comment_id(&self) -> String {
        loop {
            let id = comment_id();
            let taken = self.comments.contains_key(&id)
                || self.public_replies.iter().any(|r| r.reply_id == id);
            if !taken {
                return id;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn log_replies_request(
        &mut self,
        method: &str,
        version: &str,
        comment_id: &str,
        token: Option<&str>,
        text: Option<&str>,
        status: Option<u16>,
        answer: &Answer,
        fault: Option<&'static str>,
        now: DateTime<Utc>,
    ) {
        let ig_id = self.caller_hint(comment_id, token);
        tracing::info!(
            method,
            ig_id = %ig_id,
            comment_id,
            status,
            code = answer.code,
            subcode = answer.subcode,
            fault,
            "public replies request"
        );
        self.log.push(LoggedRequest {
            seq: self.next_seq(),
            endpoint: ENDPOINT_REPLIES.to_owned(),
            method: method.to_owned(),
            at: now,
            version: version.to_owned(),
            ig_id,
            comment_id: Some(comment_id.to_owned()),
            recipient_id: None,
            token_fingerprint: token.map(token_fingerprint),
            text_len: text.map(str::len),
            text: text.map(str::to_owned),
            status,
            code: answer.code,
            subcode: answer.subcode,
            message_id: None,
            reply_id: answer.message_id.clone(),
            fault: fault.map(str::to_owned),
            subscribed_fields: None,
        });
    }
}

/// One reply as `GET .../replies` shows it, with the fields asked for.
fn reply_fields(r: &PublicReply, fields: &[String]) -> Value {
    let mut out = Map::new();
    for field in fields {
        let value = match field.as_str() {
            "id" => json!(r.reply_id),
            "text" => json!(r.text),
            "from" => json!({ "id": r.ig_id, "username": username_for(&r.ig_id) }),
            "username" => json!(username_for(&r.ig_id)),
            "timestamp" => json!(r.at.format("%Y-%m-%dT%H:%M:%S%z").to_string()),
            "parent_id" => json!(r.comment_id),
            _ => continue,
        };
        out.insert(field.clone(), value);
    }
    if !out.contains_key("id") {
        // Meta always includes the object's ID.
        out.insert("id".to_owned(), json!(r.reply_id));
    }
    Value::Object(out)
}
