//! `send-message`: a person answering the account (or tapping a button, or the account's own send coming
//! back as an echo), as the one-event `messages` / `messaging_postbacks` notification Meta would POST
//! (`reply_core::sample::messaging_body`), signed like `send-comment` signs.

use super::http_client;
use super::send_comment::{META_USER_AGENT, Post, hint_for, outcome_text, send};
use crate::cli::SendMessageArgs;
use crate::config;
use crate::failure::Failure;
use crate::output::{self, Output};
use chrono::Utc;
use reply_core::sample::{SampleMessage, messaging_body};
use serde_json::json;

pub async fn run(args: SendMessageArgs, out: &Output) -> Result<(), Failure> {
    let url = config::webhook_url(args.webhook.url.clone())?;
    let secret = config::app_secret(args.app_secret.clone(), &url)?;
    let sent_at = Utc::now();
    let message = sample(&args, &mut rand::rng())?;
    let field = if message.postback.is_some() {
        "messaging_postbacks"
    } else {
        "messages"
    };
    let post = Post {
        number: 1,
        ids: vec![message.message_id.clone()],
        body: messaging_body(std::slice::from_ref(&message), sent_at),
    };
    let client = http_client(args.timeout, META_USER_AGENT)?;
    let result = send(&client, &url, &secret, &post, false).await;

    if out.json() {
        out.print_json(&json!({
            "url": url.as_str(),
            "field": field,
            "entry_time": sent_at.timestamp_millis(),
            "mid": message.message_id,
            "account": message.account_id,
            "from": message.person_id,
            "echo": message.echo,
            "status": result.status,
            "ok": result.ok(),
            "elapsed_ms": result.elapsed_ms,
            "error": result.error,
            "body": result.body,
        }));
    } else {
        let outcome = outcome_text(&result);
        let outcome = if result.ok() {
            output::good(&outcome)
        } else {
            output::bad(&outcome)
        };
        let what = match (&message.postback, message.echo) {
            (Some(_), _) => "button tap",
            (None, true) => "echo",
            (None, false) => "message",
        };
        println!(
            "Sent {what} ({field}) to {url}: {outcome} ({} ms)",
            result.elapsed_ms
        );
        println!("Message ID: {}", message.message_id);
    }
    if result.ok() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "the POST was not accepted ({})",
            outcome_text(&result)
        ))
        .hint(hint_for(&result, &url)))
    }
}

/// The event the arguments describe; random IDs where none were given.
fn sample(args: &SendMessageArgs, rng: &mut impl rand::Rng) -> Result<SampleMessage, Failure> {
    let account = args.account.trim();
    if account.is_empty() {
        return Err(
            Failure::new("--account is empty").hint("pass an Instagram professional account ID")
        );
    }
    let person = match args.from.as_deref().map(str::trim) {
        Some("") => {
            return Err(Failure::new("--from is empty").hint("pass the person's IGSID"));
        }
        Some(from) => from.to_owned(),
        None => rng
            .random_range(1_000_000_000_000_000..10_000_000_000_000_000u64)
            .to_string(),
    };
    let mid = match args.mid.as_deref().map(str::trim) {
        Some("") => return Err(Failure::new("--mid is empty")),
        Some(mid) => mid.to_owned(),
        None => random_mid(rng),
    };
    if args.title.is_some() && args.postback.is_none() {
        return Err(
            Failure::new("--title names a tapped button, but there is no --postback")
                .hint("add --postback PAYLOAD, or drop --title to send a message"),
        );
    }
    let mut message = SampleMessage::new(account, &person, &mid, "");
    message.text.clone_from(&args.text);
    message.echo = args.echo;
    message.reply_to_story_id.clone_from(&args.reply_to_story);
    message.postback = args
        .postback
        .clone()
        .map(|payload| (payload, args.title.clone().unwrap_or_default()));
    Ok(message)
}

/// Shaped like Instagram's message IDs (base64 text starting `aWdfZAG1`).
fn random_mid(rng: &mut impl rand::Rng) -> String {
    format!(
        "aWdfZAG1faWdfaXRlbToxOklHTWVzc2FnZAG{:024}",
        rng.random_range(0..u128::from(u64::MAX))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Result<SendMessageArgs, clap::Error> {
        use clap::Parser as _;
        let argv = ["replyctl", "send-message"].iter().chain(extra).copied();
        crate::cli::Cli::try_parse_from(argv).map(|c| match c.command {
            crate::cli::Command::SendMessage(args) => args,
            other => panic!("{other:?}"),
        })
    }

    #[test]
    fn a_message_needs_text_and_a_button_tap_needs_a_title() {
        assert!(args(&[]).is_err(), "no text and no postback");
        assert!(args(&["--postback", "GET_LINK"]).is_err(), "no title");
        assert!(args(&["--postback", "P", "--title", "T", "--echo"]).is_err());
        assert!(args(&["--postback", "P", "--title", "T", "--text", "x"]).is_err());
        assert!(args(&["--postback", "P", "--title", "T"]).is_ok());
        assert!(args(&["--text", "LINK", "--echo", "--reply-to-story", "1"]).is_ok());
    }

    #[test]
    fn the_event_follows_the_flags_and_random_ids_look_like_metas() {
        let mut rng = rand::rng();
        let a = args(&["--text", "LINK", "--from", "27001", "--echo"])
            .unwrap_or_else(|e| panic!("{e}"));
        let m = sample(&a, &mut rng).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            (m.person_id.as_str(), m.text.as_deref(), m.echo),
            ("27001", Some("LINK"), true)
        );
        assert!(m.message_id.starts_with("aWdfZAG1"), "{}", m.message_id);
        assert_eq!(m.account_id, crate::cli::SAMPLE_ACCOUNT_ID);
        let tap = args(&[
            "--postback",
            "GET_LINK",
            "--title",
            "Get it",
            "--mid",
            "m-1",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let m = sample(&tap, &mut rng).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(m.postback, Some(("GET_LINK".into(), "Get it".into())));
        assert_eq!((m.message_id.as_str(), m.text), ("m-1", None));
        assert!(m.person_id.len() >= 16);
        let blank = args(&["--text", "x", "--from", " "]).unwrap_or_else(|e| panic!("{e}"));
        assert!(sample(&blank, &mut rng).is_err());
        let stray = args(&["--title", "Get it", "--text", "x"]).unwrap_or_else(|e| panic!("{e}"));
        assert!(sample(&stray, &mut rng).is_err());
    }
}
