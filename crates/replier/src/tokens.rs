//! Which token (and which host and path ID) sends a reply for an account. `ACCESS_TOKEN` serves every account;
//! `ACCOUNT_TOKENS` overrides it per Instagram account, e.g. for accounts connected through Facebook Login, which
//! are called on `graph.facebook.com` with their Page ID in the path (PLATFORM.md section 5). Both come through
//! [`CachedSecrets`], so a token fixed in Secrets Manager takes effect within the cache TTL, or sooner after
//! Meta rejects the old one. Tokens never appear in logs or `Debug` output; a [`TokenFingerprint`] stands in.

use async_trait::async_trait;
use reply_core::config::ConfigError;
use reply_core::secrets::{CachedSecrets, SecretValues};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The first 8 hex digits of the token's SHA-256: tells tokens apart in logs and in the account state, and is
/// useless for calling Meta.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenFingerprint(String);

impl TokenFingerprint {
    pub fn of(token: &str) -> Self {
        Self(hex::encode(Sha256::digest(token.as_bytes()))[..8].to_owned())
    }

    /// A fingerprint read back from the account state table.
    pub fn from_stored(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TokenFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A token and where to use it.
#[derive(Clone)]
struct TokenEntry {
    token: SecretString,
    fingerprint: TokenFingerprint,
    /// `None`: the configured `GRAPH_API_URL`.
    host: Option<String>,
    /// `None`: the Instagram account ID.
    page_id: Option<String>,
}

impl std::fmt::Debug for TokenEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEntry")
            .field("fingerprint", &self.fingerprint)
            .field("host", &self.host)
            .field("page_id", &self.page_id)
            .finish()
    }
}

impl TokenEntry {
    fn new(token: &str, host: Option<String>, page_id: Option<String>) -> Self {
        Self {
            fingerprint: TokenFingerprint::of(token),
            token: SecretString::from(token.to_owned()),
            host,
            page_id,
        }
    }
}

/// Everything needed to send one account's replies.
#[derive(Clone)]
pub struct SendTarget {
    token: SecretString,
    pub fingerprint: TokenFingerprint,
    /// Base URL; `None` means the configured `GRAPH_API_URL`.
    pub host: Option<String>,
    /// The ID in `/{version}/{id}/messages`: the Page ID for Facebook Login accounts, else the account ID.
    pub path_id: String,
}

impl std::fmt::Debug for SendTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendTarget")
            .field("fingerprint", &self.fingerprint)
            .field("host", &self.host)
            .field("path_id", &self.path_id)
            .finish()
    }
}

impl SendTarget {
    pub(crate) fn token(&self) -> &str {
        self.token.expose_secret()
    }
}

/// The parsed `ACCESS_TOKEN` and `ACCOUNT_TOKENS`.
#[derive(Debug, Clone, Default)]
pub struct ReplierSecrets {
    default: Option<TokenEntry>,
    accounts: HashMap<String, TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    token: String,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    page_id: Option<String>,
}

impl ReplierSecrets {
    pub const KEYS: &'static [&'static str] = &["ACCESS_TOKEN", "ACCOUNT_TOKENS"];

    pub fn from_values(values: &SecretValues) -> Result<Self, ConfigError> {
        Self::parse(
            values.get("ACCESS_TOKEN").map(|s| s.expose_secret()),
            values.get("ACCOUNT_TOKENS").map(|s| s.expose_secret()),
        )
    }

    /// `access_token`: used for every account without its own entry. `account_tokens`: JSON
    /// `{"<ig_id>": {"token": "...", "host": "https://graph.facebook.com", "page_id": "..."}}`.
    pub fn parse(
        access_token: Option<&str>,
        account_tokens: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let invalid = |name: &'static str, reason: String| ConfigError::Invalid { name, reason };
        let default = match access_token.map(str::trim).filter(|t| !t.is_empty()) {
            Some(token) => {
                check_token(token).map_err(|r| invalid("ACCESS_TOKEN", r.into()))?;
                Some(TokenEntry::new(token, None, None))
            }
            None => None,
        };
        let mut accounts = HashMap::new();
        if let Some(json) = account_tokens.map(str::trim).filter(|t| !t.is_empty()) {
            // serde_json's messages may quote the offending value, which could be a token: report the position only.
            let raw: HashMap<String, RawAccount> = serde_json::from_str(json).map_err(|e| {
                invalid(
                    "ACCOUNT_TOKENS",
                    format!(
                        "not a JSON object of {{\"<ig_id>\": {{\"token\", \"host\"?, \"page_id\"?}}}} ({:?} error at line {} column {})",
                        e.classify(),
                        e.line(),
                        e.column()
                    ),
                )
            })?;
            for (ig_id, entry) in raw {
                let ig_id = ig_id.trim().to_owned();
                let at =
                    |what: &str| invalid("ACCOUNT_TOKENS", format!("account {ig_id:?}: {what}"));
                if ig_id.is_empty() {
                    return Err(at("the account ID is empty"));
                }
                let token = entry.token.trim();
                check_token(token).map_err(at)?;
                let host = match entry
                    .host
                    .as_deref()
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                {
                    Some(h) => {
                        let host = crate::config::normalise_base_url(h)
                            .ok_or_else(|| at("host is not an http(s) URL"))?;
                        if !crate::config::is_safe_for_tokens(&host) {
                            return Err(at(
                                "host must be https (http only to this machine): the token is sent to it",
                            ));
                        }
                        Some(host)
                    }
                    None => None,
                };
                let page_id = entry
                    .page_id
                    .map(|p| p.trim().to_owned())
                    .filter(|p| !p.is_empty());
                if page_id
                    .as_deref()
                    .is_some_and(|p| p.contains(['/', '?', '#']))
                {
                    return Err(at("page_id must be a plain ID"));
                }
                accounts.insert(ig_id, TokenEntry::new(token, host, page_id));
            }
        }
        if default.is_none() && accounts.is_empty() {
            return Err(ConfigError::Missing {
                name: "ACCESS_TOKEN",
                hint: "set ACCESS_TOKEN (used for every account) and/or ACCOUNT_TOKENS (per account JSON)",
            });
        }
        Ok(Self { default, accounts })
    }

    /// Where and with which token to send replies for `account_id`; `None` when no token is configured for it.
    pub fn target_for(&self, account_id: &str) -> Option<SendTarget> {
        let entry = self.accounts.get(account_id).or(self.default.as_ref())?;
        Some(SendTarget {
            token: entry.token.clone(),
            fingerprint: entry.fingerprint.clone(),
            host: entry.host.clone(),
            path_id: entry
                .page_id
                .clone()
                .unwrap_or_else(|| account_id.to_owned()),
        })
    }
}

fn check_token(token: &str) -> Result<(), &'static str> {
    if token.is_empty() {
        Err("the token is empty")
    } else if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err("the token contains whitespace or control characters")
    } else {
        Ok(())
    }
}

/// Where the current tokens come from: [`CachedSecrets`] when deployed, [`StaticTokens`] in tests and local runs
/// that change tokens on the fly.
#[async_trait]
pub trait TokenSource: Send + Sync + std::fmt::Debug {
    async fn current(&self) -> Arc<ReplierSecrets>;
    /// Makes the next [`TokenSource::current`] re-read the tokens (Meta said the token is invalid).
    async fn invalidate(&self);
}

#[async_trait]
impl TokenSource for CachedSecrets<ReplierSecrets> {
    async fn current(&self) -> Arc<ReplierSecrets> {
        self.get().await
    }

    async fn invalidate(&self) {
        CachedSecrets::invalidate(self).await;
    }
}

/// Tokens held in memory and replaced by [`StaticTokens::set`]; counts invalidations so tests can see them.
#[derive(Debug, Default)]
pub struct StaticTokens {
    current: std::sync::RwLock<Arc<ReplierSecrets>>,
    invalidations: AtomicUsize,
}

impl StaticTokens {
    pub fn new(secrets: ReplierSecrets) -> Self {
        Self {
            current: std::sync::RwLock::new(Arc::new(secrets)),
            invalidations: AtomicUsize::new(0),
        }
    }

    /// One token for every account.
    pub fn single(token: &str) -> Result<Self, ConfigError> {
        Ok(Self::new(ReplierSecrets::parse(Some(token), None)?))
    }

    pub fn set(&self, secrets: ReplierSecrets) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(secrets);
    }

    pub fn invalidations(&self) -> usize {
        self.invalidations.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenSource for StaticTokens {
    async fn current(&self) -> Arc<ReplierSecrets> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn invalidate(&self) {
        self.invalidations.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(token: Option<&str>, accounts: Option<&str>) -> Result<ReplierSecrets, ConfigError> {
        ReplierSecrets::parse(token, accounts)
    }

    #[test]
    fn an_account_host_that_would_send_its_token_in_clear_is_refused() {
        let refused = ReplierSecrets::parse(
            None,
            Some(r#"{"111": {"token": "EAAGpage", "host": "http://graph.facebook.com"}}"#),
        );
        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("must be https"), "{message}");
        assert!(
            !message.contains("EAAGpage"),
            "the token is never in the message"
        );
        assert!(
            ReplierSecrets::parse(
                None,
                Some(r#"{"111": {"token": "EAAGpage", "host": "http://127.0.0.1:9"}}"#)
            )
            .is_ok()
        );
    }

    #[test]
    fn the_default_token_serves_every_account_with_its_own_id_in_the_path() {
        let s = parse(Some("IGAAdefault"), None).unwrap_or_default();
        let t = s
            .target_for("17841401906857599")
            .map(|t| (t.path_id.clone(), t.host.clone(), t.token().to_owned()));
        assert_eq!(
            t,
            Some(("17841401906857599".into(), None, "IGAAdefault".into()))
        );
    }

    #[test]
    fn account_tokens_override_the_default_with_their_host_and_page_id() {
        let s = parse(
            Some("IGAAdefault"),
            Some(r#"{"111": {"token": "EAAGpage", "host": "https://graph.facebook.com/", "page_id": "999"},
                     "222": {"token": "IGAAother"}}"#),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let fb = s.target_for("111").unwrap_or_else(|| panic!("111"));
        assert_eq!(fb.host.as_deref(), Some("https://graph.facebook.com"));
        assert_eq!(fb.path_id, "999");
        assert_eq!(fb.token(), "EAAGpage");
        let ig = s.target_for("222").unwrap_or_else(|| panic!("222"));
        assert_eq!(
            (ig.host.as_deref(), ig.path_id.as_str(), ig.token()),
            (None, "222", "IGAAother")
        );
        assert_eq!(
            s.target_for("333").map(|t| t.token().to_owned()).as_deref(),
            Some("IGAAdefault")
        );
    }

    #[test]
    fn without_a_default_token_an_unlisted_account_has_no_target() {
        let s = parse(None, Some(r#"{"111": {"token": "t"}}"#)).unwrap_or_default();
        assert!(s.target_for("111").is_some());
        assert!(s.target_for("222").is_none());
    }

    #[test]
    fn no_token_at_all_is_a_missing_access_token() {
        assert!(matches!(
            parse(None, None),
            Err(ConfigError::Missing {
                name: "ACCESS_TOKEN",
                ..
            })
        ));
        assert!(matches!(
            parse(Some("  "), Some(" ")),
            Err(ConfigError::Missing { .. })
        ));
        assert!(matches!(
            parse(None, Some("{}")),
            Err(ConfigError::Missing { .. })
        ));
    }

    #[test]
    fn malformed_account_tokens_are_refused_without_quoting_the_token() {
        for json in [
            r#"{"111": {"token": 123456789}}"#,
            r#"{"111": "EAAGsecretvalue"}"#,
            r#"{"111": {"token": "EAAGsecretvalue", "pageid": "1"}}"#,
            r#"{"111": {"token": "EAAGsecretvalue", "host": "graph.facebook.com"}}"#,
            r#"{"111": {"token": "EAAG secretvalue"}}"#,
            r#"{"": {"token": "EAAGsecretvalue"}}"#,
            "not json",
        ] {
            match parse(None, Some(json)) {
                Err(ConfigError::Invalid {
                    name: "ACCOUNT_TOKENS",
                    reason,
                }) => {
                    assert!(
                        !reason.contains("secretvalue") && !reason.contains("123456789"),
                        "{reason}"
                    );
                }
                other => panic!("{json}: {other:?}"),
            }
        }
    }

    #[test]
    fn fingerprints_are_the_first_8_hex_digits_of_sha256_and_debug_hides_tokens() {
        // sha256("abc") = ba7816bf...
        assert_eq!(TokenFingerprint::of("abc").as_str(), "ba7816bf");
        let s = parse(
            Some("IGAAsecret"),
            Some(r#"{"1": {"token": "EAAGsecret"}}"#),
        )
        .unwrap_or_default();
        let debug = format!("{s:?} {:?}", s.target_for("1"));
        assert!(!debug.contains("secret"), "{debug}");
    }

    #[tokio::test]
    async fn static_tokens_can_be_replaced_and_count_invalidations() {
        let tokens = StaticTokens::single("old").unwrap_or_default();
        let before = tokens
            .current()
            .await
            .target_for("1")
            .map(|t| t.fingerprint);
        tokens.set(parse(Some("new"), None).unwrap_or_default());
        tokens.invalidate().await;
        let after = tokens
            .current()
            .await
            .target_for("1")
            .map(|t| t.fingerprint);
        assert_ne!(before, after);
        assert_eq!(after, Some(TokenFingerprint::of("new")));
        assert_eq!(tokens.invalidations(), 1);
    }
}
