//! The end-to-end harness: [`spawn_stack`] starts the local stack (the production webhook and replier code,
//! the stream runner, the sweep timer and the Graph API simulator) on the test process's shared DynamoDB Local
//! with tables of its own, and [`TestStack`] posts signed notifications and reads what became of them.

use anyhow::Context as _;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use graph_sim::LoggedRequest;
use local_stack::{DynamoDbChoice, Stack, StackSettings};
use reply_core::sample::{SampleComment, notification_body};
use reply_core::signature::sign;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use graph_sim::{CommentSpec, Fault, SimConfig, Simulator};
pub use local_stack;
pub use reply_core::sample;

pub type Item = HashMap<String, AttributeValue>;

/// Statuses after which nothing more happens to a comment.
pub const FINAL: &[&str] = &["REPLIED", "FAILED", "EXPIRED", "SKIPPED"];

/// A local stack on fresh tables, with quick retries (1 s base, 500 ms sweeps) so tests run in seconds.
/// `tune` adjusts the settings further (windows, budgets, timeouts).
pub async fn spawn_stack(tune: impl FnOnce(&mut StackSettings)) -> anyhow::Result<TestStack> {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let local = testkit::dynamodb_local().await;
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut settings = StackSettings::new(DynamoDbChoice::Endpoint(local.endpoint.clone()));
    settings.set_table_names(
        &format!("e2e-comments-{}-{n}", std::process::id()),
        &format!("e2e-accounts-{}-{n}", std::process::id()),
        &format!("e2e-campaigns-{}-{n}", std::process::id()),
    );
    settings.sweep_interval = Duration::from_millis(500);
    settings.replier.retry_base = Duration::from_secs(1);
    settings.replier.retry_max = Duration::from_secs(64);
    settings.runner_shutdown_grace = Duration::from_millis(200);
    // DynamoDB Local on a busy 2-core machine stores a POST far slower than DynamoDB; these tests are about
    // the pipeline, and the 4 s response deadline has tests of its own (the webhook's).
    settings.webhook.response_deadline = Duration::from_secs(30);
    tune(&mut settings);
    let app_secret = settings.app_secret.clone();
    let stack = Stack::start(settings).await?;
    Ok(TestStack {
        stack,
        app_secret,
        http: reqwest::Client::new(),
    })
}

#[derive(Debug)]
pub struct TestStack {
    pub stack: Stack,
    app_secret: String,
    http: reqwest::Client,
}

impl TestStack {
    /// The Graph API simulator.
    pub fn sim(&self) -> &Simulator {
        &self
            .stack
            .sim
            .as_ref()
            .expect("the test stack runs the simulator")
            .sim
    }

    /// POSTs one signed notification holding `comments`, stamped `time`; returns the HTTP status.
    pub async fn post_at(
        &self,
        comments: &[SampleComment],
        time: DateTime<Utc>,
    ) -> anyhow::Result<u16> {
        let body = notification_body(comments, time);
        let response = self
            .http
            .post(&self.stack.webhook_url)
            .header("Content-Type", "application/json")
            .header("X-Hub-Signature-256", sign(&self.app_secret, &body))
            .body(body)
            .send()
            .await
            .context("posting to the local webhook")?;
        Ok(response.status().as_u16())
    }

    pub async fn post(&self, comments: &[SampleComment]) -> anyhow::Result<u16> {
        self.post_at(comments, Utc::now()).await
    }

    pub async fn item(&self, comment_id: &str) -> anyhow::Result<Item> {
        Ok(self
            .stack
            .dynamodb
            .get_item()
            .table_name(&self.stack.table_name)
            .key("comment_id", AttributeValue::S(comment_id.to_owned()))
            .consistent_read(true)
            .send()
            .await?
            .item
            .unwrap_or_default())
    }

    /// Waits until the comment's status is one of `statuses`; fails with the item's last state after `timeout`.
    pub async fn wait_for(
        &self,
        comment_id: &str,
        statuses: &[&str],
        timeout: Duration,
    ) -> anyhow::Result<Item> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let item = self.item(comment_id).await?;
            if statuses.contains(&s(&item, "status")) {
                return Ok(item);
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!(
                    "comment {comment_id} did not reach {statuses:?} within {timeout:?}: {item:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until every comment is in a final state.
    pub async fn wait_all_final(
        &self,
        comment_ids: &[String],
        timeout: Duration,
    ) -> anyhow::Result<Vec<Item>> {
        let mut out = Vec::with_capacity(comment_ids.len());
        let deadline = tokio::time::Instant::now() + timeout;
        for id in comment_ids {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            out.push(self.wait_for(id, FINAL, left).await?);
        }
        Ok(out)
    }

    /// The comments' items, in the order of `comment_ids`.
    pub async fn items(&self, comment_ids: &[String]) -> anyhow::Result<Vec<Item>> {
        let mut out = Vec::with_capacity(comment_ids.len());
        for id in comment_ids {
            out.push(self.item(id).await?);
        }
        Ok(out)
    }

    /// The comments' statuses, in the order of `comment_ids` ("" for a comment that is not stored).
    pub async fn statuses(&self, comment_ids: &[String]) -> anyhow::Result<Vec<String>> {
        Ok(self
            .items(comment_ids)
            .await?
            .iter()
            .map(|i| s(i, "status").to_owned())
            .collect())
    }

    /// Every request the simulator received on the messages endpoint for `comment_id`, in order.
    pub fn requests_for(&self, comment_id: &str) -> Vec<LoggedRequest> {
        self.sim()
            .log()
            .into_iter()
            .filter(|r| r.endpoint == "messages" && r.comment_id.as_deref() == Some(comment_id))
            .collect()
    }

    /// Every request the simulator received on the messages endpoint for account `ig_id`.
    pub fn requests_for_account(&self, ig_id: &str) -> Vec<LoggedRequest> {
        self.sim()
            .log()
            .into_iter()
            .filter(|r| r.endpoint == "messages" && r.ig_id == ig_id)
            .collect()
    }

    /// A DynamoDB stream event exactly as Lambda's event source mapping delivers it, with one `INSERT` record
    /// per comment whose new image is the comment's item as it is now: what a (re)delivered stream batch
    /// looks like to the replier. Pass it to `stack.replier.handle(..)`.
    pub async fn stream_event(&self, comment_ids: &[String]) -> anyhow::Result<Value> {
        let mut records = Vec::with_capacity(comment_ids.len());
        for (i, id) in comment_ids.iter().enumerate() {
            let item = self.item(id).await?;
            anyhow::ensure!(!item.is_empty(), "comment {id} is not stored");
            records.push(json!({
                "eventID": format!("e2e-{i}"),
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": Utc::now().timestamp(),
                    "Keys": {"comment_id": {"S": id}},
                    "NewImage": item_json(&item)?,
                    "SequenceNumber": format!("{:021}", i + 1),
                    "SizeBytes": 512,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
                "eventSourceARN": format!(
                    "arn:aws:dynamodb:us-east-1:000000000000:table/{}/stream/2026-01-01T00:00:00.000",
                    self.stack.table_name
                ),
            }));
        }
        Ok(json!({ "Records": records }))
    }

    pub async fn stop(self) {
        self.stack.stop().await;
    }
}

/// Polls `check` every 50 ms until it yields a value; fails after `timeout` with `what` and the last error.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => None,
            Err(e) => Some(e),
        };
        if tokio::time::Instant::now() > deadline {
            return Err(match last {
                Some(e) => e.context(format!("{what}: not within {timeout:?}")),
                None => anyhow::anyhow!("{what}: not within {timeout:?}"),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sleeps until `offset` into the next epoch-aligned fixed window of length `window` (whole seconds), the
/// windows the replier's call budgets count in.
pub async fn sleep_until_next_window(window: Duration, offset: Duration) {
    let len = i64::try_from(window.as_millis().max(1)).unwrap_or(i64::MAX);
    let now = Utc::now().timestamp_millis();
    let next = (now.div_euclid(len) + 1) * len;
    let wait = u64::try_from(next - now).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(wait) + offset).await;
}

/// The comment IDs of `comments`.
pub fn ids(comments: &[SampleComment]) -> Vec<String> {
    comments.iter().map(|c| c.comment_id.clone()).collect()
}

/// An item in DynamoDB JSON (`{"S": "..."}`), as stream records carry it.
pub fn item_json(item: &Item) -> anyhow::Result<Value> {
    item.iter()
        .map(|(k, v)| Ok((k.clone(), attribute_json(v)?)))
        .collect::<anyhow::Result<Map<String, Value>>>()
        .map(Value::Object)
}

fn attribute_json(value: &AttributeValue) -> anyhow::Result<Value> {
    Ok(match value {
        AttributeValue::S(v) => json!({ "S": v }),
        AttributeValue::N(v) => json!({ "N": v }),
        AttributeValue::Bool(v) => json!({ "BOOL": v }),
        AttributeValue::Null(v) => json!({ "NULL": v }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::M(m) => json!({ "M": item_json(m)? }),
        AttributeValue::L(l) => {
            json!({ "L": l.iter().map(attribute_json).collect::<anyhow::Result<Vec<_>>>()? })
        }
        other => anyhow::bail!("attribute type not supported in stream events here: {other:?}"),
    })
}

/// A string attribute, or "" when absent.
pub fn s<'a>(item: &'a Item, key: &str) -> &'a str {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}

/// A number attribute.
pub fn n(item: &Item, key: &str) -> Option<i64> {
    item.get(key)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// A boolean attribute.
pub fn b(item: &Item, key: &str) -> Option<bool> {
    item.get(key).and_then(|v| v.as_bool().ok()).copied()
}

/// `count` comments on `account`, with IDs unique to this process and `tag`.
pub fn comments(account: &str, tag: u32, count: usize) -> Vec<SampleComment> {
    (0..count)
        .map(|i| {
            let id = format!(
                "179{:05}{:03}{:06}",
                std::process::id() % 100_000,
                tag % 1000,
                i
            );
            let mut c = SampleComment::new(account, &id, "LINK");
            c.commenter_id = format!("55{:014}", i);
            c.commenter_username = format!("fan{i}");
            c
        })
        .collect()
}

/// `count` Live comments on `account`'s broadcast `media` (as [`comments`]), registered with the simulator as
/// comments of a Live broadcast that is on.
pub fn live_comments(
    sim: &Simulator,
    account: &str,
    media: &str,
    tag: u32,
    count: usize,
) -> Vec<SampleComment> {
    let live: Vec<SampleComment> = comments(account, tag, count)
        .into_iter()
        .map(|mut c| {
            c.live = true;
            c.media_product_type = "LIVE".to_owned();
            c.media_id = media.to_owned();
            c
        })
        .collect();
    for c in &live {
        sim.register_comment(CommentSpec::new(&c.comment_id, account).live_on(media));
    }
    live
}

/// The most of `at` (sorted) within any one second.
pub fn most_in_any_second(at: &[DateTime<Utc>]) -> usize {
    at.iter()
        .enumerate()
        .map(|(i, start)| {
            at[i..]
                .iter()
                .take_while(|a| **a < *start + chrono::TimeDelta::seconds(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}
