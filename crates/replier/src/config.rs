//! The replier's settings, read once per cold start. Every limit and window is configurable so that tests and
//! the local stack can run Meta's hour-long rules in seconds; the defaults are Meta's documented numbers
//! (PLATFORM.md sections 5-6).

use crate::text::ReplyTemplate;
use reply_core::config::{ConfigError, optional, parse_or, required};
use std::time::Duration;

pub const DEFAULT_GRAPH_API_URL: &str = "https://graph.instagram.com";
pub const DEFAULT_GRAPH_API_VERSION: &str = "v25.0";

/// A per-account call budget: at most `limit` calls in any sliding window of `window` (counted in slots, see
/// [`crate::accounts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub limit: u32,
    pub window: Duration,
}

#[derive(Debug, Clone)]
pub struct ReplierConfig {
    /// `TABLE_NAME`: the comments table.
    pub table_name: String,
    /// `ACCOUNT_STATE_TABLE_NAME`: call budgets, account pauses and rejected-token fingerprints.
    pub account_state_table_name: String,
    /// `REPLY_TEXT`: the private reply, with an optional `{username}` placeholder.
    pub reply_text: ReplyTemplate,
    /// `GRAPH_API_URL` (default `https://graph.instagram.com`), without a trailing slash.
    pub graph_api_url: String,
    /// `GRAPH_API_VERSION` (default `v25.0`).
    pub graph_api_version: String,
    /// `HTTP_TIMEOUT_SECS` (default 10): the whole request to Meta.
    pub http_timeout: Duration,
    /// `HTTP_CONNECT_TIMEOUT_SECS` (default 3, at most the total timeout).
    pub http_connect_timeout: Duration,
    /// `EXPIRY_MARGIN_SECS` (default 600): a comment whose reply deadline is closer than this is expired
    /// rather than sent, so a reply never races the 7-day limit.
    pub expiry_margin: Duration,
    /// `POSTS_PER_HOUR` (750) per `POSTS_WINDOW_SECS` (3600): replies to posts, reels, stories and ads.
    pub posts_budget: Budget,
    /// `LIVE_PER_SECOND` (100) per `LIVE_WINDOW_SECS` (1): replies to Live comments.
    pub live_budget: Budget,
    /// `RETRY_BASE_SECS` (60): the first backoff step.
    pub retry_base: Duration,
    /// `RETRY_MAX_SECS` (21600): the largest backoff step.
    pub retry_max: Duration,
    /// `TOKEN_RECHECK_SECS` (300): how long a comment waits after its account's token was rejected.
    pub token_recheck: Duration,
    /// `CLAIM_TIMEOUT_SECS` (default 120, at least three HTTP timeouts): after this a claim is stale and the
    /// sweep hands the comment to another invocation.
    pub claim_timeout: Duration,
    /// `RECORD_CONCURRENCY` (8): comments processed at once per invocation (stream batch or sweep).
    pub record_concurrency: usize,
    /// `SWEEP_MAX_ITEMS` (1000): due comments handled per sweep run; the rest wait for the next run.
    pub sweep_max_items: usize,
    /// `SECRETS_TTL_SECS` (300): how long tokens are cached before being re-read.
    pub secrets_ttl: Duration,
}

impl ReplierConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let reply_text = ReplyTemplate::parse(&required(
            "REPLY_TEXT",
            "set the private reply text; {username} is replaced by the commenter's username",
        )?)
        .map_err(|e| ConfigError::Invalid {
            name: "REPLY_TEXT",
            reason: e.to_string(),
        })?;
        let mut config = Self::new(
            required("TABLE_NAME", "set it to the comments table's name")?,
            required(
                "ACCOUNT_STATE_TABLE_NAME",
                "set it to the account state table's name (AccountStateTable in template.yaml)",
            )?,
            reply_text,
        );
        config.graph_api_url = optional("GRAPH_API_URL").unwrap_or(config.graph_api_url);
        config.graph_api_version =
            optional("GRAPH_API_VERSION").unwrap_or(config.graph_api_version);
        config.http_timeout = secs("HTTP_TIMEOUT_SECS", 10)?;
        config.http_connect_timeout = secs("HTTP_CONNECT_TIMEOUT_SECS", 3)?;
        config.expiry_margin = secs("EXPIRY_MARGIN_SECS", 600)?;
        config.posts_budget = Budget {
            limit: parse_or("POSTS_PER_HOUR", 750u32)?,
            window: secs("POSTS_WINDOW_SECS", 3600)?,
        };
        config.live_budget = Budget {
            limit: parse_or("LIVE_PER_SECOND", 100u32)?,
            window: secs("LIVE_WINDOW_SECS", 1)?,
        };
        config.retry_base = secs("RETRY_BASE_SECS", 60)?;
        config.retry_max = secs("RETRY_MAX_SECS", 21_600)?;
        config.token_recheck = secs("TOKEN_RECHECK_SECS", 300)?;
        let default_claim = (config.http_timeout * 3).max(Duration::from_secs(120));
        config.claim_timeout = secs("CLAIM_TIMEOUT_SECS", default_claim.as_secs())?;
        config.record_concurrency = parse_or("RECORD_CONCURRENCY", 8usize)?;
        config.sweep_max_items = parse_or("SWEEP_MAX_ITEMS", 1000usize)?;
        config.secrets_ttl = secs("SECRETS_TTL_SECS", 300)?;
        config.validate()?;
        Ok(config)
    }

    /// The defaults, for tests and the local stack; change fields, then call [`ReplierConfig::validate`].
    pub fn new(
        table_name: impl Into<String>,
        account_state_table_name: impl Into<String>,
        reply_text: ReplyTemplate,
    ) -> Self {
        Self {
            table_name: table_name.into(),
            account_state_table_name: account_state_table_name.into(),
            reply_text,
            graph_api_url: DEFAULT_GRAPH_API_URL.to_owned(),
            graph_api_version: DEFAULT_GRAPH_API_VERSION.to_owned(),
            http_timeout: Duration::from_secs(10),
            http_connect_timeout: Duration::from_secs(3),
            expiry_margin: Duration::from_secs(600),
            posts_budget: Budget {
                limit: 750,
                window: Duration::from_secs(3600),
            },
            live_budget: Budget {
                limit: 100,
                window: Duration::from_secs(1),
            },
            retry_base: Duration::from_secs(60),
            retry_max: Duration::from_secs(21_600),
            token_recheck: Duration::from_secs(300),
            claim_timeout: Duration::from_secs(120),
            record_concurrency: 8,
            sweep_max_items: 1000,
            secrets_ttl: Duration::from_secs(300),
        }
    }

    /// Checks the values that could make the replier misbehave rather than fail, and normalises the URL.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        let invalid = |name: &'static str, reason: String| ConfigError::Invalid { name, reason };
        self.graph_api_url = normalise_base_url(&self.graph_api_url).ok_or_else(|| {
            invalid(
                "GRAPH_API_URL",
                format!("{:?} is not an http(s) URL", self.graph_api_url),
            )
        })?;
        if !is_version(&self.graph_api_version) {
            return Err(invalid(
                "GRAPH_API_VERSION",
                format!(
                    "{:?} is not a Graph API version such as v25.0",
                    self.graph_api_version
                ),
            ));
        }
        if self.http_timeout.is_zero() {
            return Err(invalid("HTTP_TIMEOUT_SECS", "must be at least 1".into()));
        }
        self.http_connect_timeout = self.http_connect_timeout.min(self.http_timeout);
        if self.http_connect_timeout.is_zero() {
            return Err(invalid(
                "HTTP_CONNECT_TIMEOUT_SECS",
                "must be at least 1".into(),
            ));
        }
        for (name, budget) in [("POSTS", self.posts_budget), ("LIVE", self.live_budget)] {
            if budget.limit == 0 || budget.window.as_secs() == 0 {
                return Err(invalid(
                    if name == "POSTS" {
                        "POSTS_PER_HOUR"
                    } else {
                        "LIVE_PER_SECOND"
                    },
                    "the limit and the window (in whole seconds) must be at least 1".into(),
                ));
            }
        }
        if self.retry_base.is_zero() || self.retry_max < self.retry_base {
            return Err(invalid(
                "RETRY_BASE_SECS",
                "must be at least 1 and not larger than RETRY_MAX_SECS".into(),
            ));
        }
        if self.claim_timeout <= self.http_timeout {
            return Err(invalid(
                "CLAIM_TIMEOUT_SECS",
                "must be longer than HTTP_TIMEOUT_SECS, or a live claim could be taken over".into(),
            ));
        }
        self.record_concurrency = self.record_concurrency.max(1);
        self.sweep_max_items = self.sweep_max_items.max(1);
        Ok(())
    }
}

fn secs(name: &'static str, default: u64) -> Result<Duration, ConfigError> {
    parse_or(name, default).map(Duration::from_secs)
}

/// `https://host[:port][/prefix]` without a trailing slash, or `None` when it is not an http(s) URL.
pub(crate) fn normalise_base_url(url: &str) -> Option<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let host = rest.split('/').next().unwrap_or_default();
    let valid = !host.is_empty()
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#'));
    valid.then(|| url.to_owned())
}

fn is_version(v: &str) -> bool {
    v.strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major.chars().all(|c| c.is_ascii_digit())
                && minor.chars().all(|c| c.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ReplierConfig {
        ReplierConfig::new(
            "comments",
            "accounts",
            ReplyTemplate::parse("hi").unwrap_or_else(|e| panic!("{e}")),
        )
    }

    #[test]
    fn base_urls_lose_their_trailing_slash_and_must_be_http() {
        assert_eq!(
            normalise_base_url("https://graph.facebook.com/").as_deref(),
            Some("https://graph.facebook.com")
        );
        assert_eq!(
            normalise_base_url("http://127.0.0.1:9000").as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(normalise_base_url("graph.instagram.com"), None);
        assert_eq!(normalise_base_url("https://"), None);
        assert_eq!(normalise_base_url("https://a b"), None);
    }

    #[test]
    fn versions_look_like_v25_0() {
        assert!(is_version("v25.0"));
        assert!(is_version("v26.0"));
        assert!(!is_version("25.0"));
        assert!(!is_version("v25"));
        assert!(!is_version("v25.x"));
    }

    #[test]
    fn the_defaults_are_valid_and_are_metas_numbers() {
        let mut c = config();
        c.validate().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.posts_budget,
            Budget {
                limit: 750,
                window: Duration::from_secs(3600)
            }
        );
        assert_eq!(
            c.live_budget,
            Budget {
                limit: 100,
                window: Duration::from_secs(1)
            }
        );
        assert_eq!(c.graph_api_url, "https://graph.instagram.com");
        assert_eq!(c.graph_api_version, "v25.0");
    }

    #[test]
    fn a_zero_budget_or_a_claim_shorter_than_a_request_is_refused() {
        let mut c = config();
        c.live_budget.limit = 0;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Invalid {
                name: "LIVE_PER_SECOND",
                ..
            })
        ));
        let mut c = config();
        c.claim_timeout = c.http_timeout;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Invalid {
                name: "CLAIM_TIMEOUT_SECS",
                ..
            })
        ));
    }
}
