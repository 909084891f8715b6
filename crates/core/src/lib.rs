//! The product's core: what a comment is, how Meta's notifications are checked and read, and how comments are
//! stored. The Lambdas stay thin by calling into this crate; everything here is testable without AWS except the
//! DynamoDB adapter, which the integration tests run against DynamoDB Local.

pub mod clock;
pub mod comment;
pub mod config;
pub mod ids;
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
