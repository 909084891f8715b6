//! What every task of a running runner shares (the client, the settings, the handler, the counters)
//! and the stop signal they all watch, so that the coordinator and the shard workers need nothing else.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodbstreams::Client;
use tokio::sync::watch;

use crate::builder::Options;
use crate::handle::Shared;
use crate::handler::LambdaHandler;
use crate::policy::{Backoff, Policy};
use crate::template::EventSourceSettings;

/// Fixed for the runner's life once `start` has resolved the stream.
pub(crate) struct Context {
    pub(crate) streams: Client,
    pub(crate) stream_arn: String,
    pub(crate) settings: EventSourceSettings,
    pub(crate) options: Options,
    /// The error-handling rules, from `settings`.
    pub(crate) policy: Policy,
    /// The pause before a retry or a re-read, from `options`.
    pub(crate) backoff: Backoff,
    pub(crate) handler: Arc<dyn LambdaHandler>,
    pub(crate) shared: Arc<Shared>,
}

/// The stop flag, seen by every task; a dropped sender (handle dropped) also means stop.
#[derive(Clone)]
pub(crate) struct StopSignal(pub(crate) watch::Receiver<bool>);

/// Returned when a task noticed the stop signal.
#[derive(Debug)]
pub(crate) struct Stopped;

impl StopSignal {
    pub(crate) fn is_stopped(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }

    pub(crate) async fn stopped(&mut self) {
        // Err: the sender is gone, which means stop too.
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }

    /// Sleeps `duration`, or less if stopped.
    pub(crate) async fn sleep(&mut self, duration: Duration) -> Result<(), Stopped> {
        tokio::select! {
            () = tokio::time::sleep(duration) => Ok(()),
            () = self.stopped() => Err(Stopped),
        }
    }
}
