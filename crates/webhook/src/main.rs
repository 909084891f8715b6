//! The webhook Lambda's entry point: build everything once per cold start, then serve requests.
//! The same binary runs in AWS Lambda and under `cargo lambda watch`.

use lambda_http::{Error, service_fn};
use std::sync::Arc;
use webhook::{WebhookApp, WebhookConfig};

#[tokio::main]
async fn main() -> Result<(), Error> {
    reply_core::telemetry::init();
    let config = WebhookConfig::from_env()?;
    let app = Arc::new(WebhookApp::from_config(config).await?);
    lambda_http::run(service_fn(move |request| {
        let app = app.clone();
        async move { Ok::<_, Error>(app.handle(request).await) }
    }))
    .await
}
