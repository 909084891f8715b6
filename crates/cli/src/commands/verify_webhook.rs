//! `verify-webhook`: Meta's GET handshake, as Meta runs it when the callback URL is saved. It passes when the
//! webhook answers 200 with exactly the challenge for the right token; a wrong token must not be echoed (Meta
//! expects 403), or anyone could subscribe the callback.

use super::{http_client, transport_error};
use crate::cli::VerifyWebhookArgs;
use crate::config;
use crate::failure::Failure;
use crate::output::{self, Output, Table};
use rand::Rng as _;
use reqwest::Url;
use serde_json::{Value, json};

#[derive(Debug)]
struct Attempt {
    status: Option<u16>,
    body: String,
    error: Option<String>,
}

impl Attempt {
    fn json(&self) -> Value {
        json!({"status": self.status, "body": self.body, "error": self.error})
    }
}

pub async fn run(args: VerifyWebhookArgs, out: &Output) -> Result<(), Failure> {
    let url = config::webhook_url(args.webhook.url)?;
    let token = config::verify_token(args.verify_token, &url)?;
    let client = http_client(args.timeout, "replyctl")?;
    let challenge = rand::rng()
        .random_range(1_000_000_000u64..10_000_000_000)
        .to_string();
    let wrong_token = format!(
        "{token}-wrong-{}",
        rand::rng().random_range(1000..10_000u32)
    );

    let right = handshake(&client, &url, &token, &challenge).await;
    let wrong = handshake(&client, &url, &wrong_token, &challenge).await;

    let passes = right.status == Some(200) && right.body == challenge;
    let wrong_refused = wrong.status.is_some_and(|s| s != 200)
        || (wrong.status == Some(200) && wrong.body != challenge);
    let wrong_refused = wrong_refused && wrong.error.is_none();
    let ok = passes && wrong_refused;

    if out.json() {
        out.print_json(&json!({
            "url": url.as_str(),
            "pass": ok,
            "challenge": challenge,
            "right_token": {"pass": passes, "body_matches": right.body == challenge, "answer": right.json()},
            "wrong_token": {"pass": wrong_refused, "expected_status": 403, "answer": wrong.json()},
        }));
    } else {
        println!("Verification handshake against {url}");
        let mut table = Table::new(&["REQUEST", "EXPECTED", "ANSWER", "RESULT"]);
        table.row(vec![
            "verify token".to_owned(),
            "200 + the challenge".to_owned(),
            describe(&right),
            verdict(passes),
        ]);
        table.row(vec![
            "wrong token".to_owned(),
            "403".to_owned(),
            describe(&wrong),
            verdict(wrong_refused),
        ]);
        print!("{}", table.render());
        if ok {
            println!(
                "{}",
                output::good("PASS: Meta's handshake will succeed with this verify token.")
            );
        }
    }
    if ok {
        return Ok(());
    }
    let (message, hint) = if let Some(e) = &right.error {
        (
            format!("the handshake request failed ({e})"),
            config::unreachable_hint(&url),
        )
    } else if !passes {
        match right.status {
            Some(403) => (
                "the webhook refused the verify token (403)".to_owned(),
                "VERIFY_TOKEN here differs from the webhook's VERIFY_TOKEN (deployed: the VERIFY_TOKEN key of the \
                 secret named by SECRET_ARN; local stack: local-verify-token)"
                    .to_owned(),
            ),
            Some(404) => (
                "nothing answers the handshake at this URL (404)".to_owned(),
                "the callback URL must end with /webhook".to_owned(),
            ),
            Some(200) => (
                "the webhook answered 200 but not with the bare challenge".to_owned(),
                "the answer must be exactly hub.challenge as plain text, nothing else".to_owned(),
            ),
            other => (
                format!("the handshake got {}", other.map_or("no answer".to_owned(), |s| s.to_string())),
                "check the webhook's logs and that the URL is the product's webhook".to_owned(),
            ),
        }
    } else {
        (
            format!(
                "a wrong verify token was not refused ({})",
                describe(&wrong)
            ),
            "the webhook must answer 403 unless hub.verify_token matches its VERIFY_TOKEN"
                .to_owned(),
        )
    };
    Err(Failure::new(message).hint(hint))
}

async fn handshake(client: &reqwest::Client, url: &Url, token: &str, challenge: &str) -> Attempt {
    let mut url = url.clone();
    url.query_pairs_mut()
        .append_pair("hub.mode", "subscribe")
        .append_pair("hub.challenge", challenge)
        .append_pair("hub.verify_token", token);
    match client.get(url).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            Attempt {
                status: Some(status),
                body: body.chars().take(200).collect(),
                error: None,
            }
        }
        Err(e) => Attempt {
            status: None,
            body: String::new(),
            error: Some(transport_error(&e).to_owned()),
        },
    }
}

fn describe(a: &Attempt) -> String {
    match (a.status, &a.error) {
        (Some(s), _) => format!("{s} {:?}", a.body),
        (None, Some(e)) => e.clone(),
        (None, None) => "no answer".to_owned(),
    }
}

fn verdict(pass: bool) -> String {
    if pass {
        output::good("PASS")
    } else {
        output::bad("FAIL")
    }
}
