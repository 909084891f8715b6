//! What a command reports when it cannot do its job: what went wrong, why (the source chain), and what the
//! operator can do about it. Every failure exits with code 1.

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub message: String,
    /// The next step for the operator.
    pub hint: Option<String>,
    /// Machine-readable details for `--json` (for example Meta's error object).
    pub details: Option<Value>,
    #[source]
    pub source: Option<anyhow::Error>,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            details: None,
            source: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn maybe_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint.or(self.hint);
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn source(mut self, source: impl Into<anyhow::Error>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The causes below the message, outermost first.
    pub fn causes(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(source) = &self.source {
            for cause in source.chain() {
                let text = cause.to_string();
                if out.last() != Some(&text) {
                    out.push(text);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_list_the_source_chain_without_repeats() {
        let inner = anyhow::anyhow!("connection refused").context("request failed");
        let f = Failure::new("could not post").source(inner);
        assert_eq!(f.causes(), vec!["request failed", "connection refused"]);
    }
}
