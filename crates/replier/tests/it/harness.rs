//! One harness for every integration test: fresh comments and account-state tables in the shared DynamoDB
//! Local (both built from template.yaml), a Graph API simulator on a free port, a manual clock, swappable
//! tokens, and a replier wired to all of them. Stream records are built from the items as they are stored, in
//! exactly the JSON shape Lambda delivers.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use graph_sim::{RunningSim, SimConfig, Simulator};
use replier::{Replier, ReplierConfig, ReplierParts, ReplyTemplate, StaticTokens, SweepSummary};
use reply_core::campaign::{Campaign, Format};
use reply_core::clock::{Clock, ManualClock};
use reply_core::comment::{CommentRecord, CommentSource, CommentStatus, REPLY_WINDOW};
use reply_core::ids::{AccountId, CommentId, MediaId, UserId};
use reply_core::store::campaigns::DynamoCampaignStore;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub const ACCOUNT: &str = "17841401906857599";
pub const GOOD_TOKEN: &str = "IGAAgood-token";
pub const REPLY_TEXT: &str = "Thanks {username}! Here is the link.";

pub struct TestApp {
    /// For the test's own reads and writes (no role).
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// What the replier called with its role's client (`ReplierRole` of template.yaml).
    pub calls: Arc<testkit::iam::Calls>,
    /// The replier's client: its role's grants, recorded in `calls`.
    pub replier_dynamodb: aws_sdk_dynamodb::Client,
    pub comments_table: String,
    pub accounts_table: String,
    pub campaigns_table: String,
    pub sim: RunningSim,
    pub clock: Arc<ManualClock>,
    pub tokens: Arc<StaticTokens>,
    pub config: ReplierConfig,
    pub replier: Replier,
}

/// The replier's item attributes, as the tests read them back.
#[derive(Debug, Clone, Deserialize)]
pub struct Stored {
    pub status: CommentStatus,
    pub status_reason: Option<String>,
    pub attempts: Option<u32>,
    pub due_shard: Option<String>,
    pub due_at: Option<String>,
    pub redrives: Option<u32>,
    pub queue_turn: Option<String>,
    pub claim_id: Option<String>,
    pub claimed_until: Option<String>,
    pub message_id: Option<String>,
    pub recipient_id: Option<String>,
    pub replied_at: Option<String>,
    pub confirmed: Option<bool>,
    pub unconfirmed_send: Option<bool>,
    pub error_code: Option<u32>,
    pub error_subcode: Option<u32>,
    pub error_message: Option<String>,
    pub fbtrace_id: Option<String>,
    pub token_fingerprint: Option<String>,
    pub campaign_id: Option<String>,
    pub reply_variant: Option<u32>,
    pub reply_text: Option<String>,
}

impl Stored {
    /// When the sweep looks at the comment next (`due_at`, the `due` index's sort key).
    pub fn due(&self) -> DateTime<Utc> {
        let text = self
            .due_at
            .as_deref()
            .unwrap_or_else(|| panic!("no due_at: {self:?}"));
        parse_time(text)
    }

    /// The turn in the account's queue a comment deferred for budget got.
    pub fn queue_turn(&self) -> DateTime<Utc> {
        let text = self
            .queue_turn
            .as_deref()
            .unwrap_or_else(|| panic!("no queue_turn: {self:?}"));
        parse_time(text)
    }
}

pub fn parse_time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// `configure` adjusts the replier's configuration (the Graph API URL and table names are already set).
pub async fn spawn_app_with(configure: impl FnOnce(&mut ReplierConfig)) -> TestApp {
    let local = testkit::dynamodb_local().await;
    let dynamodb = local.client();
    let (replier_dynamodb, calls) =
        testkit::iam::client_for_role(&local.sdk_config(), "ReplierRole").unwrap();
    let comments_table = local.fresh_table().await.unwrap();
    let accounts_table = local
        .fresh_table_of("AccountStateTable", "account-state-test")
        .await
        .unwrap();
    let campaigns_table = local
        .fresh_table_of("CampaignsTable", "campaigns-test")
        .await
        .unwrap();
    let sim = Simulator::new(SimConfig::with_default_token(GOOD_TOKEN))
        .serve(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let mut config = ReplierConfig::new(
        &comments_table,
        &accounts_table,
        ReplyTemplate::parse(REPLY_TEXT).unwrap(),
    );
    config.graph_api_url = sim.base_url.clone();
    config.http_timeout = Duration::from_secs(5);
    config.campaigns_table_name = campaigns_table.clone();
    config.campaigns_ttl = Duration::ZERO;
    configure(&mut config);
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let tokens = Arc::new(StaticTokens::single(GOOD_TOKEN).unwrap());
    let replier = build_replier(&config, &replier_dynamodb, &tokens, &clock);
    TestApp {
        dynamodb,
        calls,
        replier_dynamodb,
        comments_table,
        accounts_table,
        campaigns_table,
        sim,
        clock,
        tokens,
        config,
        replier,
    }
}

pub fn build_replier(
    config: &ReplierConfig,
    dynamodb: &aws_sdk_dynamodb::Client,
    tokens: &Arc<StaticTokens>,
    clock: &Arc<ManualClock>,
) -> Replier {
    Replier::from_parts(
        config.clone(),
        ReplierParts {
            dynamodb: dynamodb.clone(),
            tokens: tokens.clone(),
            clock: clock.clone(),
        },
    )
    .unwrap()
}

/// A feed comment made `age` ago, as the webhook stores it.
pub fn comment(id: &str, age: TimeDelta, now: DateTime<Utc>) -> CommentRecord {
    let comment_time = now - age;
    let reply_deadline = comment_time + REPLY_WINDOW;
    CommentRecord {
        comment_id: CommentId::new(id).unwrap(),
        account_id: AccountId::new(ACCOUNT).unwrap(),
        commenter_id: UserId::new("2706325442860345"),
        commenter_username: Some("ana.banana".to_owned()),
        media_id: MediaId::new("17868660555124283"),
        media_product_type: Some("REELS".to_owned()),
        ad_id: None,
        original_media_id: None,
        source: CommentSource::Comment,
        text: Some("link please".to_owned()),
        parent_id: None,
        comment_time,
        reply_deadline,
        received_at: comment_time,
        status: CommentStatus::Pending,
        status_reason: None,
        expires_at: (reply_deadline + TimeDelta::days(30)).timestamp(),
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

static SEQUENCE: AtomicU64 = AtomicU64::new(1_000);

/// Every test ends by checking that the replier made no DynamoDB call its role does not grant.
impl Drop for TestApp {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.calls.assert_none_denied();
        }
    }
}

impl TestApp {
    /// The campaigns table, through the replier's client (its role may only read it).
    pub fn campaign_source(&self) -> Arc<DynamoCampaignStore> {
        Arc::new(DynamoCampaignStore::new(
            self.replier_dynamodb.clone(),
            &self.campaigns_table,
        ))
    }

    /// Applies a campaign (as `replyctl campaign apply` does) for `account`; `yaml` is the rest of the file.
    pub async fn apply_campaign(&self, account: &str, yaml: &str) -> Campaign {
        let file = format!("account: '{account}'\n{yaml}");
        let campaign = Campaign::from_file(&file, Format::Yaml).unwrap();
        DynamoCampaignStore::new(self.dynamodb.clone(), &self.campaigns_table)
            .apply(&campaign, self.now())
            .await
            .unwrap();
        campaign
    }

    /// Another replier over the same tables and clock (a second concurrent Lambda instance), with the role's
    /// client.
    pub fn another_replier(&self) -> Replier {
        build_replier(
            &self.config,
            &self.replier_dynamodb,
            &self.tokens,
            &self.clock,
        )
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn advance(&self, by: TimeDelta) {
        self.clock.advance(by);
    }

    /// Moves the clock to just after `at`.
    pub fn advance_past(&self, at: DateTime<Utc>) {
        if at >= self.now() {
            self.clock.set(at + TimeDelta::seconds(1));
        }
    }

    /// Stores a fresh PENDING feed comment made a minute ago.
    pub async fn new_comment(&self, id: &str) -> CommentRecord {
        let record = comment(id, TimeDelta::minutes(1), self.now());
        self.put(&record).await;
        record
    }

    pub async fn put(&self, record: &CommentRecord) {
        self.dynamodb
            .put_item()
            .table_name(&self.comments_table)
            .set_item(Some(serde_dynamo::to_item(record).unwrap()))
            .send()
            .await
            .unwrap();
    }

    pub async fn item(&self, id: &str) -> HashMap<String, AttributeValue> {
        self.dynamodb
            .get_item()
            .table_name(&self.comments_table)
            .key("comment_id", AttributeValue::S(id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap_or_else(|| panic!("no item {id}"))
    }

    pub async fn stored(&self, id: &str) -> Stored {
        serde_dynamo::from_item(self.item(id).await).unwrap()
    }

    pub async fn account_item(&self) -> HashMap<String, AttributeValue> {
        self.dynamodb
            .get_item()
            .table_name(&self.accounts_table)
            .key("pk", AttributeValue::S(format!("account#{ACCOUNT}")))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap_or_default()
    }

    /// A stream record whose new image is the item as stored now, shaped as Lambda delivers it.
    pub async fn stream_record(&self, id: &str) -> Value {
        stream_record(self.item(id).await)
    }

    /// The current images of `ids` as one stream batch, as Lambda delivers it.
    pub async fn stream_event<S: AsRef<str>>(&self, ids: &[S]) -> Value {
        let mut records = Vec::new();
        for id in ids {
            records.push(self.stream_record(id.as_ref()).await);
        }
        json!({ "Records": records })
    }

    /// Delivers the current images of `ids` as one stream batch; returns Lambda's response.
    pub async fn deliver(&self, ids: &[&str]) -> Value {
        self.replier
            .handle(self.stream_event(ids).await)
            .await
            .unwrap()
    }

    pub async fn sweep(&self) -> SweepSummary {
        self.replier.sweep().await.unwrap()
    }

    /// Waits out the comment's retry, sweeps, and delivers it again when the sweep made it PENDING.
    pub async fn retry(&self, id: &str) -> Stored {
        let before = self.stored(id).await;
        self.advance_past(before.due());
        let summary = self.sweep().await;
        assert!(
            summary.requeued + summary.stale_claims_requeued >= 1,
            "{summary:?}"
        );
        assert_eq!(self.stored(id).await.status, CommentStatus::Pending);
        self.deliver(&[id]).await;
        self.stored(id).await
    }

    /// Requests the simulator got for `id`.
    pub fn calls_for(&self, id: &str) -> usize {
        self.sim
            .sim
            .log()
            .iter()
            .filter(|r| r.comment_id.as_deref() == Some(id))
            .count()
    }
}

pub fn stream_record(item: HashMap<String, AttributeValue>) -> Value {
    let key = item
        .get("comment_id")
        .cloned()
        .unwrap_or(AttributeValue::Null(true));
    let image: serde_dynamo::Item = item.into();
    let keys: serde_dynamo::Item = HashMap::from([("comment_id".to_owned(), key)]).into();
    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    json!({
        "eventID": format!("event-{sequence}"),
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": Utc::now().timestamp(),
            "Keys": keys,
            "NewImage": image,
            "SequenceNumber": format!("{sequence:028}"),
            "SizeBytes": 512,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/comments/stream/2026-01-01T00:00:00.000"
    })
}

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

pub fn failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}
