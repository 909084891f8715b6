//! IAM for DynamoDB Local, which checks no permissions: a client whose every call is recorded, and (for a
//! role of `template.yaml`) refused when the role does not grant it, as AWS would. Tests of a function run
//! its code with its role's client, so a new DynamoDB call without its grant fails a test here rather than
//! in production; the drift test compares what the functions really called with what their roles grant, so
//! a grant nothing uses fails too.
//!
//! The operation comes from the SDK's own metadata, which an interceptor sees before each request is
//! serialized (not earlier: the metadata arrives with the operation's configuration), so nothing reads source
//! code.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// What one client did.
#[derive(Debug, Default)]
pub struct Calls {
    /// `None`: allow everything (record only).
    granted: Option<BTreeSet<String>>,
    role: String,
    made: Mutex<BTreeSet<String>>,
    denied: Mutex<Vec<String>>,
}

impl Calls {
    /// Every IAM action called so far (`dynamodb:PutItem`, ...), refused ones included.
    pub fn made(&self) -> BTreeSet<String> {
        lock(&self.made).clone()
    }

    /// Calls the role does not grant, in order.
    pub fn denied(&self) -> Vec<String> {
        lock(&self.denied).clone()
    }

    /// Fails with a sentence naming every call the role refused.
    pub fn assert_none_denied(&self) {
        let denied = self.denied();
        assert!(
            denied.is_empty(),
            "{} in template.yaml does not grant {denied:?}, which the code called: add the grant or drop the call",
            self.role
        );
    }
}

#[derive(Debug)]
struct Recorder(Arc<Calls>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "testkit::iam"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(operation) = cfg.load::<Metadata>().map(|m| m.name().to_owned()) else {
            return Ok(());
        };
        let action = format!("dynamodb:{operation}");
        lock(&self.0.made).insert(action.clone());
        match &self.0.granted {
            Some(granted) if !granted.contains(&action) => {
                lock(&self.0.denied).push(action.clone());
                Err(format!(
                    "AccessDeniedException (testkit): {} is not granted {action} in template.yaml",
                    self.0.role
                )
                .into())
            }
            _ => Ok(()),
        }
    }
}

/// A client that records every call and refuses those `role` (a role of `template.yaml`) does not grant.
pub fn client_for_role(
    sdk: &aws_config::SdkConfig,
    role: &str,
) -> anyhow::Result<(aws_sdk_dynamodb::Client, Arc<Calls>)> {
    let calls = Arc::new(Calls {
        granted: Some(granted_dynamodb_actions(role)?),
        role: role.to_owned(),
        ..Calls::default()
    });
    Ok((client_with(sdk, &calls), calls))
}

/// A client that records every call and refuses none.
pub fn recording_client(sdk: &aws_config::SdkConfig) -> (aws_sdk_dynamodb::Client, Arc<Calls>) {
    let calls = Arc::new(Calls {
        role: "(no role)".to_owned(),
        ..Calls::default()
    });
    (client_with(sdk, &calls), calls)
}

fn client_with(sdk: &aws_config::SdkConfig, calls: &Arc<Calls>) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(sdk)
        .interceptor(Recorder(Arc::clone(calls)))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// The DynamoDB actions `role`'s Allow statements grant in `template.yaml`.
pub fn granted_dynamodb_actions(role: &str) -> anyhow::Result<BTreeSet<String>> {
    let template = sam_template::Template::load(sam_template::template_path())?;
    Ok(template
        .role(role)?
        .allowed()?
        .iter()
        .map(|grant| grant.action.to_owned())
        .filter(|action| action.starts_with("dynamodb:"))
        .collect())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
