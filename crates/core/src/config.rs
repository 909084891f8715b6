//! Reading settings from the environment with messages that say which variable is wrong and how to fix it.
//! Lambdas read them once per cold start and fail it on a bad value, rather than run half-configured.
//!
//! Each component's configuration has one `Default` and an `overlay(&Env)` that applies whatever the
//! environment sets; a Lambda's `from_env` also insists on its required variables. [`Env`] is the process
//! environment or a fixed set of pairs, and remembers every name asked for, so each component's list of the
//! variables it reads (`ENV_VARS`) is checked against what it really reads.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set: {hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("{name} has an invalid value: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("could not load secrets from AWS Secrets Manager secret {secret_id}")]
    SecretsManager {
        secret_id: String,
        #[source]
        source: anyhow::Error,
    },
}

/// Where settings come from.
#[derive(Debug, Default)]
pub struct Env {
    /// `None`: the process environment.
    fixed: Option<HashMap<String, String>>,
    asked: Mutex<BTreeSet<String>>,
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Self::default()
    }

    /// Exactly these variables and no others.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            fixed: Some(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
            asked: Mutex::default(),
        }
    }

    /// A variable that may be absent; blank counts as absent.
    pub fn optional(&self, name: &str) -> Option<String> {
        self.asked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name.to_owned());
        let value = match &self.fixed {
            Some(vars) => vars.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    /// A required, non-blank variable.
    pub fn required(&self, name: &'static str, hint: &'static str) -> Result<String, ConfigError> {
        self.optional(name)
            .ok_or(ConfigError::Missing { name, hint })
    }

    /// A parsed variable, `None` when unset.
    pub fn parse<T>(&self, name: &'static str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.optional(name)
            .map(|v| {
                v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
                    name,
                    reason: format!("{v:?}: {e}"),
                })
            })
            .transpose()
    }

    /// Overwrites `target` with the parsed variable when it is set.
    pub fn set<T>(&self, target: &mut T, name: &'static str) -> Result<(), ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        if let Some(value) = self.parse(name)? {
            *target = value;
        }
        Ok(())
    }

    /// Overwrites `target` with the variable, in whole seconds, when it is set.
    pub fn set_secs(&self, target: &mut Duration, name: &'static str) -> Result<(), ConfigError> {
        if let Some(secs) = self.parse::<u64>(name)? {
            *target = Duration::from_secs(secs);
        }
        Ok(())
    }

    /// Every name asked for so far, sorted.
    pub fn asked(&self) -> Vec<String> {
        self.asked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

/// A required, non-blank variable of the process environment.
pub fn required(name: &'static str, hint: &'static str) -> Result<String, ConfigError> {
    Env::process().required(name, hint)
}

/// A variable of the process environment that may be absent; blank counts as absent.
pub fn optional(name: &str) -> Option<String> {
    Env::process().optional(name)
}

/// A parsed variable of the process environment, with a default.
pub fn parse_or<T>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    Ok(Env::process().parse(name)?.unwrap_or(default))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_pairs_are_the_whole_environment_and_blank_is_unset() {
        let env = Env::from_pairs([("A", "1"), ("B", "  ")]);
        assert_eq!(env.optional("A").as_deref(), Some("1"));
        assert_eq!(env.optional("B"), None);
        assert_eq!(env.optional("PATH"), None);
        assert_eq!(env.asked(), ["A", "B", "PATH"]);
    }

    #[test]
    fn a_bad_value_names_the_variable_and_the_value() {
        let env = Env::from_pairs([("PORT", "eighty")]);
        let mut port = 80u16;
        let error = env.set(&mut port, "PORT").err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("PORT has an invalid value: \"eighty\": invalid digit found in string")
        );
        let mut timeout = Duration::from_secs(1);
        Env::from_pairs([("T", "7")])
            .set_secs(&mut timeout, "T")
            .unwrap();
        assert_eq!(timeout, Duration::from_secs(7));
        assert!(matches!(
            env.required("MISSING", "set it"),
            Err(ConfigError::Missing {
                name: "MISSING",
                ..
            })
        ));
    }
}
