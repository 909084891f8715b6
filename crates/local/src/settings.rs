//! The local stack's settings. The names are the README's (other tools rely on them). Each component's
//! configuration starts from its own `Default`, takes the local stack's values (a shorter first retry, local
//! secrets), then the environment on top, so every setting in the README's table works here as it does
//! deployed (except `SECRET_ARN`: locally the secrets come from the environment). Every default works on a
//! fresh machine, and the secrets' defaults are printed at start so a person can sign requests.

use anyhow::Context as _;
use replier::ReplierConfig;
use reply_core::config::Env;
use std::time::Duration;
use webhook::WebhookConfig;

pub const DEFAULT_APP_SECRET: &str = "local-app-secret";
pub const DEFAULT_VERIFY_TOKEN: &str = "local-verify-token";
pub const DEFAULT_ACCESS_TOKEN: &str = "local-access-token";
pub const DEFAULT_REPLY_TEXT: &str = replier::config::DEFAULT_REPLY_TEXT;
/// The first retry waits this long locally (deployed: a minute), so a person sees retries happen.
pub const LOCAL_RETRY_BASE: Duration = Duration::from_secs(5);
/// Retries back off to at most this many first-retry delays locally (deployed: six hours).
const LOCAL_RETRY_MAX_STEPS: u32 = 64;

/// Where DynamoDB comes from.
#[derive(Debug, Clone)]
pub enum DynamoDbChoice {
    /// Start DynamoDB Local on this port (stopped with the stack).
    StartOnPort(u16),
    /// Use one that is already running (`AWS_ENDPOINT_URL_DYNAMODB`; tests share one per process). Its tables
    /// are created if missing, and it is never stopped by the stack.
    Endpoint(String),
}

#[derive(Debug, Clone)]
pub struct StackSettings {
    /// `WEBHOOK_PORT` (3000; 0 picks a free port).
    pub webhook_port: u16,
    /// `AWS_ENDPOINT_URL_DYNAMODB` when set, else DynamoDB Local started on `DYNAMODB_PORT` (8000).
    pub dynamodb: DynamoDbChoice,
    /// `APP_SECRET`, `VERIFY_TOKEN`, `ACCESS_TOKEN`: local defaults, printed at start.
    pub app_secret: String,
    pub verify_token: String,
    pub access_token: String,
    /// `ACCOUNT_TOKENS`: optional per-account tokens (JSON, as in Secrets Manager).
    pub account_tokens: Option<String>,
    /// `GRAPH_API_URL`: unset runs the simulator.
    pub graph_api_url: Option<String>,
    /// `SIM_PORT` (0: any free port) for the simulator.
    pub sim_port: u16,
    pub sim: Option<graph_sim::SimConfig>,
    /// `SWEEP_INTERVAL_SECS` (5): how often the retry sweep runs (deployed: every minute).
    pub sweep_interval: Duration,
    /// The stream's batching window (shorter than the deployed 1 s so local replies are quick).
    pub batching_window: Duration,
    pub runner_shutdown_grace: Duration,
    /// `SEND_SAMPLE` (1): post one signed sample comment at start (`0`, `false` or `no` skip it).
    pub send_sample: bool,
    /// `EMF_METRICS` (0): `1` or `true` prints the CloudWatch metric lines too.
    pub emf_metrics: bool,
    /// The replier's configuration, environment applied (its Graph API URL is the simulator's unless
    /// `GRAPH_API_URL` is set).
    pub replier: ReplierConfig,
    /// The webhook's configuration, environment applied.
    pub webhook: WebhookConfig,
}

impl StackSettings {
    /// Defaults for a given DynamoDB; every port free-picked.
    pub fn new(dynamodb: DynamoDbChoice) -> Self {
        let mut replier = ReplierConfig::default();
        replier.retry_base = LOCAL_RETRY_BASE;
        replier.retry_max = local_retry_max(LOCAL_RETRY_BASE, replier.retry_max);
        Self {
            webhook_port: 0,
            dynamodb,
            app_secret: DEFAULT_APP_SECRET.to_owned(),
            verify_token: DEFAULT_VERIFY_TOKEN.to_owned(),
            access_token: DEFAULT_ACCESS_TOKEN.to_owned(),
            account_tokens: None,
            graph_api_url: None,
            sim_port: 0,
            sim: None,
            sweep_interval: Duration::from_secs(5),
            batching_window: Duration::from_millis(50),
            runner_shutdown_grace: Duration::from_secs(10),
            send_sample: true,
            emf_metrics: false,
            replier,
            webhook: WebhookConfig::default(),
        }
    }

    /// Both functions' table names (the webhook and the replier share the comments table).
    pub fn set_table_names(&mut self, comments: &str, account_state: &str, campaigns: &str) {
        self.webhook.table_name = comments.to_owned();
        self.replier.table_name = comments.to_owned();
        self.replier.account_state_table_name = account_state.to_owned();
        self.replier.campaigns_table_name = campaigns.to_owned();
    }

    /// The webhook's messages table (`MESSAGES_TABLE_NAME`), for tests that want one of their own.
    pub fn set_messages_table_name(&mut self, messages: &str) {
        self.webhook.messages_table_name = messages.to_owned();
    }

    /// Both functions' `REDRIVE_AFTER_SECS` (the webhook sets the first due time, the replier the later ones).
    pub fn set_redrive_after(&mut self, after: Duration) {
        self.webhook.redrive_after = after;
        self.replier.redrive_after = after;
    }

    /// The README's environment variables.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(&Env::process())
    }

    /// [`StackSettings::from_env`] over any [`Env`].
    pub fn from_lookup(env: &Env) -> anyhow::Result<Self> {
        let dynamodb = match env.optional("AWS_ENDPOINT_URL_DYNAMODB") {
            Some(endpoint) => DynamoDbChoice::Endpoint(endpoint.trim().to_owned()),
            None => DynamoDbChoice::StartOnPort(port(env, "DYNAMODB_PORT", 8000)?),
        };
        let mut s = Self::new(dynamodb);
        s.webhook_port = port(env, "WEBHOOK_PORT", 3000)?;
        s.sim_port = port(env, "SIM_PORT", 0)?;
        for (target, name) in [
            (&mut s.app_secret, "APP_SECRET"),
            (&mut s.verify_token, "VERIFY_TOKEN"),
            (&mut s.access_token, "ACCESS_TOKEN"),
        ] {
            if let Some(value) = env.optional(name) {
                *target = value;
            }
        }
        s.account_tokens = env.optional("ACCOUNT_TOKENS");
        s.graph_api_url = env.optional("GRAPH_API_URL");
        s.replier = s.replier.overlay(env)?;
        if env.optional("RETRY_MAX_SECS").is_none() {
            let deployed_max = ReplierConfig::default().retry_max;
            s.replier.retry_max = local_retry_max(s.replier.retry_base, deployed_max);
        }
        s.webhook = s.webhook.overlay(env)?;
        env.set_secs(&mut s.sweep_interval, "SWEEP_INTERVAL_SECS")?;
        s.sweep_interval = s.sweep_interval.max(Duration::from_millis(100));
        s.send_sample = !matches!(
            env.optional("SEND_SAMPLE").as_deref(),
            Some("0" | "false" | "no")
        );
        s.emf_metrics = matches!(env.optional("EMF_METRICS").as_deref(), Some("1" | "true"));
        Ok(s)
    }
}

/// The longest backoff locally: [`LOCAL_RETRY_MAX_STEPS`] first retries, within the deployed maximum.
fn local_retry_max(base: Duration, deployed_max: Duration) -> Duration {
    base.max(deployed_max.min(base * LOCAL_RETRY_MAX_STEPS))
}

fn port(env: &Env, name: &'static str, default: u16) -> anyhow::Result<u16> {
    match env.optional(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .with_context(|| format!("{name}={v:?} is not a port number")),
    }
}

#[cfg(test)]
mod tests;
