//! `replyctl` end to end: the binary against DynamoDB Local, the real webhook served in-process, and the Graph
//! API simulator.
#![allow(clippy::unwrap_used)]

mod campaign;
mod harness;
mod inspect;
mod retry;
mod send_comment;
mod send_message;
mod subscribe;
mod verify_webhook;
