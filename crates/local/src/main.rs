//! `cargo run -p local-stack`: the whole product on this machine. Prints `ready` once the webhook accepts
//! requests, posts one signed sample comment (unless `--no-sample` or `SEND_SAMPLE=0`), shows its reply
//! arriving, and stops everything it started on Ctrl-C or SIGTERM.
#![allow(clippy::print_stderr)]

use anyhow::Context as _;
use local_stack::{Stack, StackSettings, demo};
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Our own lines go to stdout; component logs (JSON) only from warnings up unless RUST_LOG says otherwise.
    reply_core::telemetry::init_with_default("warn");
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("local-stack: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let settings = StackSettings::from_env()?;
    let send_sample = settings.send_sample && !std::env::args().any(|a| a == "--no-sample");
    if !settings.emf_metrics {
        reply_core::metrics::disable();
    }
    println!(
        "local-stack: starting DynamoDB Local, the webhook, the stream runner, the replier and the sweep"
    );
    let mut sigint = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;

    let stack = tokio::select! {
        stack = Stack::start(settings.clone()) => stack?,
        _ = sigint.recv() => return Ok(()),
        _ = sigterm.recv() => return Ok(()),
    };
    demo::print_banner(&stack, &settings);
    println!("ready: webhook accepting requests at {}", stack.webhook_url);

    let watcher = demo::watch_replies(&stack);
    if send_sample && let Err(error) = demo::send_sample(&stack, &settings).await {
        eprintln!("local-stack: the sample comment did not go through: {error:#}");
    }
    tokio::select! {
        _ = sigint.recv() => {}
        _ = sigterm.recv() => {}
    }
    println!("local-stack: stopping");
    watcher.abort();
    stack.stop().await;
    println!("local-stack: stopped (DynamoDB Local, webhook, stream runner, sweep and simulator)");
    Ok(())
}
