//! The fault campaign: a seeded, repeatable attack on the whole pipeline at once, then a check of every
//! promise. Real handlers on DynamoDB Local and the simulator: the webhook (`WebhookApp::handle`), the local
//! stream runner with two replier instances whose clocks are skewed, and overlapping sweeps.
//!
//! The attack ([`plan`]): several accounts including a Live one and one whose token Meta rejects until it is
//! fixed; webhook deliveries split, reordered and 30% duplicated (a POST answered 5xx is delivered again, as
//! Meta does); a Graph API fault for about 30% of comments (5xx, 5xx after sending, a hang-up after sending,
//! timeouts with and without sending, 613, 368, an unknown code); DynamoDB throttling and lost answers on puts,
//! updates (claims, outcomes, budgets), reads and the index query (`testkit::faults`); replier invocations
//! killed at every await point of the send path ([`kills`]). Then the faults stop, the token is fixed, and
//! the pipeline is given time to settle; [`check`] holds it to its promises and prints a summary.
//!
//! `FAULT_CAMPAIGN_COMMENTS` (default 2000) sets the size, `FAULT_CAMPAIGN_SEED` the seed.
#![allow(clippy::unwrap_used)]

mod check;
mod kills;
mod plan;

use anyhow::Context as _;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use graph_sim::{CommentSpec, SimConfig, Simulator};
use kills::{Invocation, KillableComments, KillableLedger, KillableSender, Killer};
use replier::accounts::AccountStateStore;
use replier::graph::GraphClient;
use replier::{Budget, Ports, Replier, ReplierConfig, ReplierSecrets, ReplyTemplate, StaticTokens};
use reply_core::campaign::{Campaign, Format};
use reply_core::clock::Clock;
use reply_core::sample::notification_body;
use reply_core::secrets::{CachedSecrets, VerifyToken, WebhookSecrets};
use reply_core::signature::{AppSecrets, sign};
use reply_core::store::campaigns::DynamoCampaignStore;
use reply_core::store::dynamo::DynamoCommentStore;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use stream_runner::{EventSourceSettings, StreamRunner};
use testkit::faults::{DynamoFaults, FaultRates, client_with_faults};
use webhook::{WebhookApp, WebhookConfig};

const APP_SECRET: &str = "campaign-app-secret";
const TOKEN_A: &str = "IGAAcampaign-token-a";
/// The token Meta accepts for [`plan::TOKEN_ACCOUNT`]; the replier starts without it.
const TOKEN_B: &str = "IGAAcampaign-token-b";
const HTTP_TIMEOUT: Duration = Duration::from_secs(1);
/// A budget as strict as the simulator's and large enough that the campaign never waits an hour for it.
const HOUR_LIMIT: u32 = 5000;
/// How far the two replier instances' clocks are off real time (within the claim timeout's allowance).
const SKEWS_MS: [i64; 2] = [-1500, 1200];

/// A clock off real time by a fixed amount.
#[derive(Debug)]
struct SkewedClock(TimeDelta);

impl Clock for SkewedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.0
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn replier_config(comments: &str, accounts: &str, sim_url: &str) -> ReplierConfig {
    let mut c = ReplierConfig::new(
        comments,
        accounts,
        ReplyTemplate::parse("Hi {username}, here is the link").unwrap(),
    );
    c.graph_api_url = sim_url.to_owned();
    c.http_timeout = HTTP_TIMEOUT;
    c.http_connect_timeout = HTTP_TIMEOUT;
    c.dynamodb_timeout = Duration::from_secs(2);
    // The longest hold is 1 + 4 x 2 + 2 = 11 s; the rest covers the instances' skew.
    c.claim_timeout = Duration::from_secs(15);
    c.redrive_after = Duration::from_secs(20);
    c.retry_base = Duration::from_secs(1);
    c.retry_max = Duration::from_secs(3);
    c.token_recheck = Duration::from_secs(1);
    // Meta's 368 blocks an account for a while; the campaign cannot wait the deployed 15 minutes.
    c.blocked_pause = Duration::from_secs(2);
    c.posts_budget = Budget {
        limit: HOUR_LIMIT,
        window: Duration::from_secs(3600),
    };
    // Stricter than Meta's 100/s, so that the Live burst spends the budget and queues for turns.
    c.live_budget = Budget {
        limit: 5,
        window: Duration::from_secs(1),
    };
    // Per second rather than per hour, so that public replies meet their budget and wait seconds for it.
    c.public_replies_budget = Budget {
        limit: 10,
        window: Duration::from_secs(1),
    };
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_keeps_its_promises_under_a_seeded_fault_campaign() {
    reply_core::metrics::disable();
    let size: usize = env_or("FAULT_CAMPAIGN_COMMENTS", 2000);
    let seed: u64 = env_or("FAULT_CAMPAIGN_SEED", 20_261_201);
    let plan = plan::Plan::new(seed, size);
    let started = Instant::now();

    let local = testkit::dynamodb_local().await;
    let own = local.client();
    let comments_table = local.fresh_table().await.unwrap();
    let accounts_table = local
        .fresh_table_of("AccountStateTable", "campaign-accounts")
        .await
        .unwrap();
    let campaigns_table = local
        .fresh_table_of("CampaignsTable", "campaign-campaigns")
        .await
        .unwrap();
    let sim = Simulator::new(SimConfig {
        hour_limit: HOUR_LIMIT,
        ..SimConfig::with_default_token(TOKEN_A)
    })
    .serve(([127, 0, 0, 1], 0).into())
    .await
    .unwrap();
    sim.sim.set_token(plan::TOKEN_ACCOUNT, TOKEN_B);
    let http_timeout_ms = u64::try_from(HTTP_TIMEOUT.as_millis()).unwrap();
    for p in &plan.comments {
        if p.comment.live {
            sim.sim.register_comment(
                CommentSpec::new(&p.comment.comment_id, &p.comment.account_id)
                    .live_on(&p.comment.media_id),
            );
        }
        if let Some(fault) = p.fault {
            sim.sim
                .inject(fault.fault(&p.comment.comment_id, http_timeout_ms));
        }
        if let Some(fault) = p.public_fault {
            sim.sim
                .inject(fault.public_fault(&p.comment.comment_id, http_timeout_ms));
        }
    }

    let rates = FaultRates::default()
        .with("PutItem", 0.03, 0.02)
        .with("UpdateItem", 0.02, 0.02)
        .with("GetItem", 0.02, 0.0)
        .with("BatchGetItem", 0.02, 0.0)
        .with("Query", 0.05, 0.0);
    let dynamo_faults = DynamoFaults::new(rates, seed ^ 0xd1a0);
    let faulty = client_with_faults(&own, &dynamo_faults);
    let killer = Killer::new(0.004, seed ^ 0x4b11);

    let webhook = Arc::new(WebhookApp::new(
        &WebhookConfig {
            redrive_after: Duration::from_secs(20),
            ..WebhookConfig::for_table(&comments_table)
        },
        Arc::new(CachedSecrets::fixed(WebhookSecrets {
            app_secrets: AppSecrets::from_comma_separated(APP_SECRET).unwrap(),
            verify_token: VerifyToken::new("campaign"),
        })),
        Arc::new(DynamoCommentStore::new(faulty.clone(), &comments_table)),
        Arc::new(reply_core::clock::SystemClock),
    ));

    let mut config = replier_config(&comments_table, &accounts_table, &sim.base_url);
    config.campaigns_table_name = campaigns_table.clone();
    // Cached for a second, so that the campaigns table (and its faults) is read all through the attack.
    config.campaigns_ttl = Duration::from_secs(1);
    let campaign_store = DynamoCampaignStore::new(own.clone(), &campaigns_table);
    for yaml in plan::CAMPAIGNS {
        let file = format!("account: '{}'\n{yaml}", plan::CAMPAIGN_ACCOUNT);
        let campaign = Campaign::from_file(&file, Format::Yaml).unwrap();
        campaign_store
            .apply(&campaign, chrono::Utc::now())
            .await
            .unwrap();
    }
    let tokens = Arc::new(StaticTokens::single(TOKEN_A).unwrap());
    let repliers: Vec<Arc<Replier>> = SKEWS_MS
        .iter()
        .map(|skew| {
            let ports = Ports {
                comments: Arc::new(KillableComments {
                    inner: Arc::new(DynamoCommentStore::new(faulty.clone(), &comments_table)),
                    killer: killer.clone(),
                }),
                campaigns: Arc::new(DynamoCampaignStore::new(faulty.clone(), &campaigns_table)),
                accounts: Arc::new(KillableLedger {
                    inner: Arc::new(AccountStateStore::new(faulty.clone(), &accounts_table)),
                    killer: killer.clone(),
                }),
                sender: Arc::new(KillableSender {
                    inner: Arc::new(GraphClient::from_config(&config).unwrap()),
                    killer: killer.clone(),
                }),
                tokens: tokens.clone(),
                clock: Arc::new(SkewedClock(TimeDelta::milliseconds(*skew))),
            };
            Arc::new(Replier::with_ports(config.clone(), ports).unwrap())
        })
        .collect();

    let next = Arc::new(AtomicUsize::new(0));
    let handler_repliers = repliers.clone();
    let runner = StreamRunner::builder(local.streams_client(), &comments_table)
        .dynamodb_client(own.clone())
        .settings(EventSourceSettings::from_template(sam_template::template_path()).unwrap())
        .batching_window(Duration::from_millis(50))
        .poll_interval(Duration::from_millis(50))
        .retry_backoff(Duration::from_millis(200), Duration::from_secs(2))
        .lambda_handler(move |event: serde_json::Value| {
            let replier = Arc::clone(
                &handler_repliers[next.fetch_add(1, Ordering::Relaxed) % handler_repliers.len()],
            );
            async move {
                match Invocation::run(replier.handle(event)).await {
                    Ok(answer) => answer.map_err(anyhow::Error::from),
                    Err(killed) => Err(anyhow::Error::from(killed)),
                }
            }
        })
        .start()
        .await
        .unwrap();

    // Overlapping sweeps: both instances sweep on their own schedule.
    let sweeping = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sweeps = Arc::new(AtomicU64::new(0));
    let sweepers: Vec<_> = repliers
        .iter()
        .enumerate()
        .map(|(i, replier)| {
            let (replier, sweeping, sweeps) = (replier.clone(), sweeping.clone(), sweeps.clone());
            tokio::spawn(async move {
                let period = Duration::from_millis(400 + 170 * i as u64);
                while sweeping.load(Ordering::Relaxed) {
                    let _ = replier.sweep().await;
                    sweeps.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(period).await;
                }
            })
        })
        .collect();

    // Meta's deliveries, a few at a time; a POST not answered 200 comes again later.
    let posts = deliver(&webhook, &plan).await.unwrap();
    let attack_ended = Instant::now();

    // The attack is over: the token is fixed, faults stop, and the pipeline settles.
    let fixed = format!(r#"{{"{}": {{"token": "{TOKEN_B}"}}}}"#, plan::TOKEN_ACCOUNT);
    tokens.set(ReplierSecrets::parse(Some(TOKEN_A), Some(&fixed)).unwrap());
    tokio::time::sleep(Duration::from_secs(3)).await;
    dynamo_faults.set_enabled(false);
    killer.set_enabled(false);
    // One stream shard works through the backlog a batch at a time, each batch as slow as its slowest
    // send (a timeout is a second): allow a few minutes plus a fifth of a second per comment.
    let settle_limit = Duration::from_secs(240) + Duration::from_millis(200) * size as u32;
    let settled =
        check::wait_until_settled(&own, &comments_table, plan.comments.len(), settle_limit).await;

    sweeping.store(false, Ordering::Relaxed);
    for sweeper in sweepers {
        sweeper.await.unwrap();
    }
    let stats = runner.stats();
    runner.stop().await;
    let items = testkit::table::scan_all(&own, &comments_table)
        .await
        .unwrap();
    let report = check::Report::new(
        &plan,
        &items,
        &sim.sim,
        check::Injected {
            posts,
            dynamo: dynamo_faults.injected(),
            kills: killer.kills(),
            batches: stats.batches,
            failed_invocations: stats.function_errors,
            sweeps: sweeps.load(Ordering::Relaxed),
        },
        check::Times {
            attack: attack_ended - started,
            settle: settled,
            total: started.elapsed(),
        },
    );
    // Straight to stdout, past the test harness's capture, so that a plain `cargo test` shows the summary.
    writeln!(std::io::stdout().lock(), "{report}").unwrap();
    sim.shutdown().await.unwrap();
    assert!(report.violations.is_empty(), "{report}");
    report.assert_every_point_hit();
}

/// Delivers every POST of the plan (4 in flight), re-delivering those not answered 200; returns what it did.
async fn deliver(webhook: &Arc<WebhookApp>, plan: &plan::Plan) -> anyhow::Result<check::Posts> {
    use futures::StreamExt;
    let redelivered = AtomicU64::new(0);
    let answered: Vec<u16> = futures::stream::iter(plan.posts.iter())
        .map(|post| {
            let redelivered = &redelivered;
            async move {
                let body = notification_body(post, Utc::now());
                for attempt in 0..20 {
                    let request = lambda_http::http::Request::builder()
                        .method("POST")
                        .uri("/webhook")
                        .header("X-Hub-Signature-256", sign(APP_SECRET, &body))
                        .body(lambda_http::Body::from(body.clone()))
                        .context("building the POST")?;
                    let status = webhook.handle(request).await.status().as_u16();
                    if status == 200 {
                        return Ok(status);
                    }
                    redelivered.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100 * (attempt + 1))).await;
                }
                anyhow::bail!("a POST was refused 20 times")
            }
        })
        .buffer_unordered(4)
        .collect::<Vec<anyhow::Result<u16>>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    Ok(check::Posts {
        posts: answered.len(),
        redelivered: redelivered.load(Ordering::Relaxed),
    })
}
