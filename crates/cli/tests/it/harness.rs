//! One harness for every `replyctl` test: fresh comments and messages tables in DynamoDB Local (testkit), the
//! real webhook served over HTTP in-process on them (the local stack's adapter), and the binary run as an operator
//! runs it, with a clean environment so nothing from the developer's shell (AWS profiles, WEBHOOK_URL, ...)
//! leaks in.

use assert_cmd::assert::Assert;
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use chrono::{DateTime, Duration, Utc};
use reply_core::clock::SystemClock;
use reply_core::secrets::{CachedSecrets, VerifyToken, WebhookSecrets};
use reply_core::signature::AppSecrets;
use reply_core::{CommentRecord, CommentSource, CommentStatus, REPLY_WINDOW};
use std::collections::HashMap;
use std::sync::Arc;
use webhook::{WebhookApp, WebhookConfig};

pub type Item = HashMap<String, AttributeValue>;

pub const APP_SECRET: &str = "test-app-secret";
pub const VERIFY_TOKEN: &str = "test-verify-token";
pub const ACCOUNT: &str = "17841400000000001";
pub const OTHER_ACCOUNT: &str = "17841400000000002";

/// Fresh tables with the real webhook in front of them.
pub struct Stack {
    pub table: String,
    pub messages_table: String,
    pub endpoint: String,
    pub webhook_url: String,
    pub dynamodb: aws_sdk_dynamodb::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub async fn spawn_stack() -> Stack {
    let local = testkit::dynamodb_local().await;
    let table = local.fresh_table().await.unwrap();
    let messages_table = local.fresh_messages_table().await.unwrap();
    let dynamodb = local.client();
    let secrets = WebhookSecrets {
        app_secrets: AppSecrets::from_comma_separated(APP_SECRET).unwrap(),
        verify_token: VerifyToken::new(VERIFY_TOKEN),
    };
    let config = WebhookConfig::for_tables(&table, &messages_table);
    let max_body = config.max_body_bytes;
    let app = Arc::new(WebhookApp::on_dynamodb(
        &config,
        Arc::new(CachedSecrets::fixed(secrets)),
        &dynamodb,
        Arc::new(SystemClock),
    ));
    let router = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let app = app.clone();
        async move { local_stack::http_adapter::serve_request(app, max_body, request).await }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.ok();
    });
    Stack {
        table,
        messages_table,
        endpoint: local.endpoint.clone(),
        webhook_url: format!("http://{addr}/webhook"),
        dynamodb,
        server,
    }
}

/// `replyctl` with an empty environment (plus no instance-metadata lookups and no colour).
pub fn replyctl(args: &[&str]) -> assert_cmd::Command {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("replyctl");
    cmd.env_clear()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .args(args);
    cmd
}

/// Runs the command off the async runtime, so the in-process webhook and simulator keep serving meanwhile.
pub async fn run(mut cmd: assert_cmd::Command) -> Assert {
    tokio::task::spawn_blocking(move || cmd.assert())
        .await
        .unwrap()
}

pub fn stdout(assert: &Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

pub fn stderr(assert: &Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

pub fn stdout_json(assert: &Assert) -> serde_json::Value {
    serde_json::from_slice(&assert.get_output().stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(assert)))
}

impl Stack {
    /// `replyctl <args>` pointed at this stack's webhook and table.
    pub fn replyctl(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = replyctl(args);
        cmd.env("WEBHOOK_URL", &self.webhook_url)
            .env("APP_SECRET", APP_SECRET)
            .env("VERIFY_TOKEN", VERIFY_TOKEN)
            .env("TABLE_NAME", &self.table)
            .env("AWS_ENDPOINT_URL_DYNAMODB", &self.endpoint);
        cmd
    }

    pub async fn item(&self, comment_id: &str) -> Option<Item> {
        self.dynamodb
            .get_item()
            .table_name(&self.table)
            .key("comment_id", AttributeValue::S(comment_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    pub async fn record(&self, comment_id: &str) -> CommentRecord {
        let item = self
            .item(comment_id)
            .await
            .unwrap_or_else(|| panic!("comment {comment_id} is not stored"));
        serde_dynamo::from_item(item).unwrap()
    }

    /// Items in the table, counted with a paginated Scan.
    pub async fn count(&self) -> i64 {
        let mut total = 0;
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(&self.table)
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            total += i64::from(page.count());
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return total,
            }
        }
    }

    /// Stores a comment as the webhook would, plus attributes the replier adds.
    pub async fn put(&self, record: &CommentRecord, extra: &[(&str, AttributeValue)]) {
        let mut item: Item = serde_dynamo::to_item(record).unwrap();
        for (k, v) in extra {
            item.insert((*k).to_owned(), v.clone());
        }
        self.dynamodb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
}

/// A comment made `age` ago and received a second later, in `status`.
pub fn comment(
    comment_id: &str,
    account: &str,
    status: CommentStatus,
    age: Duration,
) -> CommentRecord {
    let comment_time: DateTime<Utc> = Utc::now() - age;
    CommentRecord {
        comment_id: reply_core::CommentId::new(comment_id).unwrap(),
        account_id: reply_core::AccountId::new(account).unwrap(),
        commenter_id: reply_core::UserId::new("2706325442860345"),
        commenter_username: Some(format!("user_{comment_id}")),
        media_id: reply_core::MediaId::new("17868660555124283"),
        media_product_type: Some("REELS".into()),
        ad_id: None,
        original_media_id: None,
        source: CommentSource::Comment,
        text: Some("LINK".into()),
        parent_id: None,
        comment_time,
        reply_deadline: comment_time + REPLY_WINDOW,
        received_at: comment_time + Duration::seconds(1),
        status,
        status_reason: None,
        expires_at: (comment_time + REPLY_WINDOW + Duration::days(30)).timestamp(),
        due_shard: None,
        due_at: None,
        queue_turn: None,
        campaign_id: None,
        reply_variant: None,
        reply_text: None,
        public_reply_text: None,
        public_reply_status: None,
    }
    .due_for_redrive(reply_core::lifecycle::due::DEFAULT_REDRIVE_AFTER)
}

pub fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

pub fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
