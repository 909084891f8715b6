//! `replyctl`: the operator's tool for the private-replies product. The same commands work against the local
//! stack (`cargo run -p local-stack`) and a deployed one: the webhook URL, the tables and the Graph API URL
//! come from the project's usual environment variables (or flags), AWS access from the standard AWS
//! configuration. `replyctl campaign ...` manages the campaigns that decide which comment gets which reply.
//!
//! Results go to stdout (tables, or JSON with `--json`); errors go to stderr with what to do next, and the
//! exit code is 1.
//!
//! Module map: [`cli`] (the arguments), [`commands`] (one module per subcommand; `commands::campaign` has one
//! per `campaign` subcommand), [`config`] (URLs and secrets by where the command points), [`dynamo`]
//! (reaching the comments and campaigns tables, through `reply_core`'s adapters for writes; bounded Scans),
//! [`items`] (reading items for display), [`output`] (tables, JSON, colour, progress on stderr), [`age`]
//! (durations and relative times), [`failure`] (what went wrong and what to do next).

mod age;
mod cli;
mod commands;
mod config;
mod dynamo;
mod failure;
mod items;
mod output;

use clap::Parser as _;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let out = output::Output::new(cli.json);
    match commands::run(cli.command, &out).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            out.report(&failure);
            ExitCode::FAILURE
        }
    }
}
