//! Module map (`main.rs`, the `graph-sim` binary, serves it as a process):
//! - `simulator`: the [`Simulator`] handle, one method per control operation, each under the state's lock.
//! - `rules`: the state behind that lock and the private-reply rules (windows, one reply per comment, budgets).
//! - `rules::access`: the path and token checks that every endpoint starts with.
//! - `rules::public_replies`: the rules of a comment's public replies (`POST`/`GET .../replies`: the replying
//!   account, no second-reply refusal, not on Live, their own budget).
//! - `rules::send_api`: messages to a person (`recipient.id`: the 24-hour window, known people, text or button
//!   template, their own budget), a person's answer that opens the window, and the echo of a delivery.
//! - `rules::subscriptions`: the rules of `subscribed_apps` (known fields, the account's subscription).
//! - `webhook`: the `messages` notifications the simulator posts (a person's answer, echoes), signed as Meta's.
//! - `wire`: request parsing, the framework-neutral answer, and the serde types of the control routes and log.
//! - `http`: the axum routes (Meta's endpoints and `/_sim/`) and how an answer becomes a response.
//! - `server`: serving on a socket, with connections that the `close_connection` fault can kill.
//! - `fault`: the failures a test orders in advance ([`Fault`]), and which requests (endpoint, account,
//!   comment, person) they apply to.
//! - `errors`: Meta's error vocabulary: status, type, message and transience of each code/subcode.
//! - `rate`: per-account call budgets over sliding windows of simulated time.
//! - `config`: start-up settings ([`SimConfig`]), Meta's documented numbers by default.
//! - `ids`: message IDs, comment IDs, trace IDs, IGSIDs and token fingerprints shaped like Meta's.
//!
//! A faithful stand-in for Meta's Graph API private-reply endpoint (`POST /{version}/{ig_id}/messages`, plus
//! the same path with `recipient.id` for messages to a person, `POST /{version}/{ig_id}/subscribed_apps` to
//! subscribe an account's webhook fields, and `POST`/`GET /{version}/{comment_id}/replies` for public replies,
//! which Meta never refuses twice), for end-to-end tests and the local stack, where Meta cannot be reached. It
//! enforces what the product must cope with (one reply per comment, the 7-day and Live windows, the 24-hour
//! messaging window, tokens, 1000-byte texts, button templates, per-account rate limits) and lets a test order
//! the rare failures (5xx, lost responses, dropped connections, any Graph error code) on demand, with a
//! simulated clock that can jump days. It also plays the commenter who answers a private reply
//! ([`Simulator::person_answers`]): the answer opens their window and is posted to the webhook, if one is set,
//! as Meta's signed `messages` notification (and, when asked, every delivery's echo). Drive it from Rust
//! through [`Simulator`], or over HTTP under `/_sim/`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use graph_sim::{Fault, PersonAnswer, SimConfig, Simulator, WebhookTarget};
//! let running = Simulator::new(SimConfig::with_default_token("token")).serve(([127, 0, 0, 1], 0).into()).await?;
//! running.sim.inject(Fault::http_status(500).once());
//! // POST {running.base_url}/v25.0/{ig_id}/messages ...
//! running.sim.set_webhook(Some(WebhookTarget::new("http://127.0.0.1:3000/webhook", "app-secret")));
//! let answered = running.sim.person_answers(PersonAnswer::to_private_reply("178...", "180...", "LINK")).await;
//! running.shutdown().await
//! # }
//! ```

mod config;
mod errors;
mod fault;
mod http;
mod ids;
mod rate;
mod rules;
mod server;
mod simulator;
mod webhook;
mod wire;

pub use config::{ConfigError, SimConfig, WebhookTarget};
pub use fault::{Endpoint, Fault, FaultKind};
pub use rules::{
    MAX_BUTTON_TITLE_CHARS, MAX_BUTTONS, MAX_TEMPLATE_TEXT_CHARS, MAX_TEXT_BYTES, MESSAGING_WINDOW,
    PersonAnswerError, REPLY_WINDOW,
};
pub use server::RunningSim;
pub use simulator::Simulator;
pub use webhook::DeliveryFailure;
pub use wire::{
    CommentSpec, DeliveredMessage, DeliveredReply, LoggedRequest, PersonAnswer, PersonAnswered,
    PublicReply, SUBSCRIBABLE_FIELDS, UrlButton,
};
