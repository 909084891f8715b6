//! The webhook's settings, read once per cold start.

use reply_core::config::{ConfigError, Env};
use std::time::Duration;

/// Lambda's own request payload limit; larger bodies never reach us in AWS, but can locally.
pub const DEFAULT_MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `TABLE_NAME`: the comments table.
    pub table_name: String,
    /// `MESSAGES_TABLE_NAME`: the messages table (what people send the account after its private reply).
    pub messages_table_name: String,
    /// `MAX_BODY_BYTES`: larger POSTs are answered 413.
    pub max_body_bytes: usize,
    /// `RETENTION_DAYS`: how long items are kept after the 7-day reply window (DynamoDB TTL).
    pub retention_days: i64,
    /// `WRITE_CONCURRENCY`: DynamoDB writes in flight per POST.
    pub write_concurrency: usize,
    /// `SECRETS_TTL_SECS`: how long secrets are cached before being re-read.
    pub secrets_ttl: Duration,
    /// `RESPONSE_DEADLINE_MS` (4000): a POST whose comments are not all stored by then is answered `503`, so
    /// Meta (which waits 5 s) redelivers it instead of timing out.
    pub response_deadline: Duration,
    /// `REDRIVE_AFTER_SECS` (900): a stored comment the replier has not taken by then is re-driven by the
    /// sweep (the same setting as the replier's).
    pub redrive_after: Duration,
}

impl WebhookConfig {
    /// Every environment variable the webhook reads (the template drift test checks the deployed function
    /// sets only these). Secrets come from `SECRET_ARN` when set, else `APP_SECRET` and `VERIFY_TOKEN`.
    pub const ENV_VARS: &'static [&'static str] = &[
        "TABLE_NAME",
        "MESSAGES_TABLE_NAME",
        "MAX_BODY_BYTES",
        "RETENTION_DAYS",
        "WRITE_CONCURRENCY",
        "SECRETS_TTL_SECS",
        "RESPONSE_DEADLINE_MS",
        "REDRIVE_AFTER_SECS",
        "SECRET_ARN",
        "APP_SECRET",
        "VERIFY_TOKEN",
    ];

    /// The variables a deployed webhook refuses to start without.
    pub const REQUIRED_ENV_VARS: &'static [&'static str] = &["TABLE_NAME", "MESSAGES_TABLE_NAME"];

    /// The Lambda's configuration: both table names must be set, the rest overlays the defaults.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&Env::process())
    }

    /// [`WebhookConfig::from_env`] over any [`Env`].
    pub fn from_lookup(env: &Env) -> Result<Self, ConfigError> {
        env.required("TABLE_NAME", "set it to the comments table's name")?;
        env.required(
            "MESSAGES_TABLE_NAME",
            "set it to the messages table's name (the stack's MessagesTableName output)",
        )?;
        Self::default().overlay(env)
    }

    /// `self` with every setting the environment sets, validated.
    pub fn overlay(mut self, env: &Env) -> Result<Self, ConfigError> {
        env.set(&mut self.table_name, "TABLE_NAME")?;
        env.set(&mut self.messages_table_name, "MESSAGES_TABLE_NAME")?;
        env.set(&mut self.max_body_bytes, "MAX_BODY_BYTES")?;
        env.set(&mut self.retention_days, "RETENTION_DAYS")?;
        if !(0..=3650).contains(&self.retention_days) {
            return Err(ConfigError::Invalid {
                name: "RETENTION_DAYS",
                reason: format!("{} is outside 0..=3650", self.retention_days),
            });
        }
        env.set(&mut self.write_concurrency, "WRITE_CONCURRENCY")?;
        self.write_concurrency = self.write_concurrency.max(1);
        env.set_secs(&mut self.secrets_ttl, "SECRETS_TTL_SECS")?;
        if let Some(ms) = env.parse::<u64>("RESPONSE_DEADLINE_MS")? {
            self.response_deadline = Duration::from_millis(ms.max(1));
        }
        env.set_secs(&mut self.redrive_after, "REDRIVE_AFTER_SECS")?;
        Ok(self)
    }

    /// The defaults with this comments table.
    pub fn for_table(table_name: impl Into<String>) -> Self {
        Self {
            table_name: table_name.into(),
            ..Self::default()
        }
    }

    /// The defaults with these comments and messages tables.
    pub fn for_tables(
        table_name: impl Into<String>,
        messages_table_name: impl Into<String>,
    ) -> Self {
        Self {
            messages_table_name: messages_table_name.into(),
            ..Self::for_table(table_name)
        }
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            table_name: "comments".to_owned(),
            messages_table_name: reply_core::store::messages::DEFAULT_TABLE.to_owned(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            retention_days: 30,
            write_concurrency: 64,
            secrets_ttl: Duration::from_secs(300),
            response_deadline: Duration::from_millis(4000),
            redrive_after: reply_core::lifecycle::due::DEFAULT_REDRIVE_AFTER
                .to_std()
                .unwrap_or(Duration::from_secs(900)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reply_core::secrets::WebhookSecrets;

    #[test]
    fn env_vars_lists_exactly_what_the_webhook_reads() {
        let env = Env::from_pairs([
            ("TABLE_NAME", "t"),
            ("MESSAGES_TABLE_NAME", "m"),
            ("MAX_BODY_BYTES", "1000"),
            ("RETENTION_DAYS", "7"),
            ("WRITE_CONCURRENCY", "8"),
            ("SECRETS_TTL_SECS", "9"),
            ("RESPONSE_DEADLINE_MS", "1500"),
            ("REDRIVE_AFTER_SECS", "60"),
        ]);
        let c = WebhookConfig::from_lookup(&env).unwrap();
        assert_eq!(
            (
                c.table_name.as_str(),
                c.max_body_bytes,
                c.retention_days,
                c.write_concurrency
            ),
            ("t", 1000, 7, 8)
        );
        assert_eq!(c.messages_table_name, "m");
        assert_eq!(c.secrets_ttl, Duration::from_secs(9));
        assert_eq!(c.response_deadline, Duration::from_millis(1500));
        assert_eq!(c.redrive_after, Duration::from_secs(60));
        let mut listed: Vec<&str> = WebhookConfig::ENV_VARS
            .iter()
            .copied()
            // The secrets layer reads these (reply_core::secrets).
            .filter(|n| *n != "SECRET_ARN" && !WebhookSecrets::KEYS.contains(n))
            .collect();
        listed.sort_unstable();
        assert_eq!(env.asked(), listed);
    }

    #[test]
    fn a_deployed_webhook_needs_its_tables_and_a_sane_retention() {
        assert!(matches!(
            WebhookConfig::from_lookup(&Env::from_pairs([("MAX_BODY_BYTES", "1")])),
            Err(ConfigError::Missing {
                name: "TABLE_NAME",
                ..
            })
        ));
        assert!(matches!(
            WebhookConfig::from_lookup(&Env::from_pairs([("TABLE_NAME", "t")])),
            Err(ConfigError::Missing {
                name: "MESSAGES_TABLE_NAME",
                ..
            })
        ));
        let env = Env::from_pairs([
            ("TABLE_NAME", "t"),
            ("MESSAGES_TABLE_NAME", "m"),
            ("RETENTION_DAYS", "4000"),
        ]);
        assert!(matches!(
            WebhookConfig::from_lookup(&env),
            Err(ConfigError::Invalid {
                name: "RETENTION_DAYS",
                ..
            })
        ));
    }
}
