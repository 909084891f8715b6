//! The comments table as the replier moves a comment through its lifecycle. Every write is conditional on the
//! state the decision was made from: `PENDING` for decisions taken before a claim, the claim ID while sending,
//! and the exact `status`/`next_attempt_at` pair the sweep read. A writer that lost a race therefore changes
//! nothing, and exactly one invocation can hold a comment at a time.

use crate::attr;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use reply_core::comment::{CommentStatus, format_time};
use reply_core::store::StoreError;
use std::collections::HashMap;

/// A comment this invocation now holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub claim_id: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// An earlier attempt may have been delivered.
    pub unconfirmed_send: bool,
}

/// Meta's error details, kept on the item for people reading the console.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorFields {
    pub http_status: Option<u16>,
    pub code: Option<u32>,
    pub subcode: Option<u32>,
    pub message: Option<String>,
    pub fbtrace_id: Option<String>,
}

/// A status change. Attributes in `set` are written, those in `remove` deleted; `claim_id` and
/// `claimed_until` are always removed.
#[derive(Debug, Clone)]
pub struct Transition {
    pub status: CommentStatus,
    /// `status_reason`; `None` removes it.
    pub reason: Option<String>,
    /// `None` removes `next_attempt_at`, which takes the item out of the `retry_due` index.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// `None` leaves earlier error details as they are; `Some` replaces them (absent fields are removed).
    pub errors: Option<ErrorFields>,
    pub set: Vec<(&'static str, AttributeValue)>,
}

impl Transition {
    pub fn new(status: CommentStatus, reason: Option<&str>) -> Self {
        Self {
            status,
            reason: reason.map(str::to_owned),
            next_attempt_at: None,
            errors: None,
            set: Vec::new(),
        }
    }

    pub fn at(mut self, next_attempt_at: DateTime<Utc>) -> Self {
        self.next_attempt_at = Some(next_attempt_at);
        self
    }

    pub fn errors(mut self, errors: ErrorFields) -> Self {
        self.errors = Some(errors);
        self
    }

    pub fn set(mut self, name: &'static str, value: AttributeValue) -> Self {
        self.set.push((name, value));
        self
    }
}

/// What a transition requires of the item.
#[derive(Debug, Clone, Copy)]
pub enum Precondition<'a> {
    /// Still `PENDING` (nobody claimed it).
    Pending,
    /// Still `SENDING` under this claim.
    Claimed(&'a str),
    /// Still exactly as the sweep read it from the `retry_due` index; with `open_at`, also a reply deadline
    /// later than that time.
    Due {
        status: CommentStatus,
        next_attempt_at: &'a str,
        open_at: Option<DateTime<Utc>>,
    },
}

/// Whether a conditional write happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Yes,
    /// The condition did not hold: someone else moved the comment on.
    ConditionFailed,
}

/// One key of the `retry_due` index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueComment {
    pub comment_id: String,
    pub status: CommentStatus,
    /// As stored (text), so the sweep's condition compares exactly what it read.
    pub next_attempt_at: String,
}

/// The comments table, seen by the replier.
#[derive(Debug, Clone)]
pub struct ReplyStore {
    client: Client,
    table: String,
}

impl ReplyStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn key(comment_id: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([(attr::COMMENT_ID.to_owned(), s(comment_id))])
    }

    /// `PENDING -> SENDING` under a fresh claim, counting the attempt. `None` when the comment is not
    /// `PENDING` any more (claimed elsewhere or finished).
    pub async fn claim(
        &self,
        comment_id: &str,
        now: DateTime<Utc>,
        claimed_until: DateTime<Utc>,
    ) -> Result<Option<Claim>, StoreError> {
        let claim_id = format!("{:032x}", rand::random::<u128>());
        let until = s(&format_time(claimed_until));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(comment_id)))
            .update_expression(
                "SET #status = :sending, #claim_id = :claim_id, #claimed_until = :until, #next = :until, \
                 #last_attempt_at = :now, #updated_at = :now, #attempts = if_not_exists(#attempts, :zero) + :one",
            )
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#claim_id", attr::CLAIM_ID)
            .expression_attribute_names("#claimed_until", attr::CLAIMED_UNTIL)
            .expression_attribute_names("#next", attr::NEXT_ATTEMPT_AT)
            .expression_attribute_names("#last_attempt_at", attr::LAST_ATTEMPT_AT)
            .expression_attribute_names("#updated_at", attr::UPDATED_AT)
            .expression_attribute_names("#attempts", attr::ATTEMPTS)
            .expression_attribute_values(":sending", s(CommentStatus::Sending.as_str()))
            .expression_attribute_values(":pending", s(CommentStatus::Pending.as_str()))
            .expression_attribute_values(":claim_id", s(&claim_id))
            .expression_attribute_values(":until", until)
            .expression_attribute_values(":now", s(&format_time(now)))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => {
                let item = out.attributes().cloned().unwrap_or_default();
                let attempts = item
                    .get(attr::ATTEMPTS)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
                let unconfirmed_send = item
                    .get(attr::UNCONFIRMED_SEND)
                    .and_then(|v| v.as_bool().ok())
                    .copied()
                    .unwrap_or(false);
                Ok(Some(Claim {
                    claim_id,
                    attempts,
                    unconfirmed_send,
                }))
            }
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(backend(e, "claiming a comment")),
        }
    }

    /// Applies `transition` if `precondition` holds.
    pub async fn transition(
        &self,
        comment_id: &str,
        precondition: Precondition<'_>,
        transition: &Transition,
        now: DateTime<Utc>,
    ) -> Result<Written, StoreError> {
        let mut expr = Expression::default();
        expr.set(attr::STATUS, s(transition.status.as_str()));
        expr.set(attr::UPDATED_AT, s(&format_time(now)));
        match &transition.reason {
            Some(reason) => expr.set(attr::STATUS_REASON, s(reason)),
            None => expr.remove(attr::STATUS_REASON),
        }
        match transition.next_attempt_at {
            Some(at) => expr.set(attr::NEXT_ATTEMPT_AT, s(&format_time(at))),
            None => expr.remove(attr::NEXT_ATTEMPT_AT),
        }
        expr.remove(attr::CLAIM_ID);
        expr.remove(attr::CLAIMED_UNTIL);
        if let Some(errors) = &transition.errors {
            let number = |n: Option<u32>| n.map(|n| AttributeValue::N(n.to_string()));
            expr.set_or_remove(attr::HTTP_STATUS, number(errors.http_status.map(u32::from)));
            expr.set_or_remove(attr::ERROR_CODE, number(errors.code));
            expr.set_or_remove(attr::ERROR_SUBCODE, number(errors.subcode));
            expr.set_or_remove(
                attr::ERROR_MESSAGE,
                errors.message.as_deref().map(|m| s(&truncate(m, 500))),
            );
            expr.set_or_remove(attr::FBTRACE_ID, errors.fbtrace_id.as_deref().map(s));
        }
        for (name, value) in &transition.set {
            expr.set(name, value.clone());
        }
        let status = expr.name(attr::STATUS);
        let condition = match precondition {
            Precondition::Pending => {
                let v = expr.value(s(CommentStatus::Pending.as_str()));
                format!("{status} = {v}")
            }
            Precondition::Claimed(claim_id) => {
                let sending = expr.value(s(CommentStatus::Sending.as_str()));
                let claim = expr.name(attr::CLAIM_ID);
                let id = expr.value(s(claim_id));
                format!("{status} = {sending} AND {claim} = {id}")
            }
            Precondition::Due {
                status: was,
                next_attempt_at,
                open_at,
            } => {
                let was = expr.value(s(was.as_str()));
                let next = expr.name(attr::NEXT_ATTEMPT_AT);
                let at = expr.value(s(next_attempt_at));
                let mut c = format!("{status} = {was} AND {next} = {at}");
                if let Some(open_at) = open_at {
                    let deadline = expr.name(attr::REPLY_DEADLINE);
                    let cutoff = expr.value(s(&format_time(open_at)));
                    c.push_str(&format!(" AND {deadline} > {cutoff}"));
                }
                c
            }
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(comment_id)))
            .update_expression(expr.update_expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values(Some(expr.values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Written::Yes),
            Err(e) if is_condition_failure(&e) => Ok(Written::ConditionFailed),
            Err(e) => Err(backend(e, "updating a comment's status")),
        }
    }

    /// Up to `limit` comments of `status` whose `next_attempt_at` has come, oldest first, from the sparse
    /// `retry_due` index (one page per call; pass the returned key to continue).
    pub async fn due_page(
        &self,
        status: CommentStatus,
        now: DateTime<Utc>,
        limit: usize,
        start: Option<HashMap<String, AttributeValue>>,
    ) -> Result<(Vec<DueComment>, Option<HashMap<String, AttributeValue>>), StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(attr::RETRY_DUE_INDEX)
            .key_condition_expression("#status = :status AND #next <= :now")
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#next", attr::NEXT_ATTEMPT_AT)
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":now", s(&format_time(now)))
            .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| backend(e, "querying the retry_due index"))?;
        let due = out
            .items()
            .iter()
            .filter_map(|item| {
                Some(DueComment {
                    comment_id: item.get(attr::COMMENT_ID)?.as_s().ok()?.clone(),
                    status,
                    next_attempt_at: item.get(attr::NEXT_ATTEMPT_AT)?.as_s().ok()?.clone(),
                })
            })
            .collect();
        Ok((due, out.last_evaluated_key().cloned()))
    }
}

/// An update expression with generated placeholder names, so reserved words (`status`) never matter.
#[derive(Default)]
struct Expression {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    sets: Vec<String>,
    removes: Vec<String>,
}

impl Expression {
    fn name(&mut self, attribute: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| a.as_str() == attribute) {
            return placeholder.clone();
        }
        let placeholder = format!("#a{}", self.names.len());
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
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

    fn update_expression(&self) -> String {
        let mut out = format!("SET {}", self.sets.join(", "));
        if !self.removes.is_empty() {
            out.push_str(&format!(" REMOVE {}", self.removes.join(", ")));
        }
        out
    }
}

pub(crate) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub(crate) fn is_condition_failure<R>(e: &SdkError<UpdateItemError, R>) -> bool {
    matches!(e, SdkError::ServiceError(se) if se.err().is_conditional_check_failed_exception())
}

pub(crate) fn backend<E>(e: E, doing: &'static str) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    StoreError::Backend(anyhow::Error::new(e).context(doing))
}

fn truncate(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("aé", 2), "a");
    }
}
