//! The webhook: Meta's verification handshake (GET) and notification intake (POST).
//!
//! A POST is answered `200` only once every comment and every message in it is durably stored, so Meta
//! redelivers anything we could not store; storing is a conditional put on the comment ID (the message's
//! `mid`), so redeliveries are harmless. The account's own messages coming back (echoes) are counted and never
//! stored. The account's own reply to a comment also confirms that comment's public reply when one waits after
//! an attempt whose answer was lost (best effort: the replier would find it among the comment's replies). The
//! order of checks is deliberate: size, then signature, and only then is the body parsed or anything stored.
//!
//! Module map: this file holds [`WebhookApp`] (the handler, wired to ports: secrets, the comment and message
//! stores, the public-reply confirmations and the clock) and its metrics; [`config`] reads the environment; `tests` runs the handler with fake stores
//! (`tests/store_dynamodb.rs` runs it on DynamoDB Local). The parser, signature check and store adapter are in
//! `reply_core`.

pub mod config;

pub use config::WebhookConfig;

use chrono::Duration;
use futures::StreamExt as _;
use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use reply_core::StatusReason;
use reply_core::clock::{Clock, SystemClock};
use reply_core::config::ConfigError;
use reply_core::lifecycle::Written;
use reply_core::metrics::emit_counts;
use reply_core::notification;
use reply_core::secrets::{CachedSecrets, SecretSource, WebhookSecrets};
use reply_core::signature::SIGNATURE_HEADER;
use reply_core::store::dynamo::{DynamoCommentStore, load_sdk_config};
use reply_core::store::messages::{DynamoMessageStore, MessageStore, insert_all_messages};
use reply_core::store::{
    CommentStore, InsertSummary, PublicReplyConfirmations, StoreError, insert_all,
};
use std::sync::Arc;

/// The `Function` dimension of the webhook's metrics.
pub const METRICS_FUNCTION: &str = "webhook";
/// Counted when a POST's signature does not verify.
pub const SIGNATURE_REJECTED: &str = "SignatureRejected";
/// Counted when a POST's comments and messages could not all be stored within `RESPONSE_DEADLINE_MS`.
pub const STORE_DEADLINE_MISSED: &str = "StoreDeadlineMissed";

/// What one POST did, as the EMF metrics the dashboard and alarms read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IntakeCounts {
    pub received: usize,
    pub stored: usize,
    pub duplicates: usize,
    pub own: usize,
    /// Test deliveries from Meta's app dashboard (stored a day, never replied to).
    pub dashboard_tests: usize,
    pub rejected: usize,
    pub ignored: usize,
    /// Comments and messages that could not be stored (the POST is answered 503).
    pub store_failures: usize,
    /// Messages and postbacks from people (echoes not included).
    pub messages_received: usize,
    pub messages_stored: usize,
    pub message_duplicates: usize,
    /// The account's own messages coming back: counted, never stored.
    pub echoes: usize,
    /// Public replies that waited after an attempt whose fate was unknown, confirmed by the account's own
    /// reply arriving as a comment.
    pub public_replies_confirmed: usize,
}

impl IntakeCounts {
    pub fn metrics(&self) -> [(&'static str, u64); 13] {
        let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        [
            ("CommentsReceived", n(self.received)),
            ("CommentsStored", n(self.stored)),
            ("DuplicatesSkipped", n(self.duplicates)),
            ("OwnCommentsSkipped", n(self.own)),
            ("DashboardTestsReceived", n(self.dashboard_tests)),
            ("ChangesRejected", n(self.rejected)),
            ("ChangesIgnored", n(self.ignored)),
            ("StoreFailures", n(self.store_failures)),
            ("MessagesReceived", n(self.messages_received)),
            ("MessagesStored", n(self.messages_stored)),
            ("MessageDuplicatesSkipped", n(self.message_duplicates)),
            ("EchoesIgnored", n(self.echoes)),
            ("PublicRepliesConfirmed", n(self.public_replies_confirmed)),
        ]
    }
}

/// Every metric name the webhook emits.
pub fn metric_names() -> Vec<&'static str> {
    let mut names = vec![SIGNATURE_REJECTED, STORE_DEADLINE_MISSED];
    names.extend(IntakeCounts::default().metrics().map(|(name, _)| name));
    names
}

/// Everything a request needs, built once per cold start.
#[derive(Debug)]
pub struct WebhookApp {
    secrets: Arc<CachedSecrets<WebhookSecrets>>,
    store: Arc<dyn CommentStore>,
    /// `None` until [`WebhookApp::with_message_store`]: a POST with messages is then answered 503.
    messages: Option<Arc<dyn MessageStore>>,
    /// `None` until [`WebhookApp::with_public_reply_confirmations`]: own replies are then only stored.
    confirmations: Option<Arc<dyn PublicReplyConfirmations>>,
    clock: Arc<dyn Clock>,
    max_body_bytes: usize,
    retention: Duration,
    write_concurrency: usize,
    response_deadline: std::time::Duration,
    redrive_after: Duration,
}

impl WebhookApp {
    pub fn new(
        config: &WebhookConfig,
        secrets: Arc<CachedSecrets<WebhookSecrets>>,
        store: Arc<dyn CommentStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            secrets,
            store,
            messages: None,
            confirmations: None,
            clock,
            max_body_bytes: config.max_body_bytes,
            retention: Duration::days(config.retention_days),
            write_concurrency: config.write_concurrency,
            response_deadline: config.response_deadline,
            redrive_after: Duration::from_std(config.redrive_after).unwrap_or(Duration::MAX),
        }
    }

    /// Stores the POSTs' messages in `messages`. Without it (tests and tools that only send comments) a POST
    /// carrying messages is answered 503 rather than acknowledged unstored.
    pub fn with_message_store(mut self, messages: Arc<dyn MessageStore>) -> Self {
        self.messages = Some(messages);
        self
    }

    /// Lets the account's own replies to comments confirm those comments' public replies.
    pub fn with_public_reply_confirmations(
        mut self,
        confirmations: Arc<dyn PublicReplyConfirmations>,
    ) -> Self {
        self.confirmations = Some(confirmations);
        self
    }

    /// Production wiring: secrets from the environment or Secrets Manager, DynamoDB from the standard AWS
    /// configuration. Fails (and so fails the cold start) when a secret is missing.
    pub async fn from_config(config: WebhookConfig) -> Result<Self, ConfigError> {
        let sdk = load_sdk_config().await;
        let secrets = CachedSecrets::load(
            SecretSource::from_env(&sdk),
            WebhookSecrets::KEYS,
            WebhookSecrets::from_values,
            config.secrets_ttl,
        )
        .await?;
        Ok(Self::on_dynamodb(
            &config,
            Arc::new(secrets),
            &aws_sdk_dynamodb::Client::new(&sdk),
            Arc::new(SystemClock),
        ))
    }

    /// Every store on DynamoDB through `client`: comments (and the confirmations of public replies) and
    /// messages, in the configured tables.
    pub fn on_dynamodb(
        config: &WebhookConfig,
        secrets: Arc<CachedSecrets<WebhookSecrets>>,
        client: &aws_sdk_dynamodb::Client,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let comments = Arc::new(DynamoCommentStore::new(client.clone(), &config.table_name));
        let messages = DynamoMessageStore::new(client.clone(), &config.messages_table_name);
        Self::new(config, secrets, comments.clone(), clock)
            .with_message_store(Arc::new(messages))
            .with_public_reply_confirmations(comments)
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        if !request.uri().path().ends_with("/webhook") {
            return text(StatusCode::NOT_FOUND, "not found");
        }
        match *request.method() {
            Method::GET => self.verify_subscription(&request).await,
            Method::POST => self.receive(&request).await,
            _ => {
                let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
                response
            }
        }
    }

    /// Meta's handshake: echo `hub.challenge` when the mode is `subscribe` and the verify token matches.
    async fn verify_subscription(&self, request: &Request) -> Response<Body> {
        let query = request.query_string_parameters();
        let secrets = self.secrets.get().await;
        let accepted = query.first("hub.mode") == Some("subscribe")
            && query
                .first("hub.verify_token")
                .is_some_and(|t| secrets.verify_token.matches(t));
        match query.first("hub.challenge") {
            Some(challenge) if accepted => {
                tracing::info!("webhook verification accepted");
                text(StatusCode::OK, challenge.to_owned())
            }
            _ => {
                tracing::warn!("webhook verification refused");
                text(StatusCode::FORBIDDEN, "forbidden")
            }
        }
    }

    async fn receive(&self, request: &Request) -> Response<Body> {
        let started = std::time::Instant::now();
        let body: &[u8] = request.body().as_ref();
        if body.len() > self.max_body_bytes {
            tracing::warn!(
                bytes = body.len(),
                limit = self.max_body_bytes,
                "notification too large"
            );
            return text(StatusCode::PAYLOAD_TOO_LARGE, "payload too large");
        }
        let signature = request
            .headers()
            .get(SIGNATURE_HEADER)
            .map(HeaderValue::as_bytes);
        if let Err(reason) = self.secrets.get().await.app_secrets.verify(signature, body) {
            tracing::warn!(reason = %reason, bytes = body.len(), "notification refused: bad signature");
            emit_counts(METRICS_FUNCTION, &[], &[(SIGNATURE_REJECTED, 1)]);
            return text(StatusCode::UNAUTHORIZED, "invalid signature");
        }
        let parsed = match notification::parse(body) {
            Ok(parsed) => parsed,
            Err(error) => {
                tracing::warn!(error = %error, bytes = body.len(), "notification refused: not a JSON object");
                return text(StatusCode::BAD_REQUEST, "body is not a JSON notification");
            }
        };
        if let Some(object) = &parsed.foreign_object {
            tracing::info!(object = %object, "ignoring a notification for another object type");
        }
        for rejected in &parsed.rejected {
            tracing::warn!(
                entry = rejected.entry_index,
                change = rejected.change_index,
                messaging_event = rejected.messaging_index,
                account_id = rejected.account_id.as_ref().map(|a| a.as_str()),
                reason = rejected.reason.as_str(),
                "skipping an unusable change"
            );
        }
        for (field, count) in &parsed.ignored {
            tracing::info!(field = %field, count, "ignoring changes or events of a kind we do not handle");
        }

        let now = self.clock.now();
        let rejected = parsed.rejected.len();
        let ignored = parsed.ignored_count();
        let records: Vec<_> = parsed
            .comments
            .into_iter()
            .map(|c| {
                c.into_record(now, self.retention)
                    .due_for_redrive(self.redrive_after)
            })
            .collect();
        let received = records.len();
        // The account's own replies to comments: each may be one of our public replies.
        let own_replies: Vec<(String, String)> = records
            .iter()
            .filter(|r| {
                r.status_reason.as_deref() == Some(StatusReason::OwnComment.word().as_ref())
            })
            .filter_map(|r| {
                let parent = r.parent_id.as_ref()?;
                Some((parent.as_str().to_owned(), r.comment_id.as_str().to_owned()))
            })
            .collect();
        let (echoes, messages): (Vec<_>, Vec<_>) =
            parsed.messages.into_iter().partition(|m| m.is_echo());
        let message_records: Vec<_> = messages.into_iter().map(|m| m.into_record(now)).collect();
        let messages_received = message_records.len();
        let with_reason = |reason: StatusReason| {
            let word = reason.word();
            records
                .iter()
                .filter(|r| r.status_reason.as_deref() == Some(word.as_ref()))
                .count()
        };
        let own = with_reason(StatusReason::OwnComment);
        let dashboard_tests = with_reason(StatusReason::DashboardTest);
        if dashboard_tests > 0 {
            tracing::info!(
                dashboard_tests,
                "a test delivery from Meta's app dashboard arrived: the subscription works (kept a day, never replied to)"
            );
        }
        let left = self.response_deadline.saturating_sub(started.elapsed());
        let stored = async {
            tokio::join!(
                insert_all(&self.store, records, self.write_concurrency),
                self.store_messages(message_records),
                self.confirm_public_replies(own_replies, now)
            )
        };
        let (summary, message_summary, public_replies_confirmed) = match tokio::time::timeout(
            left, stored,
        )
        .await
        {
            Ok(summaries) => summaries,
            Err(_) => {
                tracing::error!(
                    received,
                    messages_received,
                    deadline_ms =
                        u64::try_from(self.response_deadline.as_millis()).unwrap_or(u64::MAX),
                    "the comments and messages could not all be stored in time; answering 503 so that Meta redelivers"
                );
                emit_counts(METRICS_FUNCTION, &[], &[(STORE_DEADLINE_MISSED, 1)]);
                return text(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable");
            }
        };
        for (comment_id, error) in &summary.refused {
            tracing::error!(
                comment_id = %comment_id,
                error = %error,
                cause = %reply_core::telemetry::error_sources(error),
                "DynamoDB refused this comment for good; it is skipped (a redelivery would be refused too)"
            );
        }
        for (message_id, error) in &message_summary.refused {
            tracing::error!(
                message_id = %message_id,
                error = %error,
                cause = %reply_core::telemetry::error_sources(error),
                "DynamoDB refused this message for good; it is skipped (a redelivery would be refused too)"
            );
        }

        let counts = IntakeCounts {
            received,
            stored: summary.stored,
            duplicates: summary.already_stored,
            own,
            dashboard_tests,
            rejected: rejected + summary.refused.len() + message_summary.refused.len(),
            ignored,
            store_failures: summary.failed.len() + message_summary.failed.len(),
            messages_received,
            messages_stored: message_summary.stored,
            message_duplicates: message_summary.already_stored,
            echoes: echoes.len(),
            public_replies_confirmed,
        };
        emit_counts(METRICS_FUNCTION, &[], &counts.metrics());
        if !summary.all_durable() || !message_summary.all_durable() {
            for (comment_id, error) in &summary.failed {
                tracing::error!(
                    comment_id = %comment_id,
                    error = %error,
                    cause = %reply_core::telemetry::error_sources(error),
                    "could not store a comment"
                );
            }
            for (message_id, error) in &message_summary.failed {
                tracing::error!(
                    message_id = %message_id,
                    error = %error,
                    cause = %reply_core::telemetry::error_sources(error),
                    "could not store a message"
                );
            }
            tracing::error!(
                received,
                stored = summary.stored,
                messages_received,
                messages_stored = message_summary.stored,
                failed = counts.store_failures,
                "answering 503 so that Meta redelivers"
            );
            return text(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable");
        }
        tracing::info!(
            received,
            stored = summary.stored,
            duplicates = summary.already_stored,
            own_comments = own,
            messages_received,
            messages_stored = message_summary.stored,
            message_duplicates = message_summary.already_stored,
            echoes = counts.echoes,
            rejected,
            ignored,
            "notification stored"
        );
        text(StatusCode::OK, "ok")
    }

    /// Confirms the public replies that `own_replies` (comment, own reply) are, where one waits. Best effort:
    /// a confirmation that fails only leaves the next attempt to find the reply among the comment's replies.
    async fn confirm_public_replies(
        &self,
        own_replies: Vec<(String, String)>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> usize {
        let Some(confirmations) = self.confirmations.clone() else {
            return 0;
        };
        let results: Vec<bool> = futures::stream::iter(own_replies)
            .map(move |(comment_id, reply_id)| {
                let confirmations = confirmations.clone();
                async move {
                match confirmations
                    .confirm_public_reply(&comment_id, &reply_id, now)
                    .await
                {
                    Ok(Written::Yes) => {
                        tracing::info!(comment_id = %comment_id, reply_id = %reply_id, "the account's own reply confirms the comment's public reply");
                        true
                    }
                    Ok(Written::ConditionFailed) => false,
                    Err(error) => {
                        tracing::warn!(comment_id = %comment_id, error = %error, "could not confirm a public reply from the account's own reply");
                        false
                    }
                }
                }
            })
            .buffer_unordered(self.write_concurrency.max(1))
            .collect()
            .await;
        results.into_iter().filter(|confirmed| *confirmed).count()
    }

    /// Stores the POST's messages; without a message store, each one is a failure (so the POST gets a 503).
    async fn store_messages(
        &self,
        records: Vec<reply_core::message::MessageRecord>,
    ) -> InsertSummary<String> {
        match &self.messages {
            Some(store) => insert_all_messages(store, records, self.write_concurrency).await,
            None => InsertSummary {
                failed: records
                    .into_iter()
                    .map(|r| {
                        let error = StoreError::other(
                            "storing a message",
                            anyhow::anyhow!("this webhook has no messages table"),
                        );
                        (r.message_id, error)
                    })
                    .collect(),
                ..InsertSummary::default()
            },
        }
    }
}

fn text(status: StatusCode, body: impl Into<Body>) -> Response<Body> {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests;
