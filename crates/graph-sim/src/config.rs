//! What a simulator starts with. The defaults are Meta's documented numbers; tests shrink the windows and limits
//! so that throttling can be exercised in a second instead of an hour.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use crate::ids::token_fingerprint;

/// Start-up settings; [`crate::Simulator::reset`] returns to them.
#[derive(Clone)]
pub struct SimConfig {
    /// Reject comment IDs nobody registered (`100/2534025`) instead of treating them as created when first seen.
    pub strict_comments: bool,
    /// Calls per account per `hour_window` for replies to posts, reels and everything but Live (Meta: 750/hour).
    pub hour_limit: u32,
    pub hour_window: Duration,
    /// Calls per account per `live_window` for replies to Live comments (Meta: 100/second).
    pub live_limit: u32,
    pub live_window: Duration,
    /// Calls per account per `public_reply_window` to the public replies of comments (`POST` and `GET
    /// /{comment_id}/replies`). Meta gives no figure for them (they count against the account's Business Use
    /// Case budget), so the default is generous: 4,800 an hour. Refused calls answer `80002`.
    pub public_reply_limit: u32,
    pub public_reply_window: Duration,
    /// Calls per account per `send_api_window` to the Send API (messages to a person, `recipient.id`; Meta:
    /// 100/second, PLATFORM.md §5). Refused calls answer `613`.
    pub send_api_limit: u32,
    pub send_api_window: Duration,
    /// Where the simulator posts the `messages` notifications of a person who answers (and, when asked, the
    /// echoes of its own deliveries); none = no notification is sent. [`crate::Simulator::set_webhook`]
    /// changes it while running.
    pub webhook: Option<WebhookTarget>,
    /// The token each account (Instagram professional account ID) accepts.
    pub tokens: HashMap<String, String>,
    /// A token accepted for every account.
    pub default_token: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            strict_comments: false,
            hour_limit: 750,
            hour_window: Duration::from_secs(3600),
            live_limit: 100,
            live_window: Duration::from_secs(1),
            public_reply_limit: 4800,
            public_reply_window: Duration::from_secs(3600),
            send_api_limit: 100,
            send_api_window: Duration::from_secs(1),
            webhook: None,
            tokens: HashMap::new(),
            default_token: None,
        }
    }
}

/// A webhook the simulator notifies, as Meta notifies an app's callback URL.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    /// The callback URL (`http://127.0.0.1:PORT/webhook` locally).
    pub url: String,
    /// The app secret that signs each body (`X-Hub-Signature-256`).
    pub app_secret: String,
    /// Also post an echo (`message.is_echo: true`, sender = the account) for every private reply and Send API
    /// message delivered, as Meta does for an app subscribed to `messages`. Off by default: most tests want
    /// only the person's answers.
    pub echoes: bool,
}

impl WebhookTarget {
    pub fn new(url: impl Into<String>, app_secret: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            app_secret: app_secret.into(),
            echoes: false,
        }
    }

    /// Echoes of the simulator's own deliveries too.
    pub fn with_echoes(mut self) -> Self {
        self.echoes = true;
        self
    }
}

// The app secret is never shown.
impl fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &self.url)
            .field("app_secret", &"<redacted>")
            .field("echoes", &self.echoes)
            .finish()
    }
}

/// An environment variable that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{var} has an invalid value {value:?}: {expected}")]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl SimConfig {
    /// Defaults plus one token accepted for every account.
    pub fn with_default_token(token: impl Into<String>) -> Self {
        Self {
            default_token: Some(token.into()),
            ..Self::default()
        }
    }

    /// Defaults overridden by environment variables, read through `var` so tests need not touch the process
    /// environment:
    /// `ACCESS_TOKEN` (accepted for every account), `SIM_TOKENS` (`ig_id=token,ig_id=token`),
    /// `SIM_STRICT_COMMENTS` (`true`/`1`), `SIM_HOUR_LIMIT`, `SIM_HOUR_WINDOW_SECS`, `SIM_LIVE_LIMIT`,
    /// `SIM_LIVE_WINDOW_MS`, `SIM_PUBLIC_REPLY_LIMIT`, `SIM_PUBLIC_REPLY_WINDOW_SECS`, `SIM_SEND_API_LIMIT`,
    /// `SIM_SEND_API_WINDOW_MS`, `SIM_WEBHOOK_URL` with `SIM_WEBHOOK_APP_SECRET` (both or neither), and
    /// `SIM_WEBHOOK_ECHOES` (`true`/`1`).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut cfg = Self {
            default_token: var("ACCESS_TOKEN").filter(|t| !t.is_empty()),
            ..Self::default()
        };
        if let Some(list) = var("SIM_TOKENS") {
            for pair in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (ig_id, token) = pair.split_once('=').ok_or_else(|| ConfigError {
                    var: "SIM_TOKENS",
                    value: redacted(pair),
                    expected: "comma-separated ig_id=token pairs",
                })?;
                cfg.tokens
                    .insert(ig_id.trim().to_owned(), token.trim().to_owned());
            }
        }
        let flag = |name: &'static str| -> Result<bool, ConfigError> {
            match var(name) {
                None => Ok(false),
                Some(v) => match v.trim() {
                    "1" | "true" => Ok(true),
                    "0" | "false" | "" => Ok(false),
                    _ => Err(ConfigError {
                        var: name,
                        value: v,
                        expected: "true or false",
                    }),
                },
            }
        };
        cfg.strict_comments = flag("SIM_STRICT_COMMENTS")?;
        let number = |name: &'static str| -> Result<Option<u32>, ConfigError> {
            var(name)
                .map(|v| {
                    v.trim().parse::<u32>().map_err(|_| ConfigError {
                        var: name,
                        value: v,
                        expected: "a whole number",
                    })
                })
                .transpose()
        };
        if let Some(n) = number("SIM_HOUR_LIMIT")? {
            cfg.hour_limit = n;
        }
        if let Some(n) = number("SIM_HOUR_WINDOW_SECS")? {
            cfg.hour_window = Duration::from_secs(n.into());
        }
        if let Some(n) = number("SIM_LIVE_LIMIT")? {
            cfg.live_limit = n;
        }
        if let Some(n) = number("SIM_LIVE_WINDOW_MS")? {
            cfg.live_window = Duration::from_millis(n.into());
        }
        if let Some(n) = number("SIM_PUBLIC_REPLY_LIMIT")? {
            cfg.public_reply_limit = n;
        }
        if let Some(n) = number("SIM_PUBLIC_REPLY_WINDOW_SECS")? {
            cfg.public_reply_window = Duration::from_secs(n.into());
        }
        if let Some(n) = number("SIM_SEND_API_LIMIT")? {
            cfg.send_api_limit = n;
        }
        if let Some(n) = number("SIM_SEND_API_WINDOW_MS")? {
            cfg.send_api_window = Duration::from_millis(n.into());
        }
        let echoes = flag("SIM_WEBHOOK_ECHOES")?;
        let url = var("SIM_WEBHOOK_URL").filter(|u| !u.trim().is_empty());
        let secret = var("SIM_WEBHOOK_APP_SECRET").filter(|s| !s.is_empty());
        cfg.webhook = match (url, secret) {
            (Some(url), Some(app_secret)) => Some(WebhookTarget {
                url: url.trim().to_owned(),
                app_secret,
                echoes,
            }),
            (None, None) => None,
            // An unsigned notification would be refused by any correct webhook: ask for both.
            (Some(_), None) => {
                return Err(ConfigError {
                    var: "SIM_WEBHOOK_APP_SECRET",
                    value: String::new(),
                    expected: "the app secret that signs the notifications, since SIM_WEBHOOK_URL is set",
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError {
                    var: "SIM_WEBHOOK_URL",
                    value: String::new(),
                    expected: "the webhook URL, since SIM_WEBHOOK_APP_SECRET is set",
                });
            }
        };
        Ok(cfg)
    }
}

/// A malformed `SIM_TOKENS` entry may be a bare token: show only its first characters.
fn redacted(pair: &str) -> String {
    format!("{}…", pair.chars().take(4).collect::<String>())
}

// Tokens are shown as fingerprints only.
impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tokens: HashMap<&str, String> = self
            .tokens
            .iter()
            .map(|(ig, t)| (ig.as_str(), token_fingerprint(t)))
            .collect();
        f.debug_struct("SimConfig")
            .field("strict_comments", &self.strict_comments)
            .field("hour_limit", &self.hour_limit)
            .field("hour_window", &self.hour_window)
            .field("live_limit", &self.live_limit)
            .field("live_window", &self.live_window)
            .field("public_reply_limit", &self.public_reply_limit)
            .field("public_reply_window", &self.public_reply_window)
            .field("send_api_limit", &self.send_api_limit)
            .field("send_api_window", &self.send_api_window)
            .field("webhook", &self.webhook)
            .field("tokens", &tokens)
            .field(
                "default_token",
                &self.default_token.as_deref().map(token_fingerprint),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_environment_overrides_the_defaults() {
        let cfg = SimConfig::from_env(env(&[
            ("ACCESS_TOKEN", "any"),
            ("SIM_TOKENS", "111=a, 222=b"),
            ("SIM_STRICT_COMMENTS", "true"),
            ("SIM_HOUR_LIMIT", "3"),
            ("SIM_LIVE_WINDOW_MS", "250"),
        ]))
        .expect("valid environment");
        assert_eq!(cfg.default_token.as_deref(), Some("any"));
        assert_eq!(cfg.tokens.get("222").map(String::as_str), Some("b"));
        assert!(cfg.strict_comments);
        assert_eq!(cfg.hour_limit, 3);
        assert_eq!(cfg.hour_window, Duration::from_secs(3600));
        assert_eq!(cfg.live_window, Duration::from_millis(250));
    }

    #[test]
    fn a_malformed_number_is_an_error_naming_the_variable() {
        let err = SimConfig::from_env(env(&[("SIM_HOUR_LIMIT", "lots")])).expect_err("invalid");
        assert_eq!(err.var, "SIM_HOUR_LIMIT");
    }

    #[test]
    fn debug_output_shows_fingerprints_not_tokens() {
        let cfg = SimConfig::with_default_token("EAAGsecret");
        assert!(!format!("{cfg:?}").contains("EAAGsecret"));
    }

    #[test]
    fn the_send_api_budget_and_the_webhook_come_from_the_environment() {
        let cfg = SimConfig::from_env(env(&[
            ("SIM_SEND_API_LIMIT", "7"),
            ("SIM_SEND_API_WINDOW_MS", "500"),
            ("SIM_WEBHOOK_URL", " http://127.0.0.1:3000/webhook "),
            ("SIM_WEBHOOK_APP_SECRET", "app-secret"),
            ("SIM_WEBHOOK_ECHOES", "1"),
        ]))
        .expect("valid environment");
        assert_eq!(cfg.send_api_limit, 7);
        assert_eq!(cfg.send_api_window, Duration::from_millis(500));
        assert_eq!(
            cfg.webhook,
            Some(WebhookTarget::new("http://127.0.0.1:3000/webhook", "app-secret").with_echoes())
        );
        assert!(!format!("{cfg:?}").contains("app-secret"));
        let defaults = SimConfig::from_env(env(&[])).expect("empty environment");
        assert_eq!((defaults.send_api_limit, defaults.webhook), (100, None));
    }

    #[test]
    fn a_webhook_url_without_its_app_secret_is_an_error() {
        let err = SimConfig::from_env(env(&[("SIM_WEBHOOK_URL", "http://x/webhook")]))
            .expect_err("no secret");
        assert_eq!(err.var, "SIM_WEBHOOK_APP_SECRET");
        let err = SimConfig::from_env(env(&[("SIM_WEBHOOK_APP_SECRET", "s")])).expect_err("no url");
        assert_eq!(err.var, "SIM_WEBHOOK_URL");
        let err = SimConfig::from_env(env(&[("SIM_WEBHOOK_ECHOES", "often")])).expect_err("flag");
        assert_eq!(err.var, "SIM_WEBHOOK_ECHOES");
    }
}
