//! What the `local-stack` binary shows a person: the settings to sign requests with, the sample campaign and
//! two sample comments sent through the real webhook (one it answers, one it skips), and each private reply
//! as the simulator receives it.

use crate::{Stack, StackSettings};
use anyhow::Context as _;
use aws_sdk_dynamodb::types::AttributeValue;
use reply_core::campaign::{Campaign, Format};
use reply_core::sample::{SampleComment, notification_body};
use reply_core::signature::sign;
use reply_core::store::campaigns::DynamoCampaignStore;
use std::time::Duration;

pub fn print_banner(stack: &Stack, settings: &StackSettings) {
    println!(
        "  DynamoDB Local   {}  (tables {}, {}, {}, {})",
        stack.dynamodb_endpoint,
        stack.table_name,
        stack.account_state_table_name,
        stack.campaigns_table_name,
        stack.messages_table_name
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

/// The sample campaign (also the README's example file), applied at start when the sample is sent.
pub const SAMPLE_CAMPAIGN: &str = include_str!("../../../examples/campaigns/spring-link.yaml");

/// The sample's two comments: one the sample campaign answers, one it does not.
const SAMPLE_TEXTS: [&str; 2] = ["LINK please!", "Love this colour 😍"];

/// Applies the sample campaign, posts two signed comments to the webhook (one it matches, one it does not)
/// and waits until each item says how it ended.
pub async fn send_sample(stack: &Stack, settings: &StackSettings) -> anyhow::Result<()> {
    let campaign = Campaign::from_file(SAMPLE_CAMPAIGN, Format::Yaml)
        .map_err(|e| anyhow::anyhow!("examples/campaigns/spring-link.yaml: {e}"))?;
    DynamoCampaignStore::new(stack.dynamodb.clone(), &stack.campaigns_table_name)
        .apply(&campaign, chrono::Utc::now())
        .await
        .context("applying the sample campaign")?;
    println!(
        "campaign {} applied to account {} ({} match on {})",
        campaign.campaign_id,
        campaign.account_id,
        campaign.match_mode,
        campaign.keywords.join(", ")
    );
    let nanos = chrono::Utc::now()
        .timestamp_nanos_opt()
        .unwrap_or_default()
        .unsigned_abs();
    let comments: Vec<SampleComment> = SAMPLE_TEXTS
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let id = format!("17{:016}", (nanos + i as u64) % 10_000_000_000_000_000);
            SampleComment::new(&campaign.account_id, &id, text)
        })
        .collect();
    let body = notification_body(&comments, chrono::Utc::now());
    let response = reqwest::Client::new()
        .post(&stack.webhook_url)
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", sign(&settings.app_secret, &body))
        .body(body)
        .send()
        .await
        .context("posting the sample comments")?;
    for comment in &comments {
        println!(
            "sample comment {} ({:?}) posted: webhook answered {}",
            comment.comment_id,
            comment.text,
            response.status()
        );
    }
    for comment in &comments {
        wait_for_outcome(stack, &comment.comment_id).await?;
    }
    Ok(())
}

/// Waits until the comment's item has a final status, and prints it.
async fn wait_for_outcome(stack: &Stack, comment_id: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let item = stack
            .dynamodb
            .get_item()
            .table_name(&stack.table_name)
            .key("comment_id", AttributeValue::S(comment_id.to_owned()))
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
        let public = attr("public_reply_status");
        // A campaign's public reply follows the private one: wait for it too.
        let public_done = matches!(public.as_str(), "" | "POSTED" | "FAILED");
        if public_done
            && matches!(
                status.as_str(),
                "REPLIED" | "FAILED" | "EXPIRED" | "SKIPPED"
            )
        {
            let mut details: Vec<String> = Vec::new();
            for (label, key) in [("", "message_id"), ("campaign ", "campaign_id")] {
                let value = attr(key);
                if !value.is_empty() {
                    details.push(format!("{label}{value}"));
                }
            }
            if !attr("status_reason").is_empty() {
                details.push(format!("({})", attr("status_reason")));
            }
            if !public.is_empty() {
                details.push(format!("public reply {public} {}", attr("public_reply_id")));
            }
            println!(
                "sample comment {comment_id}: {status} {}",
                details.join(" ")
            );
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("sample comment {comment_id} is still {status:?} after 60 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
