//! The replier Lambda: sends each stored comment the one private reply Instagram allows.
//!
//! It is invoked two ways. The comments table's stream (filtered to new images in `PENDING`) brings new
//! comments and requeued retries: each is claimed with a conditional write, checked against its reply window,
//! its account's pause and token state and its account's call budget, sent, and its outcome written under the
//! claim ([`process`], wrapped for the batch by [`stream`]). A schedule runs the retry [`sweep`], which puts
//! comments whose retry time has come back to `PENDING`, so they flow through the stream again.
//!
//! Module map: [`config`] (environment), [`text`] (reply template), [`tokens`] (per-account tokens and
//! fingerprints), [`graph`] (the HTTP call), [`usage`] (Meta's usage headers), [`classify`] (error code table),
//! [`backoff`] (when to retry), [`store`] (comments table writes), [`accounts`] (budgets, pauses, rejected
//! tokens), [`metrics`] (EMF counts).

pub mod accounts;
pub mod backoff;
pub mod classify;
pub mod config;
pub mod graph;
pub mod metrics;
pub mod outcome;
pub mod process;
pub mod store;
pub mod stream;
pub mod sweep;
pub mod text;
pub mod tokens;
pub mod usage;

pub use config::{Budget, ReplierConfig};
pub use outcome::{IgnoreReason, RecordError, RecordOutcome};
pub use stream::BatchReport;
pub use sweep::SweepSummary;
pub use text::ReplyTemplate;
pub use tokens::{ReplierSecrets, StaticTokens, TokenFingerprint, TokenSource};

use accounts::AccountStateStore;
use graph::GraphClient;
use reply_core::clock::{Clock, SystemClock};
use reply_core::config::ConfigError;
use reply_core::secrets::{CachedSecrets, SecretSource};
use reply_core::store::dynamo::load_sdk_config;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::ReplyStore;

/// Token re-reads after Meta rejects a token happen at most this often.
pub const TOKEN_INVALIDATION_INTERVAL: Duration = Duration::from_secs(30);

/// The comment item attributes the replier reads and writes, beyond those the webhook writes.
pub mod attr {
    pub use reply_core::comment::attr::*;
    pub const RETRY_DUE_INDEX: &str = "retry_due";
    pub const STATUS_REASON: &str = "status_reason";
    pub const REPLY_DEADLINE: &str = "reply_deadline";
    pub const UPDATED_AT: &str = "updated_at";
    /// The claim of the invocation sending now (random hex); removed with every outcome.
    pub const CLAIM_ID: &str = "claim_id";
    /// When the claim goes stale (also written to `next_attempt_at`, so the sweep finds stale claims).
    pub const CLAIMED_UNTIL: &str = "claimed_until";
    /// Claims so far (N).
    pub const ATTEMPTS: &str = "attempts";
    pub const LAST_ATTEMPT_AT: &str = "last_attempt_at";
    pub const MESSAGE_ID: &str = "message_id";
    pub const RECIPIENT_ID: &str = "recipient_id";
    pub const REPLIED_AT: &str = "replied_at";
    /// BOOL: false when the reply is inferred from Meta refusing a repeat after an ambiguous attempt.
    pub const CONFIRMED: &str = "confirmed";
    /// BOOL: an attempt may have been delivered without our knowing (timeout, dropped connection, dead claim).
    pub const UNCONFIRMED_SEND: &str = "unconfirmed_send";
    pub const HTTP_STATUS: &str = "http_status";
    pub const ERROR_CODE: &str = "error_code";
    pub const ERROR_SUBCODE: &str = "error_subcode";
    pub const ERROR_MESSAGE: &str = "error_message";
    pub const FBTRACE_ID: &str = "fbtrace_id";
    /// The fingerprint of the token Meta rejected (on `TOKEN_INVALID` comments).
    pub const TOKEN_FINGERPRINT: &str = "token_fingerprint";
}

/// Why the replier could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("could not build the HTTP client")]
    Http(#[from] reqwest::Error),
}

/// Why an invocation failed as a whole (a stream batch never does: its failures are per record).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("the event is neither a DynamoDB stream batch nor a scheduled event")]
    UnknownEvent,
    #[error("the retry sweep could not read the retry_due index")]
    Sweep(#[source] reply_core::store::StoreError),
    #[error("the retry sweep could not write {0} comments; the next sweep retries them")]
    SweepIncomplete(u64),
}

/// Lambda's error report: a stable type per variant, the message without internal detail.
impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::UnknownEvent => "UnknownEvent",
            HandlerError::Sweep(_) => "SweepFailed",
            HandlerError::SweepIncomplete(_) => "SweepIncomplete",
        };
        Self {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// What the replier is built from besides its configuration; the local stack and tests pass their own.
#[derive(Debug, Clone)]
pub struct ReplierParts {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub tokens: Arc<dyn TokenSource>,
    pub clock: Arc<dyn Clock>,
}

/// Everything an invocation needs, built once per cold start.
#[derive(Debug)]
pub struct Replier {
    config: ReplierConfig,
    store: ReplyStore,
    accounts: AccountStateStore,
    graph: GraphClient,
    tokens: Arc<dyn TokenSource>,
    clock: Arc<dyn Clock>,
    last_invalidation: Mutex<Option<Instant>>,
}

impl Replier {
    /// Production wiring: DynamoDB from the standard AWS configuration, tokens from the environment or Secrets
    /// Manager (`SECRET_ARN`), the system clock. Fails the cold start on a missing token.
    pub async fn from_config(config: ReplierConfig) -> Result<Self, StartupError> {
        let sdk = load_sdk_config().await;
        let tokens = CachedSecrets::load(
            SecretSource::from_env(&sdk),
            ReplierSecrets::KEYS,
            ReplierSecrets::from_values,
            config.secrets_ttl,
        )
        .await?;
        let parts = ReplierParts {
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            tokens: Arc::new(tokens),
            clock: Arc::new(SystemClock),
        };
        Self::from_parts(config, parts)
    }

    pub fn from_parts(
        mut config: ReplierConfig,
        parts: ReplierParts,
    ) -> Result<Self, StartupError> {
        config.validate()?;
        let graph = GraphClient::from_config(&config)?;
        Ok(Self {
            store: ReplyStore::new(parts.dynamodb.clone(), &config.table_name),
            accounts: AccountStateStore::new(parts.dynamodb, &config.account_state_table_name),
            graph,
            tokens: parts.tokens,
            clock: parts.clock,
            config,
            last_invalidation: Mutex::new(None),
        })
    }

    pub fn config(&self) -> &ReplierConfig {
        &self.config
    }

    /// A stream batch already parsed (the local stream runner's entry): processes it and writes the metrics
    /// line; the response names the records to deliver again.
    pub async fn handle_stream(
        &self,
        event: aws_lambda_events::event::dynamodb::Event,
    ) -> aws_lambda_events::event::streams::DynamoDbEventResponse {
        let report = self.process_records(event.records).await;
        report.counts.emit();
        report.response
    }

    /// The Lambda entry: a DynamoDB stream batch answers with its batch item failures; a scheduled
    /// (EventBridge) event runs the sweep and answers with its summary.
    pub async fn handle(&self, event: Value) -> Result<Value, HandlerError> {
        if event.get("Records").is_some_and(Value::is_array) {
            let report = self.process_stream_event(&event).await;
            report.counts.emit();
            return Ok(serde_json::to_value(&report.response).unwrap_or_default());
        }
        let scheduled = event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
            || event.get("source").and_then(Value::as_str) == Some("aws.events");
        if scheduled {
            let summary = self.sweep().await.map_err(HandlerError::Sweep)?;
            if summary.errors > 0 {
                return Err(HandlerError::SweepIncomplete(summary.errors));
            }
            return Ok(serde_json::to_value(summary).unwrap_or_default());
        }
        tracing::error!("ignoring an event of unknown shape");
        Err(HandlerError::UnknownEvent)
    }
}
