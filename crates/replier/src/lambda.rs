//! The function as AWS runs it. The sweep needs only the comments table, so it is built on its own and runs
//! even when the replier cannot start (a bad `REPLY_TEXT`, a missing or malformed token): then stream batches
//! fail as a whole (the stream mapping retries them, then gives up and the dead-letter alarm fires), while the
//! schedule keeps sweeping, so the comments those batches held are re-driven once the replier is fixed.

use crate::config::ReplierConfig;
use crate::replier::Replier;
use crate::sweep::{self, SweepSummary};
use crate::{HandlerError, StartupError};
use reply_core::clock::{Clock, SystemClock};
use reply_core::config::{ConfigError, Env};
use reply_core::store::dynamo::{DynamoCommentStore, load_sdk_config, with_request_timeout};
use reply_core::store::{CommentTable, StoreError};
use serde_json::Value;
use std::sync::Arc;

/// The sweep and what it runs over.
#[derive(Debug, Clone)]
pub struct Sweeper {
    pub comments: Arc<dyn CommentTable>,
    pub clock: Arc<dyn Clock>,
    pub settings: sweep::Settings,
}

impl Sweeper {
    pub async fn run(&self) -> Result<SweepSummary, StoreError> {
        sweep::run(self.comments.as_ref(), self.clock.as_ref(), &self.settings).await
    }
}

/// The replier function: the replier if it started, the sweep in any case.
#[derive(Debug)]
pub struct LambdaFunction {
    sweeper: Sweeper,
    replier: Result<Arc<Replier>, String>,
}

impl LambdaFunction {
    /// Production wiring. Fails only when even the sweep cannot be built (no `TABLE_NAME`, a bad sweep
    /// setting); a replier that cannot start is logged and reported on every stream batch instead.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let env = Env::process();
        let sweep_config = ReplierConfig::for_sweep(&env)?;
        let sdk = load_sdk_config().await;
        let dynamodb = with_request_timeout(
            &aws_sdk_dynamodb::Client::new(&sdk),
            sweep_config.dynamodb_timeout,
        );
        let sweeper = Sweeper {
            comments: Arc::new(DynamoCommentStore::new(dynamodb, &sweep_config.table_name)),
            clock: Arc::new(SystemClock),
            settings: sweep::Settings::from(&sweep_config),
        };
        let replier = match ReplierConfig::from_lookup(&env) {
            Ok(config) => Replier::from_config(config).await,
            Err(e) => Err(StartupError::Config(e)),
        };
        Ok(Self::new(sweeper, replier))
    }

    pub fn new(sweeper: Sweeper, replier: Result<Replier, StartupError>) -> Self {
        let replier = replier.map(Arc::new).map_err(|e| {
            tracing::error!(error = %e, cause = %reply_core::telemetry::error_sources(&e), "the replier could not start; only the sweep runs until this is fixed");
            e.to_string()
        });
        Self { sweeper, replier }
    }

    /// A started replier with its own sweep.
    pub fn started(replier: Arc<Replier>) -> Self {
        Self {
            sweeper: replier.sweeper(),
            replier: Ok(replier),
        }
    }

    /// The Lambda entry: stream batches go to the replier, scheduled events to the sweep.
    pub async fn handle(&self, event: Value) -> Result<Value, HandlerError> {
        if is_scheduled(&event) {
            let summary = self.sweeper.run().await.map_err(HandlerError::Sweep)?;
            if summary.errors > 0 {
                return Err(HandlerError::SweepIncomplete(summary.errors));
            }
            return Ok(serde_json::to_value(summary).unwrap_or_default());
        }
        match &self.replier {
            Ok(replier) => replier.handle(event).await,
            Err(why) => Err(HandlerError::NotStarted(why.clone())),
        }
    }
}

/// A classic EventBridge scheduled rule's event.
pub(crate) fn is_scheduled(event: &Value) -> bool {
    event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
        || event.get("source").and_then(Value::as_str) == Some("aws.events")
}
