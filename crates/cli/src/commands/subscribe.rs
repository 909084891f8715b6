//! `subscribe`: `POST {GRAPH_API_URL}/{GRAPH_API_VERSION}/{ig_id}/subscribed_apps?subscribed_fields=...` with
//! the account's token (PLATFORM.md section 7), so Meta sends that account's comments to the webhook. The token
//! travels only in the `Authorization` header and is never printed.

use super::{http_client, transport_error};
use crate::cli::SubscribeArgs;
use crate::config;
use crate::failure::Failure;
use crate::output::{self, Output};
use reqwest::Url;
use serde_json::{Value, json};

pub async fn run(args: SubscribeArgs, out: &Output) -> Result<(), Failure> {
    let token = args
        .token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Failure::new("no access token for the account").hint(
                "pass --token or set ACCESS_TOKEN to the account's Instagram user access token",
            )
        })?;
    let account = args.account.trim();
    let fields: Vec<&str> = args
        .fields
        .iter()
        .map(|f| f.trim())
        .filter(|f| !f.is_empty())
        .collect();
    if fields.is_empty() {
        return Err(
            Failure::new("--fields is empty").hint("e.g. --fields comments,live_comments,messages")
        );
    }
    let base = args.graph_api_url.trim().trim_end_matches('/');
    let version = args.graph_api_version.trim();
    let mut url = Url::parse(&format!("{base}/{version}/{account}/subscribed_apps")).map_err(|e| {
        Failure::new(format!("{base:?} is not a URL"))
            .source(e)
            .hint("set GRAPH_API_URL (or --graph-api-url) to https://graph.instagram.com or the local simulator's URL")
    })?;
    url.query_pairs_mut()
        .append_pair("subscribed_fields", &fields.join(","));

    let client = http_client(args.timeout, "replyctl")?;
    let response = client.post(url.clone()).bearer_auth(token).send().await.map_err(|e| {
        Failure::new(format!("could not reach the Graph API at {base} ({})", transport_error(&e)))
            .source(e.without_url())
            .hint(if config::is_local(&url) {
                "is the Graph API simulator running? `cargo run -p local-stack` starts it (or check GRAPH_API_URL)"
                    .to_owned()
            } else {
                "check GRAPH_API_URL and this machine's network".to_owned()
            })
    })?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let shown_url = format!("POST {base}/{version}/{account}/subscribed_apps");

    if (200..300).contains(&status) && body["success"] == json!(true) {
        if out.json() {
            out.print_json(&json!({"account": account, "fields": fields, "success": true, "request": shown_url}));
        } else {
            println!(
                "{} account {account} is subscribed to {} ({shown_url}).",
                output::good("Subscribed:"),
                fields.join(", ")
            );
        }
        return Ok(());
    }

    let error = &body["error"];
    let code = error["code"].as_u64();
    let subcode = error["error_subcode"].as_u64();
    let message = error["message"].as_str().unwrap_or("").to_owned();
    let details = json!({
        "http_status": status,
        "code": code,
        "error_subcode": subcode,
        "message": message,
        "type": error["type"],
        "fbtrace_id": error["fbtrace_id"],
    });
    let summary = match (code, subcode) {
        (Some(c), Some(s)) => format!("Meta refused the subscription: code {c}/{s}: {message}"),
        (Some(c), None) => format!("Meta refused the subscription: code {c}: {message}"),
        _ if (200..300).contains(&status) => {
            format!("Meta answered {status} without success: {}", snippet(&text))
        }
        _ => format!("Meta answered {status}: {}", snippet(&text)),
    };
    let fbtrace = error["fbtrace_id"]
        .as_str()
        .map(|t| format!(" (fbtrace_id {t})"))
        .unwrap_or_default();
    Err(Failure::new(format!("{summary}{fbtrace}"))
        .hint(hint_for(code))
        .details(details))
}

fn snippet(text: &str) -> String {
    let s: String = text.chars().take(200).collect();
    if s.is_empty() {
        "(empty body)".to_owned()
    } else {
        s
    }
}

fn hint_for(code: Option<u64>) -> String {
    match code {
        Some(190) => "190: the token is expired or invalid: refresh it (GET https://graph.instagram.com/refresh_access_token?grant_type=ig_refresh_token&access_token=...) or create a new one in the app dashboard, then set ACCESS_TOKEN".to_owned(),
        Some(104) => "no token reached Meta: pass --token or set ACCESS_TOKEN".to_owned(),
        Some(100) => "100: a parameter was refused; check --fields (comments, live_comments, messages, mentions, ...) and the account ID".to_owned(),
        Some(10 | 200..=299) => "a permissions error: the app needs Advanced Access for comments/live_comments, must be in Live mode, and the token must belong to this account".to_owned(),
        Some(4 | 17 | 32 | 613 | 80002) => "rate limited by Meta: wait a few minutes and run it again".to_owned(),
        Some(1 | 2) => "a temporary error at Meta: run it again in a moment".to_owned(),
        _ => "check GRAPH_API_URL / GRAPH_API_VERSION, the account ID and the token".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expired_token_says_to_refresh_it() {
        assert!(hint_for(Some(190)).contains("refresh"));
    }
}
