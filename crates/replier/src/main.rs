//! The replier Lambda's entry point: build everything once per cold start, then handle stream batches and
//! scheduled sweeps. The same binary runs in AWS Lambda and under `cargo lambda watch`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use replier::{Replier, ReplierConfig};
use serde_json::Value;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    reply_core::telemetry::init();
    let config = ReplierConfig::from_env()?;
    let replier = Arc::new(Replier::from_config(config).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let replier = replier.clone();
        async move { replier.handle(event.payload).await }
    }))
    .await
}
