//! The local stack's settings. The names are the README's (other tools rely on them); every default works on a
//! fresh machine, and the secrets' defaults are printed at start so a person can sign requests.

use anyhow::Context as _;
use replier::ReplierConfig;
use std::time::Duration;

pub const DEFAULT_APP_SECRET: &str = "local-app-secret";
pub const DEFAULT_VERIFY_TOKEN: &str = "local-verify-token";
pub const DEFAULT_ACCESS_TOKEN: &str = "local-access-token";
pub const DEFAULT_REPLY_TEXT: &str = "Hi {username}! Here is your link: https://example.com/offer";

/// Where DynamoDB comes from.
#[derive(Debug, Clone)]
pub enum DynamoDbChoice {
    /// Start DynamoDB Local on this port (stopped with the stack).
    StartOnPort(u16),
    /// Use one that is already running (tests share one per process).
    Endpoint(String),
}

#[derive(Debug, Clone)]
pub struct StackSettings {
    /// `WEBHOOK_PORT` (3000; 0 picks a free port).
    pub webhook_port: u16,
    /// `DYNAMODB_PORT` (8000) unless an endpoint is given.
    pub dynamodb: DynamoDbChoice,
    /// `TABLE_NAME` (`comments`).
    pub table_name: String,
    /// `ACCOUNT_STATE_TABLE_NAME` (`account-state`).
    pub account_state_table_name: String,
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
    /// `GRAPH_API_VERSION` (v25.0).
    pub graph_api_version: String,
    /// `REPLY_TEXT`.
    pub reply_text: String,
    /// `SWEEP_INTERVAL_SECS` (5): how often the retry sweep runs.
    pub sweep_interval: Duration,
    /// `RETRY_BASE_SECS` (5 locally): the first backoff delay.
    pub retry_base: Duration,
    /// The stream's batching window (shorter than the deployed 1 s so local replies are quick).
    pub batching_window: Duration,
    pub runner_shutdown_grace: Duration,
    /// Adjusts the replier's configuration (tests use short windows and timeouts).
    pub tune_replier: Option<fn(&mut ReplierConfig)>,
}

impl StackSettings {
    /// Defaults for a given DynamoDB; every port free-picked.
    pub fn new(dynamodb: DynamoDbChoice) -> Self {
        Self {
            webhook_port: 0,
            dynamodb,
            table_name: "comments".to_owned(),
            account_state_table_name: "account-state".to_owned(),
            app_secret: DEFAULT_APP_SECRET.to_owned(),
            verify_token: DEFAULT_VERIFY_TOKEN.to_owned(),
            access_token: DEFAULT_ACCESS_TOKEN.to_owned(),
            account_tokens: None,
            graph_api_url: None,
            sim_port: 0,
            sim: None,
            graph_api_version: replier::config::DEFAULT_GRAPH_API_VERSION.to_owned(),
            reply_text: DEFAULT_REPLY_TEXT.to_owned(),
            sweep_interval: Duration::from_secs(5),
            retry_base: Duration::from_secs(5),
            batching_window: Duration::from_millis(50),
            runner_shutdown_grace: Duration::from_secs(10),
            tune_replier: None,
        }
    }

    /// The README's environment variables.
    pub fn from_env() -> anyhow::Result<Self> {
        let port = |name: &str, default: u16| -> anyhow::Result<u16> {
            match env(name) {
                None => Ok(default),
                Some(v) => v
                    .parse()
                    .with_context(|| format!("{name}={v:?} is not a port number")),
            }
        };
        let secs = |name: &str, default: u64| -> anyhow::Result<Duration> {
            match env(name) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => Ok(Duration::from_secs(v.parse().with_context(|| {
                    format!("{name}={v:?} is not a number of seconds")
                })?)),
            }
        };
        let mut s = Self::new(DynamoDbChoice::StartOnPort(port("DYNAMODB_PORT", 8000)?));
        s.webhook_port = port("WEBHOOK_PORT", 3000)?;
        s.sim_port = port("SIM_PORT", 0)?;
        let set = |target: &mut String, name: &str| {
            if let Some(v) = env(name) {
                *target = v;
            }
        };
        set(&mut s.table_name, "TABLE_NAME");
        set(&mut s.account_state_table_name, "ACCOUNT_STATE_TABLE_NAME");
        set(&mut s.app_secret, "APP_SECRET");
        set(&mut s.verify_token, "VERIFY_TOKEN");
        set(&mut s.access_token, "ACCESS_TOKEN");
        set(&mut s.graph_api_version, "GRAPH_API_VERSION");
        set(&mut s.reply_text, "REPLY_TEXT");
        s.account_tokens = env("ACCOUNT_TOKENS");
        s.graph_api_url = env("GRAPH_API_URL");
        s.sweep_interval = secs("SWEEP_INTERVAL_SECS", 5)?.max(Duration::from_millis(100));
        s.retry_base = secs("RETRY_BASE_SECS", 5)?;
        Ok(s)
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}
