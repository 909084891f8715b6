//! What the `local-stack` binary shows a person: the settings to sign requests with, one sample comment sent
//! through the real webhook, and each private reply as the simulator receives it.

use crate::{Stack, StackSettings};
use anyhow::Context as _;
use aws_sdk_dynamodb::types::AttributeValue;
use reply_core::sample::{SampleComment, notification_body};
use reply_core::signature::sign;
use std::time::Duration;

pub fn print_banner(stack: &Stack, settings: &StackSettings) {
    println!(
        "  DynamoDB Local   {}  (tables {}, {})",
        stack.dynamodb_endpoint, stack.table_name, stack.account_state_table_name
    );
    match &stack.sim {
        Some(sim) => println!(
            "  Graph API        {} (simulator; log at {}/_sim/log)",
            sim.base_url, sim.base_url
        ),
        None => println!(
            "  Graph API        {}",
            settings.graph_api_url.as_deref().unwrap_or_default()
        ),
    }
    println!(
        "  APP_SECRET       {}   (signs webhook POSTs)",
        settings.app_secret
    );
    println!("  VERIFY_TOKEN     {}", settings.verify_token);
    println!("  ACCESS_TOKEN     {}", settings.access_token);
    let posts = settings.replier.posts_budget;
    println!(
        "  sweep every {}s, first retry after {}s, {} replies per {}s per account",
        settings.sweep_interval.as_secs_f64(),
        settings.replier.retry_base.as_secs_f64(),
        posts.limit,
        posts.window.as_secs()
    );
}

/// Prints every reply the simulator delivers, as it arrives.
pub fn watch_replies(stack: &Stack) -> tokio::task::JoinHandle<()> {
    let sim = stack.sim.as_ref().map(|s| s.sim.clone());
    tokio::spawn(async move {
        let Some(sim) = sim else { return };
        let mut shown = 0;
        loop {
            let replies = sim.replies();
            for reply in replies.iter().skip(shown) {
                println!(
                    "reply delivered: comment {} on account {} -> message {} to {} ({} bytes)",
                    reply.comment_id,
                    reply.ig_id,
                    reply.message_id,
                    reply.recipient_id,
                    reply.text.len()
                );
            }
            shown = replies.len();
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}

/// Posts one signed comment to the webhook and waits until its item says how it ended.
pub async fn send_sample(stack: &Stack, settings: &StackSettings) -> anyhow::Result<()> {
    let nanos = chrono::Utc::now()
        .timestamp_nanos_opt()
        .unwrap_or_default()
        .unsigned_abs();
    let comment_id = format!("17{:016}", nanos % 10_000_000_000_000_000);
    let mut comment = SampleComment::new("17841400000000001", &comment_id, "LINK please!");
    comment.commenter_username = "sample.commenter".into();
    let body = notification_body(&[comment], chrono::Utc::now());
    let response = reqwest::Client::new()
        .post(&stack.webhook_url)
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", sign(&settings.app_secret, &body))
        .body(body)
        .send()
        .await
        .context("posting the sample comment")?;
    println!(
        "sample comment {comment_id} posted: webhook answered {}",
        response.status()
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let item = stack
            .dynamodb
            .get_item()
            .table_name(&stack.table_name)
            .key("comment_id", AttributeValue::S(comment_id.clone()))
            .consistent_read(true)
            .send()
            .await?
            .item
            .unwrap_or_default();
        let attr = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        let status = attr("status");
        if matches!(
            status.as_str(),
            "REPLIED" | "FAILED" | "EXPIRED" | "SKIPPED"
        ) {
            println!(
                "sample comment {comment_id}: {status} {}{}",
                attr("message_id"),
                if attr("status_reason").is_empty() {
                    String::new()
                } else {
                    format!(" ({})", attr("status_reason"))
                }
            );
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("sample comment {comment_id} is still {status:?} after 60 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
