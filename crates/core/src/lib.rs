//! The product's core: what a comment is and how its lifecycle goes, how Meta's notifications are checked
//! and read, what Meta's error codes mean, and how comments are stored. The Lambdas stay thin by calling into
//! this crate; everything here is testable without AWS except the DynamoDB adapter, which the integration
//! tests run against DynamoDB Local.
//!
//! Module map:
//! - [`campaign`]: campaigns (which comment gets which reply): files, matching, choice, reply templates.
//! - [`ids`]: newtypes for Meta's IDs (comment, account, media, user).
//! - [`comment`]: the stored comment item ([`CommentRecord`]) and time formatting.
//! - [`lifecycle`]: attribute names, statuses, status reasons, transitions and their preconditions, and the
//!   public reply's own small lifecycle (`lifecycle::public_reply`).
//! - [`meta`]: the table of Meta's Graph API error codes (transient, token, window, permanent).
//! - [`notification`]: the lenient parser of Meta's webhook notifications (comments; messages in
//!   [`notification::messaging`]).
//! - [`message`]: the stored inbound message item ([`message::MessageRecord`]): a person's answer or button tap.
//! - [`signature`]: `X-Hub-Signature-256` verification over the raw body.
//! - [`store`]: the comments table's ports ([`store::CommentStore`], [`store::CommentTable`]) and its
//!   DynamoDB adapter; the campaigns table's adapter ([`store::campaigns`]).
//! - [`secrets`]: secrets from the environment or Secrets Manager, cached with a TTL.
//! - [`config`]: reading settings from the environment with helpful errors.
//! - [`clock`]: time behind a trait.
//! - [`metrics`]: CloudWatch embedded-metric lines; [`telemetry`]: tracing setup and error chains.
//! - [`sample`]: Meta's captured sample notification, for tests, the CLI and the local stack.

pub mod campaign;
pub mod clock;
pub mod comment;
pub mod config;
pub mod ids;
pub mod lifecycle;
pub mod message;
pub mod meta;
pub mod metrics;
pub mod notification;
pub mod sample;
pub mod secrets;
pub mod signature;
pub mod store;
pub mod telemetry;

pub use clock::{Clock, SystemClock};
pub use comment::{CommentRecord, CommentSource, CommentStatus, REPLY_WINDOW};
pub use ids::{AccountId, CommentId, MediaId, UserId};
pub use lifecycle::StatusReason;
