//! The replier's settings, read once per cold start. Every limit and window is configurable so that tests and
//! the local stack can run Meta's hour-long rules in seconds; the defaults are Meta's documented numbers
//! (PLATFORM.md sections 5-6).

use reply_core::campaign::ReplyTemplate;
use reply_core::config::{ConfigError, Env};
use std::time::Duration;

pub const DEFAULT_GRAPH_API_URL: &str = "https://graph.instagram.com";
pub const DEFAULT_GRAPH_API_VERSION: &str = "v25.0";
/// DynamoDB requests an invocation may make between its claim and its outcome (see
/// [`ReplierConfig::longest_after_claim`]).
pub const AFTER_CLAIM_REQUESTS: u32 = 4;
/// How far apart two instances' clocks may be for a claim's expiry.
pub const CLOCK_SKEW_ALLOWANCE: Duration = Duration::from_secs(2);

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
    /// `CAMPAIGNS_TABLE_NAME` (default `campaigns`): which comment gets which reply.
    pub campaigns_table_name: String,
    /// `CAMPAIGNS_TTL_SECS` (60): how long an account's campaigns are cached, so an edit takes effect within it.
    pub campaigns_ttl: Duration,
    /// `REPLY_TEXT`: the private reply for every comment of an account without campaigns (`{username}` or
    /// `{username|fallback}` filled in); `None` (unset or blank): such comments are skipped.
    pub reply_text: Option<ReplyTemplate>,
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
    /// `PUBLIC_REPLIES_PER_HOUR` (200) per hour: public replies under comments. Meta gives no figure for
    /// them; they count against the account's Business Use Case limit, so the default is well inside it.
    pub public_replies_budget: Budget,
    /// `RETRY_BASE_SECS` (60): the first backoff step.
    pub retry_base: Duration,
    /// `RETRY_MAX_SECS` (21600): the largest backoff step.
    pub retry_max: Duration,
    /// `TOKEN_RECHECK_SECS` (300): how long a comment waits after its account's token was rejected.
    pub token_recheck: Duration,
    /// `BLOCKED_PAUSE_SECS` (900): how long an account pauses at least after Meta blocked it (`368`) without
    /// saying for how long.
    pub blocked_pause: Duration,
    /// `CLAIM_TIMEOUT_SECS` (default 120): after this a claim is stale and the sweep hands the comment to another
    /// invocation. It must be longer than [`ReplierConfig::longest_after_claim`], so a live claim is never
    /// taken over.
    pub claim_timeout: Duration,
    /// `DYNAMODB_TIMEOUT_SECS` (4): the longest one DynamoDB request may take, SDK retries included.
    pub dynamodb_timeout: Duration,
    /// `RECORD_CONCURRENCY` (25, the stream batch size): comments processed at once per invocation (stream
    /// batch or sweep); a batch is sent all at once, so one shard keeps up with a Live broadcast.
    pub record_concurrency: usize,
    /// `SWEEP_MAX_ITEMS` (1000): due comments handled per sweep run; the rest wait for the next run.
    pub sweep_max_items: usize,
    /// `REDRIVE_AFTER_SECS` (900): a comment still `PENDING` this long after it was stored or requeued (its
    /// stream record was given up on) is re-driven by the sweep; each further re-drive waits twice as long.
    pub redrive_after: Duration,
    /// `SECRETS_TTL_SECS` (300): how long tokens are cached before being re-read.
    pub secrets_ttl: Duration,
}

/// The reply of accounts without campaigns when none is configured locally (a deployed replier has none unless
/// `REPLY_TEXT` is set).
pub const DEFAULT_REPLY_TEXT: &str = "Hi {username}! Here is your link: https://example.com/offer";

impl Default for ReplierConfig {
    /// Meta's documented limits and windows; the tables' local names.
    fn default() -> Self {
        Self {
            table_name: "comments".to_owned(),
            account_state_table_name: "account-state".to_owned(),
            campaigns_table_name: reply_core::store::campaigns::DEFAULT_TABLE.to_owned(),
            campaigns_ttl: Duration::from_secs(60),
            reply_text: Some(
                ReplyTemplate::parse(DEFAULT_REPLY_TEXT)
                    .unwrap_or_else(|_| unreachable!("the default reply text is a valid template")),
            ),
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
            public_replies_budget: Budget {
                limit: 200,
                window: Duration::from_secs(3600),
            },
            retry_base: Duration::from_secs(60),
            retry_max: Duration::from_secs(21_600),
            token_recheck: Duration::from_secs(300),
            blocked_pause: crate::backoff::BLOCKED_MIN_PAUSE,
            claim_timeout: Duration::from_secs(120),
            dynamodb_timeout: reply_core::store::dynamo::DEFAULT_REQUEST_TIMEOUT,
            record_concurrency: 25,
            sweep_max_items: 1000,
            redrive_after: Duration::from_secs(900),
            secrets_ttl: Duration::from_secs(300),
        }
    }
}

impl ReplierConfig {
    /// Every environment variable the replier reads: its settings, then the secrets' (`SECRET_ARN` names a
    /// Secrets Manager secret holding `ACCESS_TOKEN` and `ACCOUNT_TOKENS`; without it they are read from the
    /// environment). The template drift test checks the deployed function sets only these.
    pub const ENV_VARS: &'static [&'static str] = &[
        "TABLE_NAME",
        "ACCOUNT_STATE_TABLE_NAME",
        "CAMPAIGNS_TABLE_NAME",
        "CAMPAIGNS_TTL_SECS",
        "REPLY_TEXT",
        "GRAPH_API_URL",
        "GRAPH_API_VERSION",
        "HTTP_TIMEOUT_SECS",
        "HTTP_CONNECT_TIMEOUT_SECS",
        "EXPIRY_MARGIN_SECS",
        "POSTS_PER_HOUR",
        "POSTS_WINDOW_SECS",
        "LIVE_PER_SECOND",
        "LIVE_WINDOW_SECS",
        "PUBLIC_REPLIES_PER_HOUR",
        "RETRY_BASE_SECS",
        "RETRY_MAX_SECS",
        "TOKEN_RECHECK_SECS",
        "BLOCKED_PAUSE_SECS",
        "CLAIM_TIMEOUT_SECS",
        "DYNAMODB_TIMEOUT_SECS",
        "RECORD_CONCURRENCY",
        "SWEEP_MAX_ITEMS",
        "REDRIVE_AFTER_SECS",
        "SECRETS_TTL_SECS",
        "SECRET_ARN",
        "ACCESS_TOKEN",
        "ACCOUNT_TOKENS",
    ];

    /// The variables a deployed replier refuses to start without.
    pub const REQUIRED_ENV_VARS: &'static [&'static str] = &[
        "TABLE_NAME",
        "ACCOUNT_STATE_TABLE_NAME",
        "CAMPAIGNS_TABLE_NAME",
    ];

    /// The Lambda's configuration: the required variables must be set, the rest overlays the defaults.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&Env::process())
    }

    /// [`ReplierConfig::from_env`] over any [`Env`]. Deployed, there is no default reply: without
    /// `REPLY_TEXT`, only campaigns answer.
    pub fn from_lookup(env: &Env) -> Result<Self, ConfigError> {
        env.required("TABLE_NAME", "set it to the comments table's name")?;
        env.required(
            "ACCOUNT_STATE_TABLE_NAME",
            "set it to the account state table's name (AccountStateTable in template.yaml)",
        )?;
        env.required(
            "CAMPAIGNS_TABLE_NAME",
            "set it to the campaigns table's name (CampaignsTable in template.yaml)",
        )?;
        Self {
            reply_text: None,
            ..Self::default()
        }
        .overlay(env)
    }

    /// What the sweep needs, which never depends on the reply text or the tokens: `TABLE_NAME` and the sweep's
    /// settings (the rest of the returned configuration is the defaults).
    pub fn for_sweep(env: &Env) -> Result<Self, ConfigError> {
        let mut config = Self {
            table_name: env.required("TABLE_NAME", "set it to the comments table's name")?,
            ..Self::default()
        };
        env.set_secs(&mut config.expiry_margin, "EXPIRY_MARGIN_SECS")?;
        env.set(&mut config.record_concurrency, "RECORD_CONCURRENCY")?;
        env.set(&mut config.sweep_max_items, "SWEEP_MAX_ITEMS")?;
        env.set_secs(&mut config.redrive_after, "REDRIVE_AFTER_SECS")?;
        env.set_secs(&mut config.dynamodb_timeout, "DYNAMODB_TIMEOUT_SECS")?;
        config.record_concurrency = config.record_concurrency.max(1);
        config.sweep_max_items = config.sweep_max_items.max(1);
        Ok(config)
    }

    /// `self` with every setting the environment sets, validated.
    pub fn overlay(mut self, env: &Env) -> Result<Self, ConfigError> {
        if let Some(text) = env.optional("REPLY_TEXT") {
            self.reply_text =
                Some(
                    ReplyTemplate::parse(&text).map_err(|e| ConfigError::Invalid {
                        name: "REPLY_TEXT",
                        reason: e.to_string(),
                    })?,
                );
        }
        env.set(&mut self.campaigns_table_name, "CAMPAIGNS_TABLE_NAME")?;
        env.set_secs(&mut self.campaigns_ttl, "CAMPAIGNS_TTL_SECS")?;
        env.set(&mut self.table_name, "TABLE_NAME")?;
        env.set(
            &mut self.account_state_table_name,
            "ACCOUNT_STATE_TABLE_NAME",
        )?;
        env.set(&mut self.graph_api_url, "GRAPH_API_URL")?;
        env.set(&mut self.graph_api_version, "GRAPH_API_VERSION")?;
        env.set_secs(&mut self.http_timeout, "HTTP_TIMEOUT_SECS")?;
        env.set_secs(&mut self.http_connect_timeout, "HTTP_CONNECT_TIMEOUT_SECS")?;
        env.set_secs(&mut self.expiry_margin, "EXPIRY_MARGIN_SECS")?;
        env.set(&mut self.posts_budget.limit, "POSTS_PER_HOUR")?;
        env.set_secs(&mut self.posts_budget.window, "POSTS_WINDOW_SECS")?;
        env.set(&mut self.live_budget.limit, "LIVE_PER_SECOND")?;
        env.set_secs(&mut self.live_budget.window, "LIVE_WINDOW_SECS")?;
        env.set(
            &mut self.public_replies_budget.limit,
            "PUBLIC_REPLIES_PER_HOUR",
        )?;
        env.set_secs(&mut self.retry_base, "RETRY_BASE_SECS")?;
        env.set_secs(&mut self.retry_max, "RETRY_MAX_SECS")?;
        env.set_secs(&mut self.token_recheck, "TOKEN_RECHECK_SECS")?;
        env.set_secs(&mut self.blocked_pause, "BLOCKED_PAUSE_SECS")?;
        env.set_secs(&mut self.dynamodb_timeout, "DYNAMODB_TIMEOUT_SECS")?;
        if env.parse::<u64>("CLAIM_TIMEOUT_SECS")?.is_none() {
            // A claim must outlive a few requests, whatever the timeouts.
            self.claim_timeout = self
                .claim_timeout
                .max(self.http_timeout * 3)
                .max(self.longest_after_claim() + Duration::from_secs(10));
        }
        env.set_secs(&mut self.claim_timeout, "CLAIM_TIMEOUT_SECS")?;
        env.set(&mut self.record_concurrency, "RECORD_CONCURRENCY")?;
        env.set(&mut self.sweep_max_items, "SWEEP_MAX_ITEMS")?;
        env.set_secs(&mut self.redrive_after, "REDRIVE_AFTER_SECS")?;
        env.set_secs(&mut self.secrets_ttl, "SECRETS_TTL_SECS")?;
        self.validate()?;
        Ok(self)
    }

    /// The defaults with these tables and reply; change fields, then call [`ReplierConfig::validate`].
    pub fn new(
        table_name: impl Into<String>,
        account_state_table_name: impl Into<String>,
        reply_text: ReplyTemplate,
    ) -> Self {
        Self {
            table_name: table_name.into(),
            account_state_table_name: account_state_table_name.into(),
            reply_text: Some(reply_text),
            ..Self::default()
        }
    }

    /// The longest an invocation can hold a claim before its outcome is written: the budget (a read and a
    /// write), the call to Meta, an account write (pause or rejected token) and the outcome write, each bounded by
    /// its timeout, plus [`CLOCK_SKEW_ALLOWANCE`] between the instance and the sweep.
    pub fn longest_after_claim(&self) -> Duration {
        self.dynamodb_timeout * AFTER_CLAIM_REQUESTS + self.http_timeout + CLOCK_SKEW_ALLOWANCE
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
        if !is_safe_for_tokens(&self.graph_api_url) {
            return Err(invalid(
                "GRAPH_API_URL",
                format!(
                    "{:?} must be https (http only to this machine): the token is sent with every reply",
                    self.graph_api_url
                ),
            ));
        }
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
        for (name, budget) in [
            ("POSTS_PER_HOUR", self.posts_budget),
            ("LIVE_PER_SECOND", self.live_budget),
            ("PUBLIC_REPLIES_PER_HOUR", self.public_replies_budget),
        ] {
            if budget.limit == 0 || budget.window.as_secs() == 0 {
                return Err(invalid(
                    name,
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
        if self.dynamodb_timeout.is_zero() {
            return Err(invalid(
                "DYNAMODB_TIMEOUT_SECS",
                "must be at least 1".into(),
            ));
        }
        let longest = self.longest_after_claim();
        if self.claim_timeout <= longest {
            return Err(invalid(
                "CLAIM_TIMEOUT_SECS",
                format!(
                    "must be longer than {} s, the longest an invocation can hold a claim (HTTP_TIMEOUT_SECS, \
                     {AFTER_CLAIM_REQUESTS} DynamoDB requests of DYNAMODB_TIMEOUT_SECS and {} s for clocks), or a \
                     live claim could be taken over",
                    longest.as_secs_f64(),
                    CLOCK_SKEW_ALLOWANCE.as_secs()
                ),
            ));
        }
        if self.redrive_after <= self.claim_timeout {
            return Err(invalid(
                "REDRIVE_AFTER_SECS",
                "must be longer than CLAIM_TIMEOUT_SECS: a comment being sent must not look forgotten".into(),
            ));
        }
        self.record_concurrency = self.record_concurrency.max(1);
        self.sweep_max_items = self.sweep_max_items.max(1);
        Ok(())
    }
}

/// A base URL a token may be sent to: `https`, or `http` only to this machine (the simulator in tests and the
/// local stack), so a token never crosses a network in clear.
pub(crate) fn is_safe_for_tokens(base_url: &str) -> bool {
    if base_url.starts_with("https://") {
        return true;
    }
    let Some(rest) = base_url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
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

    /// Every variable of the README's list, set to a valid value that differs from the default.
    fn every_setting() -> Env {
        Env::from_pairs([
            ("TABLE_NAME", "t"),
            ("ACCOUNT_STATE_TABLE_NAME", "a"),
            ("CAMPAIGNS_TABLE_NAME", "c"),
            ("CAMPAIGNS_TTL_SECS", "5"),
            ("REPLY_TEXT", "Hello {username}"),
            ("GRAPH_API_URL", "http://127.0.0.1:9/"),
            ("GRAPH_API_VERSION", "v26.0"),
            ("HTTP_TIMEOUT_SECS", "4"),
            ("HTTP_CONNECT_TIMEOUT_SECS", "2"),
            ("EXPIRY_MARGIN_SECS", "60"),
            ("POSTS_PER_HOUR", "20"),
            ("POSTS_WINDOW_SECS", "20"),
            ("LIVE_PER_SECOND", "5"),
            ("LIVE_WINDOW_SECS", "2"),
            ("RETRY_BASE_SECS", "2"),
            ("RETRY_MAX_SECS", "30"),
            ("TOKEN_RECHECK_SECS", "9"),
            ("BLOCKED_PAUSE_SECS", "11"),
            ("CLAIM_TIMEOUT_SECS", "25"),
            ("DYNAMODB_TIMEOUT_SECS", "3"),
            ("RECORD_CONCURRENCY", "3"),
            ("SWEEP_MAX_ITEMS", "50"),
            ("REDRIVE_AFTER_SECS", "60"),
            ("SECRETS_TTL_SECS", "7"),
        ])
    }

    #[test]
    fn env_vars_lists_exactly_what_the_replier_reads() {
        let env = every_setting();
        ReplierConfig::from_lookup(&env).unwrap();
        let mut listed: Vec<String> = ReplierConfig::ENV_VARS
            .iter()
            .map(|n| (*n).to_owned())
            .collect();
        // The secrets layer reads these (reply_core::secrets, ReplierSecrets::KEYS).
        listed.retain(|n| {
            n != "SECRET_ARN" && !crate::tokens::ReplierSecrets::KEYS.contains(&n.as_str())
        });
        listed.sort();
        assert_eq!(env.asked(), listed);
    }

    #[test]
    fn every_setting_overlays_its_default() {
        let c = ReplierConfig::from_lookup(&every_setting()).unwrap();
        let d = config();
        assert_eq!(
            (c.table_name.as_str(), c.account_state_table_name.as_str()),
            ("t", "a")
        );
        assert_eq!(
            c.reply_text
                .as_ref()
                .map(|t| t.render(Some("x")))
                .as_deref(),
            Some("Hello x")
        );
        assert_eq!(c.campaigns_table_name, "c");
        assert_eq!(c.campaigns_ttl, Duration::from_secs(5));
        assert_eq!(c.graph_api_url, "http://127.0.0.1:9");
        assert_eq!(c.graph_api_version, "v26.0");
        assert_eq!(
            (c.http_timeout, c.http_connect_timeout, c.expiry_margin),
            (
                Duration::from_secs(4),
                Duration::from_secs(2),
                Duration::from_secs(60)
            )
        );
        assert_eq!(
            c.posts_budget,
            Budget {
                limit: 20,
                window: Duration::from_secs(20)
            }
        );
        assert_eq!(
            c.live_budget,
            Budget {
                limit: 5,
                window: Duration::from_secs(2)
            }
        );
        assert_eq!(
            (c.retry_base, c.retry_max),
            (Duration::from_secs(2), Duration::from_secs(30))
        );
        assert_eq!(
            (c.token_recheck, c.claim_timeout),
            (Duration::from_secs(9), Duration::from_secs(25))
        );
        assert_eq!((c.record_concurrency, c.sweep_max_items), (3, 50));
        assert_eq!(c.redrive_after, Duration::from_secs(60));
        assert_eq!(c.blocked_pause, Duration::from_secs(11));
        assert_eq!(c.secrets_ttl, Duration::from_secs(7));
        assert_eq!(c.dynamodb_timeout, Duration::from_secs(3));
        assert_ne!(c.posts_budget, d.posts_budget);
    }

    #[test]
    fn a_deployed_replier_needs_its_tables_but_no_reply_text() {
        let tables = [
            ("TABLE_NAME", "t"),
            ("ACCOUNT_STATE_TABLE_NAME", "a"),
            ("CAMPAIGNS_TABLE_NAME", "c"),
        ];
        let c = ReplierConfig::from_lookup(&Env::from_pairs(tables)).unwrap();
        assert!(c.reply_text.is_none(), "no sample text when deployed");
        let blank = tables.into_iter().chain([("REPLY_TEXT", "  ")]);
        assert!(
            ReplierConfig::from_lookup(&Env::from_pairs(blank))
                .unwrap()
                .reply_text
                .is_none()
        );
        for name in ReplierConfig::REQUIRED_ENV_VARS {
            let pairs = tables;
            let env = Env::from_pairs(pairs.into_iter().filter(|(n, _)| n != name));
            match ReplierConfig::from_lookup(&env) {
                Err(ConfigError::Missing { name: missing, .. }) => assert_eq!(missing, *name),
                other => panic!("{name}: {other:?}"),
            }
        }
        // The local stack overlays an empty environment on the defaults.
        assert!(
            ReplierConfig::default()
                .overlay(&Env::from_pairs(Vec::<(String, String)>::new()))
                .is_ok()
        );
    }

    #[test]
    fn the_claim_must_outlast_every_request_after_it() {
        let env = Env::from_pairs([("HTTP_TIMEOUT_SECS", "3"), ("CLAIM_TIMEOUT_SECS", "30")]);
        assert!(ReplierConfig::default().overlay(&env).is_ok());
        let env = Env::from_pairs([("HTTP_TIMEOUT_SECS", "3"), ("CLAIM_TIMEOUT_SECS", "20")]);
        match ReplierConfig::default().overlay(&env) {
            Err(ConfigError::Invalid { name, reason }) => {
                assert_eq!(name, "CLAIM_TIMEOUT_SECS");
                assert!(reason.contains("21 s"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let c =
            ReplierConfig::default().overlay(&Env::from_pairs([("DYNAMODB_TIMEOUT_SECS", "30")]));
        assert!(c.unwrap().claim_timeout > Duration::from_secs(132));
    }

    #[test]
    fn a_longer_http_timeout_lengthens_the_default_claim() {
        let env = Env::from_pairs([("HTTP_TIMEOUT_SECS", "60")]);
        let c = ReplierConfig::default().overlay(&env).unwrap();
        assert_eq!(c.claim_timeout, Duration::from_secs(180));
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
    fn tokens_go_only_to_https_hosts_or_to_this_machine() {
        for safe in [
            "https://graph.instagram.com",
            "http://127.0.0.1:9000",
            "http://localhost:8080/x",
            "http://[::1]:9",
        ] {
            assert!(is_safe_for_tokens(safe), "{safe}");
        }
        for unsafe_url in [
            "http://graph.facebook.com",
            "http://10.0.0.5:80",
            "http://127.0.0.1.evil.com",
            "ftp://x",
        ] {
            assert!(!is_safe_for_tokens(unsafe_url), "{unsafe_url}");
        }
        let mut c = config();
        c.graph_api_url = "http://graph.instagram.com".into();
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Invalid {
                name: "GRAPH_API_URL",
                ..
            })
        ));
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
