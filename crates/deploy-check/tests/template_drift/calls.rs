//! What each function really calls, recorded rather than read from its source: the real handlers run once
//! on DynamoDB Local with recording clients (`testkit::iam`), along a path that makes every kind of DynamoDB
//! request each function makes in production. The webhook stores a signed POST; the replier gets it from the
//! table's stream (the local stream runner), reads the account, claims the comment, takes from its budget
//! (reading the closed slots), sends through the simulator and records the reply; then a scheduled sweep reads
//! the `due` and `retry_due` indexes. [`crate::iam`] compares the recorded actions with each role's grants both ways.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use graph_sim::{SimConfig, Simulator};
use replier::{Replier, ReplierConfig, ReplierParts, ReplyTemplate, StaticTokens};
use reply_core::clock::SystemClock;
use reply_core::lifecycle::attr;
use reply_core::sample::{SampleComment, notification_body};
use reply_core::secrets::{CachedSecrets, VerifyToken, WebhookSecrets};
use reply_core::signature::{AppSecrets, sign};
use reply_core::store::dynamo::DynamoCommentStore;
use stream_runner::{EventSourceSettings, StreamRunner};
use webhook::{WebhookApp, WebhookConfig};

const APP_SECRET: &str = "drift-app-secret";
const TOKEN: &str = "IGAAdrift-token";

/// The IAM actions each function called.
#[derive(Debug)]
pub(crate) struct Recorded {
    pub(crate) webhook: BTreeSet<String>,
    pub(crate) replier: BTreeSet<String>,
}

/// Recorded once per test process (every drift check shares it).
pub(crate) fn recorded() -> &'static Recorded {
    static RECORDED: OnceLock<Recorded> = OnceLock::new();
    RECORDED.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(run_functions()).unwrap()
    })
}

async fn run_functions() -> anyhow::Result<Recorded> {
    // The metric lines are for CloudWatch; here they would only clutter the test output.
    reply_core::metrics::disable();
    let local = testkit::dynamodb_local().await;
    let sdk = local.sdk_config();
    let own = local.client();
    let comments = local.fresh_table().await?;
    let accounts = local
        .fresh_table_of("AccountStateTable", "drift-accounts")
        .await?;
    let campaigns = local
        .fresh_table_of("CampaignsTable", "drift-campaigns")
        .await?;
    let sim = Simulator::new(SimConfig::with_default_token(TOKEN))
        .serve(([127, 0, 0, 1], 0).into())
        .await?;

    let (webhook_client, webhook_calls) = testkit::iam::recording_client(&sdk);
    let secrets = WebhookSecrets {
        app_secrets: AppSecrets::from_comma_separated(APP_SECRET).unwrap(),
        verify_token: VerifyToken::new("drift-verify-token"),
    };
    let webhook_store = Arc::new(DynamoCommentStore::new(webhook_client, &comments));
    let webhook = WebhookApp::new(
        &WebhookConfig::for_table(&comments),
        Arc::new(CachedSecrets::fixed(secrets)),
        webhook_store.clone(),
        Arc::new(SystemClock),
    )
    .with_public_reply_confirmations(webhook_store);

    let (replier_client, replier_calls) = testkit::iam::recording_client(&sdk);
    let mut config =
        ReplierConfig::new(&comments, &accounts, ReplyTemplate::parse("Hi {username}")?);
    config.campaigns_table_name = campaigns;
    config.graph_api_url = sim.base_url.clone();
    let replier = Arc::new(Replier::from_parts(
        config,
        ReplierParts {
            dynamodb: replier_client,
            tokens: Arc::new(StaticTokens::single(TOKEN)?),
            clock: Arc::new(SystemClock),
        },
    )?);
    let handler = Arc::clone(&replier);
    let runner = StreamRunner::builder(local.streams_client(), &comments)
        .dynamodb_client(own.clone())
        .settings(EventSourceSettings::from_template(
            sam_template::template_path(),
        )?)
        .poll_interval(Duration::from_millis(50))
        .lambda_handler(move |event: serde_json::Value| {
            let replier = Arc::clone(&handler);
            async move { replier.handle(event).await }
        })
        .start()
        .await?;

    let post = |comment: SampleComment| {
        let body = notification_body(&[comment], chrono::Utc::now());
        let request = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/webhook")
            .header("X-Hub-Signature-256", sign(APP_SECRET, &body))
            .body(lambda_http::Body::from(body));
        let webhook = &webhook;
        async move {
            let status = webhook.handle(request?).await.status();
            anyhow::ensure!(status == 200, "the webhook answered {status}");
            anyhow::Ok(())
        }
    };
    post(SampleComment::new(
        "17841400000000777",
        "18000000000000777",
        "LINK",
    ))
    .await?;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let item = own
            .get_item()
            .table_name(&comments)
            .key(
                attr::COMMENT_ID,
                aws_sdk_dynamodb::types::AttributeValue::S("18000000000000777".into()),
            )
            .consistent_read(true)
            .send()
            .await?
            .item
            .unwrap_or_default();
        let status = item.get(attr::STATUS).and_then(|s| s.as_s().ok()).cloned();
        if status.as_deref() == Some("REPLIED") {
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the comment stayed {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The account's own reply to the comment, while the comment's public reply waits after an attempt whose
    // answer was lost: the webhook reads the comment and confirms it.
    own.update_item()
        .table_name(&comments)
        .key(
            attr::COMMENT_ID,
            aws_sdk_dynamodb::types::AttributeValue::S("18000000000000777".into()),
        )
        .update_expression("SET #p = :retry")
        .expression_attribute_names("#p", attr::PUBLIC_REPLY_STATUS)
        .expression_attribute_values(
            ":retry",
            aws_sdk_dynamodb::types::AttributeValue::S("RETRY".into()),
        )
        .send()
        .await?;
    let mut own_reply =
        SampleComment::new("17841400000000777", "18000000000000778", "Sent you a DM!");
    own_reply.commenter_id = "17841400000000777".into();
    own_reply.parent_id = Some("18000000000000777".into());
    post(own_reply).await?;
    replier
        .handle(serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}))
        .await?;
    runner.stop().await;
    sim.shutdown().await?;
    Ok(Recorded {
        webhook: webhook_calls.made(),
        replier: replier_calls.made(),
    })
}
