//! Structured JSON logs through `tracing`, one line per event, so CloudWatch Logs Insights can query fields.
//! Log IDs and counts only: never a secret, a signature or comment or message text.

/// The variables that set the log level (read by every function).
pub const ENV_VARS: &[&str] = &[LOG_LEVEL_VAR, LAMBDA_LOG_LEVEL_VAR];
const LOG_LEVEL_VAR: &str = "RUST_LOG";
/// Set by Lambda from the function's logging configuration.
const LAMBDA_LOG_LEVEL_VAR: &str = "AWS_LAMBDA_LOG_LEVEL";

/// Installs the JSON subscriber. Level from `RUST_LOG`, else Lambda's `AWS_LAMBDA_LOG_LEVEL`, else `info`.
pub fn init() {
    init_with_default("info");
}

/// As [`init`], with another level when neither variable is set (the local stack keeps its terminal quiet).
pub fn init_with_default(default_level: &str) {
    let filter = std::env::var(LOG_LEVEL_VAR)
        .or_else(|_| std::env::var(LAMBDA_LOG_LEVEL_VAR).map(|l| l.to_lowercase()))
        .unwrap_or_else(|_| default_level.to_owned());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .try_init();
}

/// The messages of `error`'s sources, `outer: inner`, for a log field next to the error itself. AWS SDK
/// errors say only "service error" at the top; the cause is in the chain.
pub fn error_sources(error: &dyn std::error::Error) -> String {
    let mut out = String::new();
    let mut source = error.source();
    while let Some(e) = source {
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn sources_are_joined_without_the_error_itself() {
        let e = Outer(Inner(std::io::Error::other("disk")));
        assert_eq!(super::error_sources(&e), "inner: disk");
    }
}
