//! The replier Lambda's entry point: build everything once per cold start (the sweep even when the replier
//! cannot start), then handle stream batches and scheduled sweeps. The same binary runs in AWS Lambda and
//! under `cargo lambda watch`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use replier::LambdaFunction;
use serde_json::Value;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    reply_core::telemetry::init();
    let function = Arc::new(LambdaFunction::from_env().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let function = function.clone();
        async move { function.handle(event.payload).await }
    }))
    .await
}
