//! Defaults that depend on where the command points: local URLs get the local stack's well-known secrets,
//! anything else must be told them, so a deployed webhook is never probed with a made-up secret.

use crate::failure::Failure;
use reqwest::Url;

/// The local stack's app secret and verify token (see the README's configuration table).
pub const LOCAL_APP_SECRET: &str = "local-app-secret";
pub const LOCAL_VERIFY_TOKEN: &str = "local-verify-token";

/// `--url`/`WEBHOOK_URL`, else the local stack's webhook on `WEBHOOK_PORT` (default 3000).
pub fn webhook_url(given: Option<String>) -> Result<Url, Failure> {
    let text = given.unwrap_or_else(|| {
        let port =
            reply_core::config::optional("WEBHOOK_PORT").unwrap_or_else(|| "3000".to_owned());
        format!("http://127.0.0.1:{}/webhook", port.trim())
    });
    let url = Url::parse(text.trim()).map_err(|e| {
        Failure::new(format!("the webhook URL {text:?} is not a URL"))
            .source(e)
            .hint("pass --url or set WEBHOOK_URL, e.g. http://127.0.0.1:3000/webhook or the deployed API's https://.../webhook")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(
            Failure::new(format!("the webhook URL {url} is not http(s)"))
                .hint("pass --url or set WEBHOOK_URL to an http:// or https:// URL"),
        );
    }
    Ok(url)
}

/// True for loopback hosts (`127.0.0.0/8`, `::1`, `localhost`): the local stack.
pub fn is_local(url: &Url) -> bool {
    url.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

/// The secret to sign with: the first of a comma-separated `APP_SECRET`, or the local default for local URLs.
pub fn app_secret(given: Option<String>, url: &Url) -> Result<String, Failure> {
    let first = given.and_then(|s| {
        s.split(',')
            .map(str::trim)
            .find(|s| !s.is_empty())
            .map(str::to_owned)
    });
    match first {
        Some(secret) => Ok(secret),
        None if is_local(url) => Ok(LOCAL_APP_SECRET.to_owned()),
        None => Err(Failure::new(format!("APP_SECRET is required to sign notifications for {url}"))
            .hint("set APP_SECRET (or --app-secret) to the app secret the deployed webhook checks: the APP_SECRET key of the secret named by its SECRET_ARN")),
    }
}

/// The verify token to present, or the local default for local URLs.
pub fn verify_token(given: Option<String>, url: &Url) -> Result<String, Failure> {
    match given.filter(|t| !t.trim().is_empty()) {
        Some(token) => Ok(token),
        None if is_local(url) => Ok(LOCAL_VERIFY_TOKEN.to_owned()),
        None => Err(Failure::new(format!("VERIFY_TOKEN is required to verify {url}"))
            .hint("set VERIFY_TOKEN (or --verify-token) to the verify token entered in the Meta app dashboard")),
    }
}

/// What to check when a URL cannot be reached.
pub fn unreachable_hint(url: &Url) -> String {
    if is_local(url) {
        "is the local stack running? Start it with `cargo run -p local-stack` (or check --url / WEBHOOK_URL / WEBHOOK_PORT)".to_owned()
    } else {
        format!(
            "check that {url} is the deployed API's URL (the stack's WebhookUrl output) and that this machine can reach it"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn loopback_hosts_are_local_and_others_are_not() {
        assert!(is_local(&url("http://127.0.0.1:3000/webhook")));
        assert!(is_local(&url("http://localhost:3000/webhook")));
        assert!(is_local(&url("http://[::1]:3000/webhook")));
        assert!(!is_local(&url(
            "https://abc.execute-api.eu-west-1.amazonaws.com/webhook"
        )));
        assert!(!is_local(&url("http://10.0.0.5/webhook")));
    }

    #[test]
    fn local_urls_get_the_local_secrets_and_remote_ones_must_be_told() {
        let local = url("http://127.0.0.1:3000/webhook");
        let remote = url("https://example.com/webhook");
        assert_eq!(
            app_secret(None, &local).ok().as_deref(),
            Some(LOCAL_APP_SECRET)
        );
        assert!(app_secret(None, &remote).is_err());
        assert_eq!(
            app_secret(Some(" a , b".into()), &remote).ok().as_deref(),
            Some("a")
        );
        assert_eq!(
            verify_token(None, &local).ok().as_deref(),
            Some(LOCAL_VERIFY_TOKEN)
        );
        assert!(verify_token(None, &remote).is_err());
    }
}
