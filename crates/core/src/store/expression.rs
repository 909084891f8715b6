//! DynamoDB update and condition expressions built from the lifecycle's values, with generated placeholder
//! names so reserved words (`status`) never matter and every placeholder used is defined.

use super::MAX_ERROR_MESSAGE_BYTES;
use crate::comment::{format_time, truncate_to_bytes};
use crate::lifecycle::{
    CommentStatus, ErrorFields, Precondition, PublicPrecondition, PublicReplyMove,
    PublicReplyStatus, ReplyChoice, StatusReason, Transition, attr, due,
};
use crate::meta::TRANSIENT_CODES;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

#[derive(Debug, Default)]
pub(crate) struct Expression {
    pub(crate) names: HashMap<String, String>,
    pub(crate) values: HashMap<String, AttributeValue>,
    sets: Vec<String>,
    removes: Vec<String>,
}

impl Expression {
    pub(crate) fn name(&mut self, attribute: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| a.as_str() == attribute) {
            return placeholder.clone();
        }
        let placeholder = format!("#a{}", self.names.len());
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    pub(crate) fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn set(&mut self, attribute: &str, value: AttributeValue) {
        let name = self.name(attribute);
        let value = self.value(value);
        self.sets.push(format!("{name} = {value}"));
    }

    fn remove(&mut self, attribute: &str) {
        let name = self.name(attribute);
        self.removes.push(name);
    }

    fn set_or_remove(&mut self, attribute: &str, value: Option<AttributeValue>) {
        match value {
            Some(v) => self.set(attribute, v),
            None => self.remove(attribute),
        }
    }

    /// `, a = b, ...` and ` REMOVE c, ...` (each empty when there is nothing), to extend a hand-written update.
    pub(crate) fn tails(&self) -> (String, String) {
        let sets = self.sets.iter().map(|s| format!(", {s}")).collect();
        let removes = if self.removes.is_empty() {
            String::new()
        } else {
            format!(" REMOVE {}", self.removes.join(", "))
        };
        (sets, removes)
    }

    pub(crate) fn update_expression(&self) -> String {
        let mut out = format!("SET {}", self.sets.join(", "));
        if !self.removes.is_empty() {
            out.push_str(&format!(" REMOVE {}", self.removes.join(", ")));
        }
        out
    }

    /// The update for `transition` of comment `comment_id` at `now` (see [`Transition`] for each field).
    pub(crate) fn transition(
        &mut self,
        comment_id: &str,
        transition: &Transition,
        now: DateTime<Utc>,
    ) {
        self.set(attr::STATUS, s(transition.status.as_str()));
        self.set(attr::UPDATED_AT, s(&format_time(now)));
        self.set_or_remove(
            attr::STATUS_REASON,
            transition.reason.as_ref().map(|r| s(&r.word())),
        );
        match transition.due_at {
            Some(at) => {
                self.set(attr::DUE_AT, s(&format_time(at)));
                // Items of the previous version have no shard yet; setting it again costs nothing.
                self.set(attr::DUE_SHARD, s(&due::shard_of(comment_id)));
            }
            // Out of the index, and nothing left that reads as if it were still in it.
            None => {
                self.remove(attr::DUE_AT);
                self.remove(attr::DUE_SHARD);
            }
        }
        self.remove(attr::LEGACY_NEXT_ATTEMPT_AT);
        if let Some(redrives) = transition.redrives {
            self.set(attr::REDRIVES, AttributeValue::N(redrives.to_string()));
        }
        self.remove(attr::CLAIM_ID);
        self.remove(attr::CLAIMED_UNTIL);
        if let Some(errors) = &transition.errors {
            let number = |n: Option<u32>| n.map(|n| AttributeValue::N(n.to_string()));
            self.set_or_remove(attr::HTTP_STATUS, number(errors.http_status.map(u32::from)));
            self.set_or_remove(attr::ERROR_CODE, number(errors.code));
            self.set_or_remove(attr::ERROR_SUBCODE, number(errors.subcode));
            self.set_or_remove(
                attr::ERROR_MESSAGE,
                errors
                    .message
                    .as_deref()
                    .map(|m| s(truncate_to_bytes(m, MAX_ERROR_MESSAGE_BYTES))),
            );
            self.set_or_remove(attr::FBTRACE_ID, errors.fbtrace_id.as_deref().map(s));
        }
        if let Some(reply) = &transition.reply {
            self.set(attr::REPLIED_AT, s(&format_time(reply.replied_at)));
            self.set(attr::CONFIRMED, AttributeValue::Bool(reply.confirmed));
            if let Some(m) = &reply.message_id {
                self.set(attr::MESSAGE_ID, s(m));
            }
            if let Some(r) = &reply.recipient_id {
                self.set(attr::RECIPIENT_ID, s(r));
            }
        }
        if transition.unconfirmed_send {
            self.set(attr::UNCONFIRMED_SEND, AttributeValue::Bool(true));
        }
        if let Some(fp) = &transition.token_fingerprint {
            self.set(attr::TOKEN_FINGERPRINT, s(fp));
        }
        if let Some(turn) = transition.queue_turn {
            self.set(attr::QUEUE_TURN, s(&format_time(turn)));
        }
        if let Some(choice) = &transition.choice {
            self.choice(choice);
        }
        if let Some(claim_id) = &transition.public_reply_claim {
            self.set(
                attr::PUBLIC_REPLY_STATUS,
                s(PublicReplyStatus::Posting.as_str()),
            );
            self.set(attr::PUBLIC_REPLY_CLAIM, s(claim_id));
            self.set(attr::PUBLIC_REPLY_ATTEMPTS, AttributeValue::N("1".into()));
        }
    }

    /// The update for a public-reply move (see [`PublicReplyMove`]) of comment `comment_id` at `now`.
    pub(crate) fn public_reply(
        &mut self,
        comment_id: &str,
        mv: &PublicReplyMove,
        now: DateTime<Utc>,
    ) {
        self.set(attr::PUBLIC_REPLY_STATUS, s(mv.status().as_str()));
        self.set(attr::UPDATED_AT, s(&format_time(now)));
        let due = |e: &mut Self, at: Option<DateTime<Utc>>| match at {
            Some(at) => {
                e.set(attr::DUE_AT, s(&format_time(at)));
                e.set(attr::DUE_SHARD, s(&due::shard_of(comment_id)));
            }
            None => {
                e.remove(attr::DUE_AT);
                e.remove(attr::DUE_SHARD);
            }
        };
        match mv {
            PublicReplyMove::Claim { claim_id, until } => {
                self.set(attr::PUBLIC_REPLY_CLAIM, s(claim_id));
                let attempts = self.name(attr::PUBLIC_REPLY_ATTEMPTS);
                let zero = self.value(AttributeValue::N("0".into()));
                let one = self.value(AttributeValue::N("1".into()));
                self.sets.push(format!(
                    "{attempts} = if_not_exists({attempts}, {zero}) + {one}"
                ));
                due(self, Some(*until));
                return; // the claim stays
            }
            PublicReplyMove::Posted { reply_id, at, by } => {
                self.set_or_remove(attr::PUBLIC_REPLY_ID, reply_id.as_deref().map(s));
                self.set(attr::PUBLIC_REPLIED_AT, s(&format_time(*at)));
                self.set(attr::PUBLIC_REPLY_CONFIRMED_BY, s(by.as_str()));
                self.remove(attr::PUBLIC_REPLY_ERROR);
                due(self, None);
            }
            PublicReplyMove::Retry {
                at,
                maybe_posted,
                error,
            } => {
                if *maybe_posted {
                    self.set(attr::PUBLIC_REPLY_UNCONFIRMED, AttributeValue::Bool(true));
                }
                self.set_or_remove(attr::PUBLIC_REPLY_ERROR, error_line(error).map(|e| s(&e)));
                due(self, Some(*at));
            }
            PublicReplyMove::Failed { error } => {
                self.set_or_remove(attr::PUBLIC_REPLY_ERROR, error_line(error).map(|e| s(&e)));
                due(self, None);
            }
            PublicReplyMove::Queue {
                redrive_at,
                maybe_posted,
            } => {
                if *maybe_posted {
                    self.set(attr::PUBLIC_REPLY_UNCONFIRMED, AttributeValue::Bool(true));
                }
                due(self, Some(*redrive_at));
            }
        }
        self.remove(attr::PUBLIC_REPLY_CLAIM);
    }

    /// The condition expression for a public-reply move.
    pub(crate) fn public_condition(&mut self, precondition: &PublicPrecondition<'_>) -> String {
        let status = self.name(attr::PUBLIC_REPLY_STATUS);
        let word = |e: &mut Self, st: PublicReplyStatus| e.value(s(st.as_str()));
        match *precondition {
            PublicPrecondition::Queued => {
                let queued = word(self, PublicReplyStatus::Queued);
                format!("{status} = {queued}")
            }
            PublicPrecondition::Claimed(claim_id) => {
                let posting = word(self, PublicReplyStatus::Posting);
                let claim = self.name(attr::PUBLIC_REPLY_CLAIM);
                let id = self.value(s(claim_id));
                format!("{status} = {posting} AND {claim} = {id}")
            }
            PublicPrecondition::Due {
                status: was,
                due_at,
            } => {
                let was = word(self, was);
                let due = self.name(attr::DUE_AT);
                let at = self.value(s(due_at));
                format!("{status} = {was} AND {due} = {at}")
            }
            PublicPrecondition::Unsettled => {
                let [q, p, r] = [
                    PublicReplyStatus::Queued,
                    PublicReplyStatus::Posting,
                    PublicReplyStatus::Retry,
                ]
                .map(|st| word(self, st));
                format!("{status} IN ({q}, {p}, {r})")
            }
        }
    }

    /// Freezes a reply decided now; the write must then also require [`Expression::no_decision_yet`].
    pub(crate) fn choice(&mut self, choice: &ReplyChoice) {
        self.set_or_remove(attr::CAMPAIGN_ID, choice.campaign_id.as_deref().map(s));
        self.set_or_remove(
            attr::REPLY_VARIANT,
            choice.variant.map(|v| AttributeValue::N(v.to_string())),
        );
        self.set(attr::REPLY_TEXT, s(&choice.text));
        self.set_or_remove(
            attr::PUBLIC_REPLY_TEXT,
            choice.public_reply.as_deref().map(s),
        );
    }

    /// No reply decision is frozen on the item yet (so two racing deciders cannot leave different texts).
    pub(crate) fn no_decision_yet(&mut self) -> String {
        let text = self.name(attr::REPLY_TEXT);
        format!("attribute_not_exists({text})")
    }

    /// The condition for `precondition`, and that no decision is frozen yet when `transition` freezes one.
    pub(crate) fn condition_for(
        &mut self,
        precondition: &Precondition<'_>,
        transition: &Transition,
    ) -> String {
        let condition = self.condition(precondition);
        match &transition.choice {
            Some(_) => format!("({condition}) AND {}", self.no_decision_yet()),
            None => condition,
        }
    }

    /// The condition expression for `precondition`.
    pub(crate) fn condition(&mut self, precondition: &Precondition<'_>) -> String {
        let status = self.name(attr::STATUS);
        match *precondition {
            Precondition::Pending => {
                let v = self.status_value(CommentStatus::Pending);
                format!("{status} = {v}")
            }
            Precondition::Claimed(claim_id) => {
                let sending = self.status_value(CommentStatus::Sending);
                let claim = self.name(attr::CLAIM_ID);
                let id = self.value(s(claim_id));
                format!("{status} = {sending} AND {claim} = {id}")
            }
            Precondition::Due {
                status: was,
                due_at,
                legacy,
                open_at,
                claim_stale_at,
            } => {
                let was = self.status_value(was);
                let due_name = if legacy {
                    attr::LEGACY_NEXT_ATTEMPT_AT
                } else {
                    attr::DUE_AT
                };
                let due = self.name(due_name);
                let at = self.value(s(due_at));
                let mut c = format!("{status} = {was} AND {due} = {at}");
                if let Some(open_at) = open_at {
                    let deadline = self.name(attr::REPLY_DEADLINE);
                    let cutoff = self.value(s(&format_time(open_at)));
                    c.push_str(&format!(" AND {deadline} > {cutoff}"));
                }
                if let Some(stale_at) = claim_stale_at {
                    let until = self.name(attr::CLAIMED_UNTIL);
                    let cutoff = self.value(s(&format_time(stale_at)));
                    c.push_str(&format!(" AND {until} <= {cutoff}"));
                }
                c
            }
            Precondition::Redrivable {
                now,
                stuck_pending_before,
            } => self.redrivable(&status, now, stuck_pending_before),
            Precondition::Unanswered { open_at } => {
                let skipped = self.status_value(CommentStatus::Skipped);
                let reason = self.name(attr::STATUS_REASON);
                let unmatched = self.value(s(&StatusReason::NoMatchingCampaign.word()));
                let deadline = self.name(attr::REPLY_DEADLINE);
                let cutoff = self.value(s(&format_time(open_at)));
                format!("{status} = {skipped} AND {reason} = {unmatched} AND {deadline} > {cutoff}")
            }
        }
    }

    fn redrivable(
        &mut self,
        status: &str,
        now: DateTime<Utc>,
        stuck_pending_before: DateTime<Utc>,
    ) -> String {
        let id = self.name(attr::COMMENT_ID);
        let deadline = self.name(attr::REPLY_DEADLINE);
        let received = self.name(attr::RECEIVED_AT);
        let reason = self.name(attr::STATUS_REASON);
        let code = self.name(attr::ERROR_CODE);
        let http = self.name(attr::HTTP_STATUS);
        let now = self.value(s(&format_time(now)));
        let stuck = self.value(s(&format_time(stuck_pending_before)));
        let retry = self.status_value(CommentStatus::Retry);
        let token_invalid = self.status_value(CommentStatus::TokenInvalid);
        let pending = self.status_value(CommentStatus::Pending);
        let failed = self.status_value(CommentStatus::Failed);
        let http500 = self.value(AttributeValue::N("500".to_owned()));
        let http5 = self.value(s("http_5"));
        let codes: Vec<String> = TRANSIENT_CODES
            .iter()
            .map(|c| self.value(AttributeValue::N(c.to_string())))
            .collect();
        let transient_reasons: Vec<StatusReason> = StatusReason::FIXED
            .iter()
            .filter(|r| r.is_transient())
            .cloned()
            .chain(TRANSIENT_CODES.iter().map(|c| StatusReason::MetaError(*c)))
            .collect();
        let reasons: Vec<String> = transient_reasons
            .iter()
            .map(|r| self.value(s(&r.word())))
            .collect();
        format!(
            "attribute_exists({id}) AND {deadline} > {now} AND ({status} IN ({retry}, {token_invalid}) \
             OR ({status} = {pending} AND {received} < {stuck}) OR ({status} = {failed} \
             AND ({code} IN ({}) OR {http} >= {http500} OR {reason} IN ({}) OR begins_with({reason}, {http5}))))",
            codes.join(", "),
            reasons.join(", ")
        )
    }

    fn status_value(&mut self, status: CommentStatus) -> String {
        self.value(s(status.as_str()))
    }
}

/// Meta's error as one short line for the console (`613/2534040: message`, `HTTP 502`), or `None` without one.
pub(crate) fn error_line(error: &ErrorFields) -> Option<String> {
    let code = match (error.code, error.subcode) {
        (Some(c), Some(sub)) => Some(format!("{c}/{sub}")),
        (Some(c), None) => Some(c.to_string()),
        _ => error.http_status.map(|h| format!("HTTP {h}")),
    };
    let message = error
        .message
        .as_deref()
        .map(|m| truncate_to_bytes(m, MAX_ERROR_MESSAGE_BYTES));
    match (code, message) {
        (Some(c), Some(m)) => Some(format!("{c}: {m}")),
        (Some(c), None) => Some(c),
        (None, m) => m.map(str::to_owned),
    }
}

pub(crate) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{ErrorFields, ReplyFields};

    #[test]
    fn expressions_name_every_attribute_through_a_placeholder() {
        let mut e = Expression::default();
        e.set("status", s("RETRY"));
        e.remove("claim_id");
        e.set_or_remove("error_code", None);
        let status_again = e.name("status");
        assert_eq!(e.update_expression(), "SET #a0 = :v0 REMOVE #a1, #a2");
        assert_eq!(status_again, "#a0");
        assert_eq!(e.names.get("#a0").map(String::as_str), Some("status"));
    }

    #[test]
    fn long_error_messages_are_cut_on_a_character_boundary() {
        assert_eq!(truncate_to_bytes("abc", 5), "abc");
        assert_eq!(truncate_to_bytes("aé", 2), "a");
    }

    /// Every `#name` and `:value` token of `text` is defined in the expression.
    fn assert_placeholders_defined(e: &Expression, text: &str) {
        for token in
            text.split(|c: char| !(c.is_alphanumeric() || c == '#' || c == ':' || c == '_'))
        {
            if token.starts_with('#') {
                assert!(e.names.contains_key(token), "{token} in {text}");
            }
            if token.starts_with(':') {
                assert!(e.values.contains_key(token), "{token} in {text}");
            }
        }
    }

    #[test]
    fn the_condition_names_every_placeholder_it_uses() {
        let now = Utc::now();
        for precondition in [
            Precondition::Pending,
            Precondition::Claimed("c1"),
            Precondition::Due {
                status: CommentStatus::Sending,
                due_at: "2026-01-01T00:00:00Z",
                legacy: false,
                open_at: Some(now),
                claim_stale_at: Some(now),
            },
            Precondition::Redrivable {
                now,
                stuck_pending_before: now,
            },
        ] {
            let mut e = Expression::default();
            let full = Transition::new(CommentStatus::Replied, Some(StatusReason::Timeout))
                .at(now)
                .errors(ErrorFields {
                    code: Some(2),
                    ..ErrorFields::default()
                })
                .replied(ReplyFields {
                    replied_at: now,
                    confirmed: false,
                    message_id: Some("m".into()),
                    recipient_id: None,
                })
                .unconfirmed_send(true)
                .token_fingerprint("ab12")
                .queue_turn(now);
            e.transition("c1", &full.redriven(2), now);
            let condition = e.condition(&precondition);
            assert_placeholders_defined(&e, &e.update_expression());
            assert_placeholders_defined(&e, &condition);
        }
    }

    #[test]
    fn an_operator_may_redrive_only_transient_failures_and_waiting_comments() {
        let now = Utc::now();
        let mut e = Expression::default();
        let condition = e.condition(&Precondition::Redrivable {
            now,
            stuck_pending_before: now,
        });
        let values: Vec<String> = e
            .values
            .values()
            .filter_map(|v| v.as_s().ok().cloned())
            .collect();
        for word in [
            "RETRY",
            "TOKEN_INVALID",
            "rate_limited",
            "meta_error_613",
            "timeout",
        ] {
            assert!(
                values.iter().any(|v| v == word),
                "{word} missing: {condition}"
            );
        }
        for word in [
            "REPLIED",
            "SKIPPED",
            "EXPIRED",
            "person_unavailable",
            "meta_error_100",
        ] {
            assert!(
                !values.iter().any(|v| v == word),
                "{word} present: {condition}"
            );
        }
    }
}
