//! The replier against DynamoDB Local and the Graph API simulator (wiremock where the exact HTTP request is
//! the point). One binary, one harness.
#![allow(clippy::unwrap_used)]

mod harness;

mod campaigns;
mod events;
mod failures;
mod ports;
mod public_replies;
mod redrive;
mod request_shape;
mod sending;
mod sweep;
mod throttling;
mod through_the_stream;
mod tokens;
