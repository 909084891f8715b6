//! Secrets come from one of two places with the same names: environment variables for local runs, or one JSON
//! secret in AWS Secrets Manager when deployed (its keys are the variable names, e.g. `APP_SECRET`). They are
//! read at cold start (a failure fails the cold start) and re-read after a TTL, so a rotated token takes effect
//! within minutes without a redeploy; a failed re-read keeps the last good values.

use crate::config::ConfigError;
use crate::signature::AppSecrets;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use tokio::sync::{Mutex, RwLock};

/// Environment variable naming the Secrets Manager secret (ARN or name); unset means "read the environment".
pub const SECRET_ARN_VAR: &str = "SECRET_ARN";
/// How long secrets are cached before being re-read (`SECRETS_TTL_SECS`, default 300).
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// Where secret values are read from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    Env,
    SecretsManager {
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
    },
}

impl SecretSource {
    /// Secrets Manager when `SECRET_ARN` is set, else the environment.
    pub fn from_env(sdk: &aws_config::SdkConfig) -> Self {
        match crate::config::optional(SECRET_ARN_VAR) {
            Some(secret_id) => Self::SecretsManager {
                client: aws_sdk_secretsmanager::Client::new(sdk),
                secret_id,
            },
            None => Self::Env,
        }
    }

    /// Reads the current values for `keys`.
    pub async fn load(&self, keys: &[&str]) -> Result<SecretValues, ConfigError> {
        match self {
            Self::Env => Ok(SecretValues(
                keys.iter()
                    .filter_map(|k| {
                        std::env::var(k)
                            .ok()
                            .map(|v| ((*k).to_owned(), SecretString::from(v)))
                    })
                    .collect(),
            )),
            Self::SecretsManager { client, secret_id } => {
                let err = |source: anyhow::Error| ConfigError::SecretsManager {
                    secret_id: secret_id.clone(),
                    source,
                };
                let out = client
                    .get_secret_value()
                    .secret_id(secret_id)
                    .send()
                    .await
                    .map_err(|e| err(anyhow::Error::new(e)))?;
                let text = out
                    .secret_string()
                    .ok_or_else(|| err(anyhow::anyhow!("the secret has no SecretString")))?;
                SecretValues::from_json(text).map_err(|e| err(e.into()))
            }
        }
    }
}

/// Secret values by name. Nested JSON (such as per-account tokens) is kept as its JSON text.
#[derive(Default)]
pub struct SecretValues(HashMap<String, SecretString>);

impl std::fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut keys: Vec<_> = self.0.keys().collect();
        keys.sort();
        write!(f, "SecretValues({keys:?}, values redacted)")
    }
}

impl SecretValues {
    fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        let map: HashMap<String, serde_json::Value> = serde_json::from_str(text)?;
        Ok(Self(
            map.into_iter()
                .map(|(k, v)| {
                    let s = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, SecretString::from(s))
                })
                .collect(),
        ))
    }

    pub fn get(&self, key: &str) -> Option<&SecretString> {
        self.0
            .get(key)
            .filter(|v| !v.expose_secret().trim().is_empty())
    }

    pub fn insert(&mut self, key: &str, value: &str) {
        self.0
            .insert(key.to_owned(), SecretString::from(value.to_owned()));
    }
}

/// The webhook's secrets: the app secret(s) that sign notifications and the token Meta echoes on verification.
#[derive(Debug, Clone)]
pub struct WebhookSecrets {
    pub app_secrets: AppSecrets,
    pub verify_token: VerifyToken,
}

impl WebhookSecrets {
    pub const KEYS: &'static [&'static str] = &["APP_SECRET", "VERIFY_TOKEN"];

    pub fn from_values(values: &SecretValues) -> Result<Self, ConfigError> {
        let app_secrets = values
            .get("APP_SECRET")
            .and_then(|s| AppSecrets::from_comma_separated(s.expose_secret()))
            .ok_or(ConfigError::Missing {
                name: "APP_SECRET",
                hint: "set the app secret(s) that sign Meta's webhooks (comma-separated); the webhook never runs unsigned",
            })?;
        let verify_token = values
            .get("VERIFY_TOKEN")
            .map(|t| VerifyToken(t.clone()))
            .ok_or(ConfigError::Missing {
                name: "VERIFY_TOKEN",
                hint: "set the verify token you enter in the Meta app dashboard",
            })?;
        Ok(Self {
            app_secrets,
            verify_token,
        })
    }
}

/// The webhook verify token, compared in constant time (and independent of length, by comparing digests).
#[derive(Clone)]
pub struct VerifyToken(SecretString);

impl std::fmt::Debug for VerifyToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifyToken(redacted)")
    }
}

impl VerifyToken {
    pub fn new(token: &str) -> Self {
        Self(SecretString::from(token.to_owned()))
    }

    pub fn matches(&self, candidate: &str) -> bool {
        let ours = Sha256::digest(self.0.expose_secret().as_bytes());
        let theirs = Sha256::digest(candidate.as_bytes());
        ours.ct_eq(&theirs).into()
    }
}

/// Parsed secrets, re-read from their source after `ttl`.
pub struct CachedSecrets<T> {
    source: SecretSource,
    keys: &'static [&'static str],
    parse: fn(&SecretValues) -> Result<T, ConfigError>,
    ttl: Duration,
    /// The values and the moment after which they are re-read.
    current: RwLock<(Arc<T>, Instant)>,
    refresh: Mutex<()>,
}

impl<T> std::fmt::Debug for CachedSecrets<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedSecrets")
            .field("source", &self.source)
            .field("keys", &self.keys)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl<T: Send + Sync> CachedSecrets<T> {
    /// Loads once now; an error here should fail the cold start.
    pub async fn load(
        source: SecretSource,
        keys: &'static [&'static str],
        parse: fn(&SecretValues) -> Result<T, ConfigError>,
        ttl: Duration,
    ) -> Result<Self, ConfigError> {
        let first = parse(&source.load(keys).await?)?;
        Ok(Self {
            source,
            keys,
            parse,
            ttl,
            current: RwLock::new((Arc::new(first), Instant::now() + ttl)),
            refresh: Mutex::new(()),
        })
    }

    /// Values that never change (tests, the local stack with fixed secrets).
    pub fn fixed(value: T) -> Self {
        let ttl = Duration::from_secs(100 * 365 * 24 * 3600);
        Self {
            source: SecretSource::Env,
            keys: &[],
            parse: |_| {
                Err(ConfigError::Missing {
                    name: "fixed",
                    hint: "fixed secrets are never re-read",
                })
            },
            ttl,
            current: RwLock::new((Arc::new(value), Instant::now() + ttl)),
            refresh: Mutex::new(()),
        }
    }

    /// The current values, re-reading them first when they are older than the TTL.
    pub async fn get(&self) -> Arc<T> {
        {
            let current = self.current.read().await;
            if Instant::now() < current.1 {
                return current.0.clone();
            }
        }
        // One refresh at a time; the others wait and then see its result.
        let _guard = self.refresh.lock().await;
        {
            let current = self.current.read().await;
            if Instant::now() < current.1 {
                return current.0.clone();
            }
        }
        let fresh = match self.source.load(self.keys).await {
            Ok(values) => (self.parse)(&values),
            Err(e) => Err(e),
        };
        let mut current = self.current.write().await;
        match fresh {
            Ok(value) => *current = (Arc::new(value), Instant::now() + self.ttl),
            Err(error) => {
                // Keep serving the last good values; try again after another TTL.
                tracing::warn!(error = %error, "secret refresh failed; keeping the previous values");
                current.1 = Instant::now() + self.ttl;
            }
        }
        current.0.clone()
    }

    /// Forces the next `get` to re-read (for example after Meta reports an invalid token).
    pub async fn invalidate(&self) {
        let mut current = self.current.write().await;
        current.1 = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_token_matches_only_itself() {
        let t = VerifyToken::new("let-me-in");
        assert!(t.matches("let-me-in"));
        assert!(!t.matches("let-me-in "));
        assert!(!t.matches(""));
        assert!(!format!("{t:?}").contains("let-me-in"));
    }

    #[test]
    fn webhook_secrets_need_both_values() {
        let mut v = SecretValues::default();
        v.insert("APP_SECRET", "a, b");
        assert!(matches!(
            WebhookSecrets::from_values(&v),
            Err(ConfigError::Missing {
                name: "VERIFY_TOKEN",
                ..
            })
        ));
        v.insert("VERIFY_TOKEN", "tok");
        let s = WebhookSecrets::from_values(&v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.app_secrets.len(), 2);
        v.insert("APP_SECRET", " ");
        assert!(matches!(
            WebhookSecrets::from_values(&v),
            Err(ConfigError::Missing {
                name: "APP_SECRET",
                ..
            })
        ));
    }

    #[test]
    fn secrets_manager_json_keeps_nested_values_as_json_text() {
        let v = SecretValues::from_json(
            r#"{"APP_SECRET": "x", "ACCOUNT_TOKENS": {"1": {"token": "t"}}}"#,
        )
        .unwrap_or_default();
        assert_eq!(
            v.get("APP_SECRET").map(|s| s.expose_secret().to_owned()),
            Some("x".into())
        );
        let nested = v
            .get("ACCOUNT_TOKENS")
            .map(|s| s.expose_secret().to_owned())
            .unwrap_or_default();
        assert_eq!(nested, r#"{"1":{"token":"t"}}"#);
        assert!(!format!("{v:?}").contains('x'));
    }

    #[tokio::test]
    async fn cached_secrets_are_reread_after_the_ttl() {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        fn parse(_: &SecretValues) -> Result<usize, ConfigError> {
            Ok(COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
        }
        let cached = CachedSecrets::load(SecretSource::Env, &[], parse, Duration::from_secs(3600))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(*cached.get().await, 0);
        assert_eq!(*cached.get().await, 0, "cached within the TTL");
        cached.invalidate().await;
        assert_eq!(*cached.get().await, 1, "re-read once stale");
    }
}
