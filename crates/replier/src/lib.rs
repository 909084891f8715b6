//! The replier Lambda: sends each stored comment the one private reply Instagram allows.
//!
//! It is invoked two ways. The comments table's stream (filtered to new images in `PENDING`) brings new
//! comments and requeued retries: each is checked against its reply window, given its reply by its account's
//! campaigns (or skipped when none answers it), checked against its account's pause and token state and call
//! budget, claimed with a conditional write that freezes the reply decided, sent, and its outcome written
//! under the claim. A schedule runs the retry [`sweep`], which puts comments whose retry time has come back to
//! `PENDING`, so they flow through the stream again.
//!
//! Module map:
//! - [`lambda`]: the function as AWS runs it ([`lambda::LambdaFunction`]): the sweep always, the replier when it
//!   could start.
//! - [`replier`]: the [`Replier`]: wiring, its entry ([`Replier::handle`]) and the orchestrator that reads,
//!   lets [`decide`] decide, and writes; its `public` submodule posts a campaign's public reply after the
//!   private one (and again when the stream brings back a `QUEUED` one).
//! - [`decide`]: every decision about a comment, as pure functions returning a [`decide::Decision`];
//!   [`decide::public`]: what an answer to a public reply means.
//! - [`ports`]: the traits the orchestrator talks to (account ledger, reply sender; the comment table is
//!   `reply_core::store::CommentTable`).
//! - [`stream`]: one stream batch, record by record, with partial batch failures; [`lanes`]: one account's
//!   comments through the budget one at a time per instance, leasing calls and reserving turns for the rest.
//! - [`sweep`]: the scheduled sweep over the `due` index (retries, stale claims, forgotten comments, and public
//!   replies waiting to be tried again).
//! - [`classify`]: Meta's answer to one send, as a disposition (codes from `reply_core::meta`).
//! - [`backoff`]: when to try again; [`budget`]: the sliding-window rate-budget arithmetic.
//! - [`accounts`]: the account state table's adapter (budget counters, pauses, rejected tokens).
//! - [`graph`]: the HTTP call to Meta; [`usage`]: Meta's usage headers.
//! - [`campaigns`]: each account's campaigns (`reply_core::campaign`), cached for `CAMPAIGNS_TTL_SECS`.
//! - [`tokens`]: per-account tokens and their fingerprints.
//! - [`config`]: the environment; [`outcome`]: what one record came to; [`metrics`]: EMF counts.

pub mod accounts;
pub mod backoff;
pub mod budget;
pub mod campaigns;
pub mod classify;
pub mod config;
pub mod decide;
pub mod graph;
pub mod lambda;
pub mod lanes;
pub mod metrics;
pub mod outcome;
pub mod ports;
pub mod replier;
pub mod stream;
pub mod sweep;
pub mod tokens;
pub mod usage;

pub use config::{Budget, ReplierConfig};
pub use lambda::{LambdaFunction, Sweeper};
pub use outcome::{IgnoreReason, RecordError, RecordOutcome};
pub use replier::{Ports, Replier, ReplierParts, TOKEN_INVALIDATION_INTERVAL};
pub use reply_core::campaign::ReplyTemplate;
pub use stream::BatchReport;
pub use sweep::SweepSummary;
pub use tokens::{ReplierSecrets, StaticTokens, TokenFingerprint, TokenSource};

use reply_core::config::ConfigError;

/// The comment item's attributes (defined once, in `reply_core::lifecycle`).
pub use reply_core::lifecycle::attr;

/// Why the replier could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("could not build the HTTP client")]
    Http(#[from] reqwest::Error),
}

/// Why an invocation failed as a whole (a stream batch never does: its failures are per record).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("the event is neither a DynamoDB stream batch nor a scheduled event")]
    UnknownEvent,
    #[error("the sweep could not read the due index")]
    Sweep(#[source] reply_core::store::StoreError),
    #[error(
        "the replier could not start ({0}); stream batches fail until it is fixed, the sweep still runs"
    )]
    NotStarted(String),
    #[error("the retry sweep could not write {0} comments; the next sweep retries them")]
    SweepIncomplete(u64),
}

/// Lambda's error report: a stable type per variant, the message without internal detail.
impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::UnknownEvent => "UnknownEvent",
            HandlerError::Sweep(_) => "SweepFailed",
            HandlerError::SweepIncomplete(_) => "SweepIncomplete",
            HandlerError::NotStarted(_) => "ReplierNotStarted",
        };
        Self {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}
