//! The DynamoDB adapter of the comments table. Items are plain attribute maps written with `serde_dynamo`;
//! every write that must happen once is a conditional write, so retries and races are safe by construction.

use super::expression::{Expression, s};
use super::{
    CommentStore, CommentTable, DuePage, Inserted, Item, PublicReplyConfirmations, Requeued,
    StoreError,
};
use crate::comment::{CommentRecord, format_time};
use crate::lifecycle::{
    Claim, CommentStatus, ConfirmedBy, DueComment, Precondition, PublicPrecondition,
    PublicReplyMove, PublicReplyState, PublicReplyStatus, ReplyChoice, Transition, Written, attr,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata as _, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;

/// The longest one DynamoDB request may take, SDK retries included (the webhook must answer Meta within 5 s).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(4);

/// Timeouts for DynamoDB requests: at most `total` per request, retries included, each attempt at most half
/// of it; the SDK's retries are thereby bounded too.
pub fn request_timeouts(total: Duration) -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(total / 2)
        .operation_attempt_timeout(total / 2)
        .operation_timeout(total)
        .build()
}

/// `client` with every request bounded by `total` (see [`request_timeouts`]).
pub fn with_request_timeout(client: &Client, total: Duration) -> Client {
    let config = client
        .config()
        .to_builder()
        .timeout_config(request_timeouts(total))
        .build();
    Client::from_conf(config)
}

/// The shared AWS configuration: region, credentials and endpoint (`AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB
/// Local) from the standard sources, with timeouts that keep a stalled request inside Meta's 5 s budget.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(request_timeouts(DEFAULT_REQUEST_TIMEOUT))
        .load()
        .await
}

#[derive(Debug, Clone)]
pub struct DynamoCommentStore {
    client: Client,
    table: String,
}

impl DynamoCommentStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn key(comment_id: &str) -> Item {
        HashMap::from([(attr::COMMENT_ID.to_owned(), s(comment_id))])
    }

    /// One conditional UpdateItem for `transition` under `precondition`.
    async fn update(
        &self,
        comment_id: &str,
        precondition: Precondition<'_>,
        transition: &Transition,
        now: DateTime<Utc>,
        return_old: bool,
    ) -> Result<Option<Item>, SdkError<UpdateItemError>> {
        let mut expr = Expression::default();
        expr.transition(comment_id, transition, now);
        let condition = expr.condition_for(&precondition, transition);
        self.conditional_update(
            comment_id,
            expr,
            condition,
            return_old.then_some(ReturnValue::AllOld),
        )
        .await
        .map(Some)
    }

    /// One UpdateItem of `expr` under `condition`; the item as `returning` asks (empty without).
    async fn conditional_update(
        &self,
        comment_id: &str,
        expr: Expression,
        condition: String,
        returning: Option<ReturnValue>,
    ) -> Result<Item, SdkError<UpdateItemError>> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(comment_id)))
            .update_expression(expr.update_expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values(Some(expr.values))
            .set_return_values(returning)
            .send()
            .await?;
        Ok(out.attributes.unwrap_or_default())
    }
}

#[async_trait]
impl CommentStore for DynamoCommentStore {
    async fn insert_new(&self, record: &CommentRecord) -> Result<Inserted, StoreError> {
        put_new(
            &self.client,
            &self.table,
            serde_dynamo::to_item(record)?,
            attr::COMMENT_ID,
            "storing a comment",
        )
        .await
    }
}

/// Writes `item` unless an item with its key (the attribute `key`) exists; never overwrites, so a
/// redelivery or a racing writer is [`Inserted::AlreadyStored`].
pub(crate) async fn put_new(
    client: &Client,
    table: &str,
    item: Item,
    key: &str,
    doing: &'static str,
) -> Result<Inserted, StoreError> {
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#id)")
        .expression_attribute_names("#id", key)
        .send()
        .await;
    match result {
        Ok(_) => Ok(Inserted::Stored),
        Err(SdkError::ServiceError(e))
            if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
        {
            Ok(Inserted::AlreadyStored)
        }
        Err(e) => Err(StoreError::backend(doing, e)),
    }
}

#[async_trait]
impl PublicReplyConfirmations for DynamoCommentStore {
    async fn confirm_public_reply(
        &self,
        comment_id: &str,
        reply_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Written, StoreError> {
        // A read first (half a read unit) rather than a conditional write (a write unit even when its
        // condition fails): most own replies are public replies already recorded.
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(comment_id)))
            .projection_expression("#p")
            .expression_attribute_names("#p", attr::PUBLIC_REPLY_STATUS)
            .send()
            .await
            .map_err(|e| StoreError::backend("reading a comment's public reply", e))?
            .item
            .unwrap_or_default();
        let waiting = item
            .get(attr::PUBLIC_REPLY_STATUS)
            .and_then(|v| v.as_s().ok())
            .and_then(|w| PublicReplyStatus::from_word(w))
            .is_some_and(|s| matches!(s, PublicReplyStatus::Retry | PublicReplyStatus::Queued));
        if !waiting {
            return Ok(Written::ConditionFailed);
        }
        let posted = PublicReplyMove::Posted {
            reply_id: Some(reply_id.to_owned()),
            at: now,
            by: ConfirmedBy::Webhook,
        };
        self.public_reply(comment_id, PublicPrecondition::Unsettled, &posted, now)
            .await
    }
}

#[async_trait]
impl CommentTable for DynamoCommentStore {
    async fn claim(
        &self,
        comment_id: &str,
        now: DateTime<Utc>,
        claimed_until: DateTime<Utc>,
        choice: Option<&ReplyChoice>,
    ) -> Result<Option<Claim>, StoreError> {
        let claim_id = crate::lifecycle::new_claim_id();
        let until = s(&format_time(claimed_until));
        // A reply decided now is frozen with the claim, and only where no decision is on the item yet.
        let mut freeze = Expression::default();
        let also_require = match choice {
            Some(choice) => {
                freeze.choice(choice);
                format!(" AND {}", freeze.no_decision_yet())
            }
            None => String::new(),
        };
        let (also_set, removes) = freeze.tails();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(comment_id)))
            .update_expression(format!(
                "SET #status = :sending, #claim_id = :claim_id, #claimed_until = :until, \
                 #last_attempt_at = :now, #updated_at = :now, #attempts = if_not_exists(#attempts, :zero) + :one{also_set}{removes}",
            ))
            .condition_expression(format!("#status = :pending{also_require}"))
            .set_expression_attribute_names(Some(freeze.names))
            .set_expression_attribute_values(Some(freeze.values))
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#claim_id", attr::CLAIM_ID)
            .expression_attribute_names("#claimed_until", attr::CLAIMED_UNTIL)
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
            Err(e) => Err(StoreError::backend("claiming a comment", e)),
        }
    }

    async fn transition(
        &self,
        comment_id: &str,
        precondition: Precondition<'_>,
        transition: &Transition,
        now: DateTime<Utc>,
    ) -> Result<Written, StoreError> {
        match self
            .update(comment_id, precondition, transition, now, false)
            .await
        {
            Ok(_) => Ok(Written::Yes),
            Err(e) if is_condition_failure(&e) => Ok(Written::ConditionFailed),
            Err(e) => Err(StoreError::backend("updating a comment's status", e)),
        }
    }

    async fn public_reply(
        &self,
        comment_id: &str,
        precondition: PublicPrecondition<'_>,
        change: &PublicReplyMove,
        now: DateTime<Utc>,
    ) -> Result<Written, StoreError> {
        let mut expr = Expression::default();
        expr.public_reply(comment_id, change, now);
        let condition = expr.public_condition(&precondition);
        match self
            .conditional_update(comment_id, expr, condition, None)
            .await
        {
            Ok(_) => Ok(Written::Yes),
            Err(e) if is_condition_failure(&e) => Ok(Written::ConditionFailed),
            Err(e) => Err(StoreError::backend("updating a comment's public reply", e)),
        }
    }

    async fn claim_public_reply(
        &self,
        comment_id: &str,
        claim_id: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<PublicReplyState>, StoreError> {
        let claim = PublicReplyMove::Claim {
            claim_id: claim_id.to_owned(),
            until,
        };
        let mut expr = Expression::default();
        expr.public_reply(comment_id, &claim, now);
        let condition = expr.public_condition(&PublicPrecondition::Queued);
        match self
            .conditional_update(comment_id, expr, condition, Some(ReturnValue::AllNew))
            .await
        {
            Ok(item) => Ok(Some(PublicReplyState {
                attempts: item
                    .get(attr::PUBLIC_REPLY_ATTEMPTS)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1),
                unconfirmed: item
                    .get(attr::PUBLIC_REPLY_UNCONFIRMED)
                    .and_then(|v| v.as_bool().ok())
                    .copied()
                    .unwrap_or(false),
            })),
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(StoreError::backend("claiming a comment's public reply", e)),
        }
    }

    async fn due_page(
        &self,
        shard: &str,
        now: DateTime<Utc>,
        limit: usize,
        start: Option<Item>,
    ) -> Result<DuePage, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(attr::DUE_INDEX)
            .key_condition_expression("#shard = :shard AND #due <= :now")
            .expression_attribute_names("#shard", attr::DUE_SHARD)
            .expression_attribute_names("#due", attr::DUE_AT)
            .expression_attribute_values(":shard", s(shard))
            .expression_attribute_values(":now", s(&format_time(now)))
            .limit(page_limit(limit))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| StoreError::backend("querying the due index", e))?;
        Ok(due_page_of(out, attr::DUE_AT, false))
    }

    async fn legacy_due_page(
        &self,
        status: CommentStatus,
        now: DateTime<Utc>,
        limit: usize,
        start: Option<Item>,
    ) -> Result<DuePage, StoreError> {
        let result = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(attr::LEGACY_RETRY_DUE_INDEX)
            .key_condition_expression("#status = :status AND #next <= :now")
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#next", attr::LEGACY_NEXT_ATTEMPT_AT)
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":now", s(&format_time(now)))
            .limit(page_limit(limit))
            .set_exclusive_start_key(start)
            .send()
            .await;
        match result {
            Ok(out) => Ok(due_page_of(out, attr::LEGACY_NEXT_ATTEMPT_AT, true)),
            // A table created by this version (or upgraded past it) has no such index: nothing to migrate.
            Err(e) if e.code() == Some("ValidationException") => Ok(DuePage::default()),
            Err(e) => Err(StoreError::backend(
                "querying the legacy retry_due index",
                e,
            )),
        }
    }

    async fn requeue(
        &self,
        comment_id: &str,
        precondition: Precondition<'_>,
        transition: &Transition,
        now: DateTime<Utc>,
    ) -> Result<Requeued, StoreError> {
        match self
            .update(comment_id, precondition, transition, now, true)
            .await
        {
            Ok(previous) => Ok(Requeued::Yes {
                previous: previous.unwrap_or_default(),
            }),
            Err(e) if is_condition_failure(&e) => Ok(Requeued::Refused),
            Err(e) => Err(StoreError::backend("requeueing a comment", e)),
        }
    }

    async fn get(&self, comment_id: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(comment_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::backend("reading a comment", e))?;
        Ok(out.item)
    }
}

fn page_limit(limit: usize) -> i32 {
    i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000)
}

fn due_page_of(
    out: aws_sdk_dynamodb::operation::query::QueryOutput,
    due_attribute: &str,
    legacy: bool,
) -> DuePage {
    let text = |item: &Item, name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let due = out
        .items()
        .iter()
        .filter_map(|item| {
            Some(DueComment {
                comment_id: text(item, attr::COMMENT_ID)?,
                due_at: text(item, due_attribute)?,
                account_id: text(item, attr::ACCOUNT_ID),
                legacy,
            })
        })
        .collect();
    DuePage {
        due,
        next: out.last_evaluated_key().cloned(),
    }
}

/// The write's condition did not hold.
pub fn is_condition_failure<R>(e: &SdkError<UpdateItemError, R>) -> bool {
    matches!(e, SdkError::ServiceError(se) if se.err().is_conditional_check_failed_exception())
}
