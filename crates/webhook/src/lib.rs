//! The webhook: Meta's verification handshake (GET) and notification intake (POST).
//!
//! A POST is answered `200` only once every comment in it is durably stored, so Meta redelivers anything we
//! could not store; storing is a conditional put on the comment ID, so redeliveries are harmless. The order of
//! checks is deliberate: size, then signature, and only then is the body parsed or anything stored.
//!
//! Module map: this file holds [`WebhookApp`] (the handler, wired to ports: secrets, the comment store and the
//! clock) and its metrics; [`config`] reads the environment; `tests` runs the handler with fake stores
//! (`tests/store_dynamodb.rs` runs it on DynamoDB Local). The parser, signature check and store adapter are in
//! `reply_core`.

pub mod config;

pub use config::WebhookConfig;

use chrono::Duration;
use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use reply_core::StatusReason;
use reply_core::clock::{Clock, SystemClock};
use reply_core::config::ConfigError;
use reply_core::metrics::emit_counts;
use reply_core::notification;
use reply_core::secrets::{CachedSecrets, SecretSource, WebhookSecrets};
use reply_core::signature::SIGNATURE_HEADER;
use reply_core::store::dynamo::{DynamoCommentStore, load_sdk_config};
use reply_core::store::{CommentStore, insert_all};
use std::sync::Arc;

/// The `Function` dimension of the webhook's metrics.
pub const METRICS_FUNCTION: &str = "webhook";
/// Counted when a POST's signature does not verify.
pub const SIGNATURE_REJECTED: &str = "SignatureRejected";
/// Counted when a POST's comments could not all be stored within `RESPONSE_DEADLINE_MS`.
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
    pub store_failures: usize,
}

impl IntakeCounts {
    pub fn metrics(&self) -> [(&'static str, u64); 8] {
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
            clock,
            max_body_bytes: config.max_body_bytes,
            retention: Duration::days(config.retention_days),
            write_concurrency: config.write_concurrency,
            response_deadline: config.response_deadline,
            redrive_after: Duration::from_std(config.redrive_after).unwrap_or(Duration::MAX),
        }
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
        let store =
            DynamoCommentStore::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table_name);
        Ok(Self::new(
            &config,
            Arc::new(secrets),
            Arc::new(store),
            Arc::new(SystemClock),
        ))
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
                account_id = rejected.account_id.as_ref().map(|a| a.as_str()),
                reason = rejected.reason.as_str(),
                "skipping an unusable change"
            );
        }
        for (field, count) in &parsed.ignored {
            tracing::info!(field = %field, count, "ignoring changes of a field we do not handle");
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
        let summary = match tokio::time::timeout(
            left,
            insert_all(&self.store, records, self.write_concurrency),
        )
        .await
        {
            Ok(summary) => summary,
            Err(_) => {
                tracing::error!(
                    received,
                    deadline_ms =
                        u64::try_from(self.response_deadline.as_millis()).unwrap_or(u64::MAX),
                    "the comments could not all be stored in time; answering 503 so that Meta redelivers"
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

        let counts = IntakeCounts {
            received,
            stored: summary.stored,
            duplicates: summary.already_stored,
            own,
            dashboard_tests,
            rejected: rejected + summary.refused.len(),
            ignored,
            store_failures: summary.failed.len(),
        };
        emit_counts(METRICS_FUNCTION, &[], &counts.metrics());
        if !summary.all_durable() {
            for (comment_id, error) in &summary.failed {
                tracing::error!(
                    comment_id = %comment_id,
                    error = %error,
                    cause = %reply_core::telemetry::error_sources(error),
                    "could not store a comment"
                );
            }
            tracing::error!(
                received,
                stored = summary.stored,
                failed = summary.failed.len(),
                "answering 503 so that Meta redelivers"
            );
            return text(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable");
        }
        tracing::info!(
            received,
            stored = summary.stored,
            duplicates = summary.already_stored,
            own_comments = own,
            rejected,
            ignored,
            "notification stored"
        );
        text(StatusCode::OK, "ok")
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
