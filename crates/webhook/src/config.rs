//! The webhook's settings, read once per cold start.

use reply_core::config::{ConfigError, parse_or, required};
use std::time::Duration;

/// Lambda's own request payload limit; larger bodies never reach us in AWS, but can locally.
pub const DEFAULT_MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `TABLE_NAME`: the comments table.
    pub table_name: String,
    /// `MAX_BODY_BYTES`: larger POSTs are answered 413.
    pub max_body_bytes: usize,
    /// `RETENTION_DAYS`: how long items are kept after the 7-day reply window (DynamoDB TTL).
    pub retention_days: i64,
    /// `WRITE_CONCURRENCY`: DynamoDB writes in flight per POST.
    pub write_concurrency: usize,
    /// `SECRETS_TTL_SECS`: how long secrets are cached before being re-read.
    pub secrets_ttl: Duration,
}

impl WebhookConfig {
    /// Every environment variable the webhook reads (the template drift test checks the deployed function
    /// sets only these). Secrets come from `SECRET_ARN` when set, else `APP_SECRET` and `VERIFY_TOKEN`.
    pub const ENV_VARS: &'static [&'static str] = &[
        "TABLE_NAME",
        "MAX_BODY_BYTES",
        "RETENTION_DAYS",
        "WRITE_CONCURRENCY",
        "SECRETS_TTL_SECS",
        "SECRET_ARN",
        "APP_SECRET",
        "VERIFY_TOKEN",
    ];

    pub fn from_env() -> Result<Self, ConfigError> {
        let retention_days = parse_or("RETENTION_DAYS", 30i64)?;
        if !(0..=3650).contains(&retention_days) {
            return Err(ConfigError::Invalid {
                name: "RETENTION_DAYS",
                reason: format!("{retention_days} is outside 0..=3650"),
            });
        }
        Ok(Self {
            table_name: required("TABLE_NAME", "set it to the comments table's name")?,
            max_body_bytes: parse_or("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)?,
            retention_days,
            write_concurrency: parse_or("WRITE_CONCURRENCY", 64usize)?.max(1),
            secrets_ttl: Duration::from_secs(parse_or("SECRETS_TTL_SECS", 300u64)?),
        })
    }

    /// Defaults for tests and the local stack.
    pub fn for_table(table_name: impl Into<String>) -> Self {
        Self {
            table_name: table_name.into(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            retention_days: 30,
            write_concurrency: 64,
            secrets_ttl: Duration::from_secs(300),
        }
    }
}
