//! One module per subcommand; each takes its parsed arguments and the output settings.

mod campaign;
mod inspect;
mod retry;
pub(crate) mod send_comment;
mod send_message;
mod subscribe;
mod verify_webhook;

use crate::cli::Command;
use crate::failure::Failure;
use crate::output::Output;

pub async fn run(command: Command, out: &Output) -> Result<(), Failure> {
    match command {
        Command::SendComment(args) => send_comment::run(args, out).await,
        Command::SendMessage(args) => send_message::run(args, out).await,
        Command::VerifyWebhook(args) => verify_webhook::run(args, out).await,
        Command::List(args) => inspect::list(args, out).await,
        Command::Show(args) => inspect::show(args, out).await,
        Command::Stats(args) => inspect::stats(args, out).await,
        Command::Retry(args) => retry::run(args, out).await,
        Command::Subscribe(args) => subscribe::run(args, out).await,
        Command::Campaign(command) => campaign::run(command, out).await,
    }
}

/// An HTTP client with a per-request timeout; rustls, no proxies from the environment surprises.
pub(crate) fn http_client(timeout_secs: u64, user_agent: &str) -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(timeout_secs))
        .connect_timeout(std::time::Duration::from_secs(timeout_secs.min(10)))
        .user_agent(user_agent)
        .build()
        .map_err(|e| Failure::new("could not build the HTTP client").source(e))
}

/// Why a request got no answer, in a few words.
pub(crate) fn transport_error(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    }
}
