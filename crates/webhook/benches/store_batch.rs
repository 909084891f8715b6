//! Time for the webhook to store a 1000-change POST in DynamoDB Local, end to end through the handler
//! (verify, parse, 1000 conditional puts). Prints min / median / max over several runs, each on a fresh table.
//! Run with `cargo bench -p webhook --bench store_batch` (`WRITE_CONCURRENCY=N` to try another concurrency).
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use chrono::Utc;
use lambda_http::Body;
use reply_core::clock::SystemClock;
use reply_core::sample::{SampleComment, notification_body};
use reply_core::secrets::{CachedSecrets, VerifyToken, WebhookSecrets};
use reply_core::signature::{AppSecrets, sign};
use reply_core::store::dynamo::DynamoCommentStore;
use std::sync::Arc;
use std::time::{Duration, Instant};
use webhook::{WebhookApp, WebhookConfig};

const RUNS: usize = 7;

#[tokio::main]
async fn main() {
    let local = testkit::dynamodb_local().await;
    let comments: Vec<_> = (0..1000)
        .map(|i| {
            SampleComment::new(
                &format!("178414{:011}", i % 10),
                &format!("183{i:014}"),
                "LINK please",
            )
        })
        .collect();
    let body = notification_body(&comments, Utc::now());
    let signature = sign("bench-secret", &body);

    let mut config = WebhookConfig::for_table("");
    if let Some(n) = std::env::var("WRITE_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.write_concurrency = n;
    }
    let mut times = Vec::with_capacity(RUNS);
    for run in 0..=RUNS {
        let table = local.fresh_table().await.unwrap();
        let secrets = WebhookSecrets {
            app_secrets: AppSecrets::from_comma_separated("bench-secret").unwrap(),
            verify_token: VerifyToken::new("unused"),
        };
        config.table_name = table.clone();
        let app = WebhookApp::new(
            &config,
            Arc::new(CachedSecrets::fixed(secrets)),
            Arc::new(DynamoCommentStore::new(local.client(), &table)),
            Arc::new(SystemClock),
        );
        let request = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/webhook")
            .header("X-Hub-Signature-256", &signature)
            .body(Body::from(body.clone()))
            .unwrap();
        let started = Instant::now();
        let response = app.handle(request).await;
        let elapsed = started.elapsed();
        assert_eq!(response.status(), 200);
        // The first run warms DynamoDB Local's JIT and connection pool; it is reported but not counted.
        if run == 0 {
            println!("store_batch/1000 warm-up run: {:.1} ms", ms(elapsed));
        } else {
            times.push(elapsed);
        }
    }
    times.sort();
    println!(
        "store_batch/1000 changes into DynamoDB Local ({} runs, write concurrency {}): min {:.1} ms, median {:.1} ms, max {:.1} ms",
        times.len(),
        config.write_concurrency,
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
