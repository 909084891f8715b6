//! The local stack: the deployed handlers, wired together on one machine.
//!
//! DynamoDB Local plays DynamoDB, [`stream_runner`] plays Lambda's stream event source mapping (reading the
//! filter and batching settings from `template.yaml`), [`graph_sim`] plays Meta's Graph API unless
//! `GRAPH_API_URL` points elsewhere, a timer plays the EventBridge sweep schedule, and the webhook is served
//! over HTTP through [`http_adapter`]. Everything else is the production code: `WebhookApp::handle`, and
//! `LambdaFunction::handle`, the replier's Lambda entry, which gets the stream's batches and the schedule's
//! events as the JSON Lambda delivers. The `local-stack` binary and the end-to-end tests both start it through
//! [`Stack::start`].
//!
//! Module map: this file holds [`Stack`] (start, the stream runner, stop); [`settings`] builds every
//! component's configuration from the environment; [`http_adapter`] turns local HTTP requests into the
//! requests API Gateway gives the webhook; [`demo`] is what the binary shows a person.

pub mod demo;
pub mod http_adapter;
pub mod settings;

pub use settings::{DynamoDbChoice, StackSettings};

use anyhow::Context as _;
use graph_sim::{RunningSim, SimConfig, Simulator};
use replier::{LambdaFunction, Replier, ReplierParts, ReplierSecrets, StaticTokens};
use reply_core::clock::SystemClock;
use reply_core::secrets::{CachedSecrets, VerifyToken, WebhookSecrets};
use reply_core::signature::AppSecrets;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use stream_runner::{EventSourceSettings, RunnerHandle, StreamRunner};
use testkit::table::{
    CreateOutcome, create_comments_table, table_spec_from_template, template_path,
};
use tokio::task::JoinHandle;
use webhook::WebhookApp;

/// A running local stack. Dropping it stops everything it started; [`Stack::stop`] does so in order.
#[derive(Debug)]
pub struct Stack {
    /// `http://127.0.0.1:PORT/webhook`.
    pub webhook_url: String,
    pub dynamodb_endpoint: String,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table_name: String,
    pub account_state_table_name: String,
    pub campaigns_table_name: String,
    /// The webhook's messages table (`MESSAGES_TABLE_NAME`).
    pub messages_table_name: String,
    /// The Graph API simulator, when the stack runs one.
    pub sim: Option<RunningSim>,
    /// The tokens the replier sends with; replace them to play "the token was fixed in Secrets Manager".
    pub tokens: Arc<StaticTokens>,
    pub replier: Arc<Replier>,
    /// The replier function as AWS runs it (stream batches and the schedule's sweeps go through it).
    function: Arc<LambdaFunction>,
    settings: StackSettings,
    runner: tokio::sync::Mutex<Option<RunnerHandle>>,
    webhook_task: JoinHandle<()>,
    sweep_task: JoinHandle<()>,
    _dynamodb_local: Option<testkit::OwnedDynamoDbLocal>,
}

impl Stack {
    pub async fn start(settings: StackSettings) -> anyhow::Result<Self> {
        let (owned, endpoint) = match &settings.dynamodb {
            DynamoDbChoice::StartOnPort(port) => {
                let local = testkit::start_dynamodb_local_on(*port).await?;
                let endpoint = local.endpoint.clone();
                (Some(local), endpoint)
            }
            DynamoDbChoice::Endpoint(endpoint) => (None, endpoint.clone()),
        };
        let sdk = testkit::sdk_config(&endpoint);
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        create_tables(&dynamodb, &settings).await?;

        let sim = match &settings.graph_api_url {
            Some(_) => None,
            None => {
                let mut config = settings
                    .sim
                    .clone()
                    .unwrap_or_else(|| SimConfig::with_default_token(&settings.access_token));
                if config.default_token.is_none() && config.tokens.is_empty() {
                    config.default_token = Some(settings.access_token.clone());
                }
                let addr: SocketAddr = ([127, 0, 0, 1], settings.sim_port).into();
                Some(
                    Simulator::new(config)
                        .serve(addr)
                        .await
                        .context("starting the Graph API simulator")?,
                )
            }
        };
        let graph_api_url = match (&settings.graph_api_url, &sim) {
            (Some(url), _) => url.clone(),
            (None, Some(sim)) => sim.base_url.clone(),
            (None, None) => unreachable_graph_url(),
        };

        let tokens = Arc::new(StaticTokens::new(ReplierSecrets::parse(
            Some(&settings.access_token),
            settings.account_tokens.as_deref(),
        )?));
        let mut replier_config = settings.replier.clone();
        replier_config.graph_api_url = graph_api_url;
        let replier = Arc::new(Replier::from_parts(
            replier_config,
            ReplierParts {
                dynamodb: dynamodb.clone(),
                tokens: tokens.clone(),
                clock: Arc::new(SystemClock),
            },
        )?);

        let webhook_config = &settings.webhook;
        let webhook_secrets = WebhookSecrets {
            app_secrets: AppSecrets::from_comma_separated(&settings.app_secret)
                .context("APP_SECRET must not be empty")?,
            verify_token: VerifyToken::new(&settings.verify_token),
        };
        let webhook = Arc::new(WebhookApp::on_dynamodb(
            webhook_config,
            Arc::new(CachedSecrets::fixed(webhook_secrets)),
            &dynamodb,
            Arc::new(SystemClock),
        ));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", settings.webhook_port))
            .await
            .with_context(|| {
                format!(
                    "could not listen on 127.0.0.1:{} (WEBHOOK_PORT)",
                    settings.webhook_port
                )
            })?;
        let webhook_url = format!("http://{}/webhook", listener.local_addr()?);
        let max_body = webhook_config.max_body_bytes;
        let router = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let webhook = webhook.clone();
            async move { http_adapter::serve_request(webhook, max_body, request).await }
        });
        let webhook_task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(error = %error, "the local webhook server stopped");
            }
        });

        let function = Arc::new(LambdaFunction::started(replier.clone()));
        let sweep_task = {
            let function = function.clone();
            let interval = settings.sweep_interval;
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(interval);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticker.tick().await;
                    // The event EventBridge's schedule sends, through the same entry point as in AWS.
                    match function.handle(scheduled_event()).await {
                        Ok(summary) => tracing::debug!(%summary, "sweep"),
                        Err(error) => {
                            tracing::warn!(error = %error, "sweep failed; next run retries")
                        }
                    }
                }
            })
        };

        let stack = Self {
            webhook_url,
            dynamodb_endpoint: endpoint,
            dynamodb,
            table_name: settings.replier.table_name.clone(),
            account_state_table_name: settings.replier.account_state_table_name.clone(),
            campaigns_table_name: settings.replier.campaigns_table_name.clone(),
            messages_table_name: settings.webhook.messages_table_name.clone(),
            sim,
            tokens,
            replier,
            function,
            runner: tokio::sync::Mutex::new(None),
            webhook_task,
            sweep_task,
            _dynamodb_local: owned,
            settings,
        };
        stack.start_runner().await?;
        Ok(stack)
    }

    /// Starts the stream runner (a new "Lambda instance" after [`Stack::stop_runner`]).
    pub async fn start_runner(&self) -> anyhow::Result<()> {
        let mut slot = self.runner.lock().await;
        if slot.is_some() {
            return Ok(());
        }
        let mut source = EventSourceSettings::from_template(template_path())?;
        source.batching_window = self.settings.batching_window;
        let function = self.function.clone();
        let streams =
            aws_sdk_dynamodbstreams::Client::new(&testkit::sdk_config(&self.dynamodb_endpoint));
        let handle = StreamRunner::builder(streams, &self.table_name)
            .dynamodb_client(self.dynamodb.clone())
            .settings(source)
            .poll_interval(Duration::from_millis(100))
            .retry_backoff(Duration::from_millis(100), Duration::from_secs(2))
            .shutdown_grace(self.settings.runner_shutdown_grace)
            .lambda_handler(move |event: serde_json::Value| {
                let function = function.clone();
                async move { function.handle(event).await }
            })
            .start()
            .await?;
        *slot = Some(handle);
        Ok(())
    }

    /// Stops the stream runner; an invocation still running after the grace period is dropped mid-flight,
    /// like a Lambda instance that dies.
    pub async fn stop_runner(&self) {
        if let Some(handle) = self.runner.lock().await.take() {
            handle.stop().await;
        }
    }

    /// Records the runner could not deliver after all retries (the deployed stack's dead-letter queue).
    pub async fn dead_letters(&self) -> usize {
        self.runner
            .lock()
            .await
            .as_ref()
            .map_or(0, |r| r.dead_letters().len())
    }

    /// Stops the runner, the sweep, the webhook, the simulator and DynamoDB Local (if this stack started it).
    pub async fn stop(mut self) {
        self.stop_runner().await;
        self.sweep_task.abort();
        self.webhook_task.abort();
        if let Some(sim) = self.sim.take() {
            let _ = sim.shutdown().await;
        }
        // DynamoDB Local stops when `_dynamodb_local` drops here.
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.sweep_task.abort();
        self.webhook_task.abort();
    }
}

/// What EventBridge's schedule delivers to the replier (a classic scheduled rule's event).
fn scheduled_event() -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "id": "local-sweep",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": reply_core::comment::format_time(chrono::Utc::now()),
        "region": testkit::TEST_REGION,
        "resources": ["arn:aws:events:local:000000000000:rule/local-sweep"],
        "detail": {}
    })
}

fn unreachable_graph_url() -> String {
    // Only reachable if a simulator was neither requested nor configured, which `start` rules out.
    "http://127.0.0.1:9".to_owned()
}

/// The tables from template.yaml (idempotent: an existing table is left as it is).
async fn create_tables(
    client: &aws_sdk_dynamodb::Client,
    settings: &StackSettings,
) -> anyhow::Result<()> {
    let yaml = std::fs::read_to_string(template_path()).context("reading template.yaml")?;
    for (resource, name) in [
        ("CommentsTable", &settings.replier.table_name),
        (
            "AccountStateTable",
            &settings.replier.account_state_table_name,
        ),
        ("CampaignsTable", &settings.replier.campaigns_table_name),
        ("MessagesTable", &settings.webhook.messages_table_name),
    ] {
        let spec = table_spec_from_template(&yaml, resource)?;
        match create_comments_table(client, name, &spec).await? {
            CreateOutcome::Created => tracing::info!(table = %name, "created table"),
            CreateOutcome::AlreadyExisted => tracing::info!(table = %name, "table already exists"),
        }
    }
    Ok(())
}
