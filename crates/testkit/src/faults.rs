//! DynamoDB faults for the fault campaign, injected through an SDK interceptor around the real DynamoDB
//! Local (nothing is faked: a request either never leaves, or reaches DynamoDB Local and its answer is lost).
//!
//! Two kinds, chosen per request attempt from a seeded generator so a campaign repeats exactly:
//! - [`DynamoFault::Throttled`]: the attempt is refused before it is sent, as when DynamoDB throttles the
//!   request; the SDK sees an error it does not retry, so the caller sees what it sees once the SDK's own
//!   retries are spent. The write did not happen.
//! - [`DynamoFault::AnswerLost`]: the request reaches DynamoDB Local and is applied, then its answer is
//!   replaced by a `500 InternalServerError`, which the SDK retries. A conditional write retried this way
//!   meets its own earlier success as a failed condition: the hardest case for exactly-once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

/// What can happen to one request attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DynamoFault {
    Throttled,
    AnswerLost,
}

/// How often each fault hits each operation (`PutItem`, `UpdateItem`, `Query`, ...), per attempt.
#[derive(Debug, Clone, Default)]
pub struct FaultRates(BTreeMap<String, (f64, f64)>);

impl FaultRates {
    /// `operation` attempts are throttled with probability `throttled` and lose their answer with
    /// probability `answer_lost`.
    pub fn with(mut self, operation: &str, throttled: f64, answer_lost: f64) -> Self {
        self.0
            .insert(operation.to_owned(), (throttled, answer_lost));
        self
    }
}

/// The faults of one client (or several sharing it), and what was injected.
#[derive(Debug)]
pub struct DynamoFaults {
    rates: FaultRates,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// xorshift64*: small, seeded, and the same on every platform.
    rng: u64,
    enabled: bool,
    injected: BTreeMap<(String, DynamoFault), u64>,
}

impl DynamoFaults {
    pub fn new(rates: FaultRates, seed: u64) -> Arc<Self> {
        Arc::new(Self {
            rates,
            state: Mutex::new(State {
                // Spread nearby seeds apart (and never zero, which xorshift cannot leave).
                rng: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
                enabled: true,
                injected: BTreeMap::new(),
            }),
        })
    }

    /// Stops (or resumes) injecting, e.g. to let a campaign settle once its attack is over.
    pub fn set_enabled(&self, enabled: bool) {
        self.state().enabled = enabled;
    }

    /// What was injected so far, by operation and kind.
    pub fn injected(&self) -> BTreeMap<(String, DynamoFault), u64> {
        self.state().injected.clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a throttling fault is drawn for an attempt of `operation` (for tests of the generator).
    pub fn draw_for_test(&self, operation: &str) -> bool {
        self.draw(operation, DynamoFault::Throttled)
    }

    /// Draws whether this attempt of `operation` gets `kind`.
    fn draw(&self, operation: &str, kind: DynamoFault) -> bool {
        let Some(&(throttled, answer_lost)) = self.rates.0.get(operation) else {
            return false;
        };
        let p = match kind {
            DynamoFault::Throttled => throttled,
            DynamoFault::AnswerLost => answer_lost,
        };
        let mut state = self.state();
        if !state.enabled || p <= 0.0 {
            return false;
        }
        let mut x = state.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.rng = x;
        let unit = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        let hit = unit < p;
        if hit {
            *state
                .injected
                .entry((operation.to_owned(), kind))
                .or_default() += 1;
        }
        hit
    }
}

#[derive(Debug)]
struct Injector(Arc<DynamoFaults>);

fn operation(cfg: &ConfigBag) -> Option<String> {
    cfg.load::<Metadata>().map(|m| m.name().to_owned())
}

impl Intercept for Injector {
    fn name(&self) -> &'static str {
        "testkit::faults"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        match operation(cfg) {
            Some(op) if self.0.draw(&op, DynamoFault::Throttled) => Err(format!(
                "ProvisionedThroughputExceededException (testkit::faults): {op} throttled"
            )
            .into()),
            _ => Ok(()),
        }
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(op) = operation(cfg)
            && self.0.draw(&op, DynamoFault::AnswerLost)
        {
            let response = context.response_mut();
            *response.status_mut() = StatusCode::try_from(500).map_err(|e| e.to_string())?;
            *response.body_mut() = SdkBody::from(
                r#"{"__type":"com.amazon.coral.availability#InternalServerError","message":"injected by testkit::faults"}"#,
            );
        }
        Ok(())
    }
}

/// `client` with `faults` injected into every request it makes (its other settings kept).
pub fn client_with_faults(
    client: &aws_sdk_dynamodb::Client,
    faults: &Arc<DynamoFaults>,
) -> aws_sdk_dynamodb::Client {
    let config = client
        .config()
        .to_builder()
        .interceptor(Injector(Arc::clone(faults)))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}
