//! Reaching the comments and campaigns tables. A deployed table uses the standard AWS configuration
//! (`reply_core::store::dynamo::load_sdk_config`); DynamoDB Local (`--endpoint`, `--dynamodb-local` or
//! `AWS_ENDPOINT_URL_DYNAMODB` on a loopback address) needs only *some* credentials and a region, so test
//! values are filled in when none are set. Errors are turned into what the operator should check.

use crate::cli::{EndpointArgs, TableArgs};
use crate::failure::Failure;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{
    Credentials, Region, SharedCredentialsProvider, timeout::TimeoutConfig,
};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use indicatif::ProgressBar;
use reply_core::store::campaigns::DynamoCampaignStore;
use reply_core::store::dynamo::DynamoCommentStore;
use reply_core::store::{CommentTable as _, StoreError};
use std::collections::HashMap;
use std::time::Duration;

pub use reply_core::store::Item;

/// The region DynamoDB Local is given when none is configured (it ignores it with `-sharedDb`).
const LOCAL_REGION: &str = "us-east-1";

/// Which of the product's tables a [`Table`] is (for the hints of its failures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    Comments,
    Campaigns,
}

impl TableKind {
    /// Where its name comes from, what it is called in the deployed stack and in the local stack.
    fn naming(self) -> &'static str {
        match self {
            Self::Comments => {
                "set TABLE_NAME or --table to the comments table (the deployed stack's CommentsTable; `comments` in \
                 the local stack)"
            }
            Self::Campaigns => {
                "set CAMPAIGNS_TABLE_NAME or --campaigns-table to the campaigns table (the deployed stack's \
                 CampaignsTableName output; `campaigns` in the local stack)"
            }
        }
    }

    /// The calls `replyctl` makes on it.
    fn actions(self) -> &'static str {
        match self {
            Self::Comments => "dynamodb:Scan, GetItem and UpdateItem",
            Self::Campaigns => "dynamodb:Query, Scan, GetItem, UpdateItem and DeleteItem",
        }
    }
}

/// A connected table.
#[derive(Debug, Clone)]
pub struct Table {
    pub client: Client,
    pub name: String,
    /// The endpoint when not AWS's own (DynamoDB Local).
    pub endpoint: Option<String>,
    pub kind: TableKind,
}

/// The comments table of `args`.
pub async fn connect(args: &TableArgs) -> Result<Table, Failure> {
    connect_to(&args.at, &args.table, TableKind::Comments).await
}

/// Table `name` at the endpoint of `args`.
pub async fn connect_to(
    args: &EndpointArgs,
    name: &str,
    kind: TableKind,
) -> Result<Table, Failure> {
    let flag_endpoint = match (&args.endpoint, args.dynamodb_local) {
        (Some(e), _) => Some(e.trim().trim_end_matches('/').to_owned()),
        (None, true) => {
            let port =
                reply_core::config::optional("DYNAMODB_PORT").unwrap_or_else(|| "8000".to_owned());
            Some(format!("http://127.0.0.1:{}", port.trim()))
        }
        (None, false) => None,
    };
    let env_endpoint = reply_core::config::optional("AWS_ENDPOINT_URL_DYNAMODB")
        .or_else(|| reply_core::config::optional("AWS_ENDPOINT_URL"));
    let endpoint = flag_endpoint.clone().or(env_endpoint);
    let region_set = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|v| reply_core::config::optional(v));
    let credentials_set = ["AWS_ACCESS_KEY_ID", "AWS_PROFILE"]
        .iter()
        .any(|v| reply_core::config::optional(v).is_some());

    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(30))
        .build();

    let config = match &endpoint {
        // DynamoDB Local with nothing configured: no profile files or instance metadata are consulted.
        Some(e) if is_loopback(e) && !credentials_set => aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(Region::new(
                region_set.unwrap_or_else(|| LOCAL_REGION.to_owned()),
            ))
            .credentials_provider(local_credentials())
            .endpoint_url(e)
            .timeout_config(timeouts)
            .build(),
        _ => {
            let sdk = reply_core::store::dynamo::load_sdk_config().await;
            let mut builder =
                aws_sdk_dynamodb::config::Builder::from(&sdk).timeout_config(timeouts);
            if let Some(e) = &flag_endpoint {
                builder = builder.endpoint_url(e);
            }
            match (sdk.region().is_some(), &endpoint) {
                (true, _) => {}
                (false, Some(_)) => builder = builder.region(Region::new(LOCAL_REGION)),
                (false, None) => {
                    return Err(Failure::new("no AWS region is configured").hint(SETUP_HINT));
                }
            }
            if sdk.credentials_provider().is_none() && endpoint.is_some() {
                builder = builder.credentials_provider(local_credentials());
            }
            builder.build()
        }
    };
    Ok(Table {
        client: Client::from_conf(config),
        name: name.trim().to_owned(),
        endpoint,
        kind,
    })
}

const SETUP_HINT: &str = "set AWS_PROFILE and AWS_REGION (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) for a deployed \
    table, or pass --endpoint http://127.0.0.1:8000 (or --dynamodb-local) for the local stack";

fn local_credentials() -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(Credentials::new(
        "local",
        "local",
        None,
        None,
        "replyctl-local",
    ))
}

fn is_loopback(endpoint: &str) -> bool {
    reqwest::Url::parse(endpoint).is_ok_and(|u| crate::config::is_local(&u))
}

impl Table {
    /// The same DynamoDB, another table.
    pub fn sibling(&self, name: &str, kind: TableKind) -> Table {
        Table {
            client: self.client.clone(),
            name: name.trim().to_owned(),
            endpoint: self.endpoint.clone(),
            kind,
        }
    }

    fn location(&self) -> String {
        match &self.endpoint {
            Some(e) => format!("table {} at {e}", self.name),
            None => format!("table {}", self.name),
        }
    }

    /// The comments table's lifecycle adapter (the one the replier and its sweep use).
    pub fn comments(&self) -> DynamoCommentStore {
        DynamoCommentStore::new(self.client.clone(), &self.name)
    }

    /// The campaigns table's adapter (the one the replier reads campaigns with).
    pub fn campaigns(&self) -> DynamoCampaignStore {
        DynamoCampaignStore::new(self.client.clone(), &self.name)
    }

    /// A failed request of the lifecycle adapter, with what to check.
    pub fn store_failure(&self, doing: &str, error: StoreError) -> Failure {
        let text = error_chain(&error);
        let message = format!("could not {doing} ({})", self.location());
        let hint = hint_for(
            error.aws_code(),
            &text,
            &self.name,
            self.endpoint.as_deref(),
            self.kind,
        );
        Failure::new(message)
            .source(anyhow::anyhow!("{text}"))
            .maybe_hint(hint)
    }

    /// A failed request, with what to check.
    pub fn failure<E, R>(&self, doing: &str, error: SdkError<E, R>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let code = error.code().map(str::to_owned);
        let text = error_chain(&error);
        let message = format!("could not {doing} ({})", self.location());
        let hint = hint_for(
            code.as_deref(),
            &text,
            &self.name,
            self.endpoint.as_deref(),
            self.kind,
        );
        Failure::new(message)
            .source(anyhow::anyhow!("{text}"))
            .maybe_hint(hint)
    }
}

/// `outer: inner: innermost`, each level's message once (the SDK's own context text adds Debug dumps).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    let joined = parts.join(": ");
    if joined.trim().is_empty() {
        DisplayErrorContext(error).to_string()
    } else {
        joined
    }
}

/// What to check, from the error code or, for failures before a response, the error text.
fn hint_for(
    code: Option<&str>,
    text: &str,
    table: &str,
    endpoint: Option<&str>,
    kind: TableKind,
) -> Option<String> {
    let local = endpoint.is_some_and(is_loopback);
    match code {
        Some("ResourceNotFoundException") => Some(format!(
            "there is no table {table:?} here: {}{}",
            kind.naming(),
            if endpoint.is_none() {
                ", and check AWS_REGION"
            } else {
                ""
            }
        )),
        Some(
            "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "ExpiredTokenException"
            | "ExpiredToken"
            | "MissingAuthenticationToken",
        ) => Some(format!(
            "AWS rejected the credentials: refresh them (AWS_PROFILE, `aws sso login`), or {SETUP_HINT}"
        )),
        Some("AccessDeniedException") => Some(format!(
            "the credentials may not read or update this table: they need {} on it",
            kind.actions()
        )),
        Some(_) => None,
        None if text.to_ascii_lowercase().contains("credential") => Some(format!(
            "no usable AWS credentials were found: {SETUP_HINT}"
        )),
        None if local => Some(format!(
            "cannot reach DynamoDB Local at {}: is the local stack running? Start it with `cargo run -p local-stack` \
             (or check --endpoint / DYNAMODB_PORT)",
            endpoint.unwrap_or_default()
        )),
        None => Some(format!(
            "DynamoDB could not be reached: check the network, AWS_REGION and AWS_ENDPOINT_URL_DYNAMODB, or {SETUP_HINT}"
        )),
    }
}

/// Items read by a capped, paginated Scan.
#[derive(Debug, Default)]
pub struct Scanned {
    pub items: Vec<Item>,
    /// Items the Scan read (and paid for), matching or not.
    pub scanned: u64,
    /// The cap stopped the Scan before the end of the table.
    pub truncated: bool,
}

/// What to read: which attributes (all of them when empty), and an optional filter (`#name = :value` pairs
/// and `attribute_exists(#name)`, ANDed).
#[derive(Debug, Default)]
pub struct ScanSpec<'a> {
    pub attributes: &'a [&'a str],
    pub equals: Vec<(&'a str, String)>,
    pub exists: Vec<&'a str>,
    pub max_scan: u64,
}

/// How far a Scan went: items read (and paid for), and whether the cap stopped it.
#[derive(Debug, Default, Clone, Copy)]
pub struct ScanEnd {
    pub scanned: u64,
    pub truncated: bool,
}

impl Table {
    /// Scans page by page until the end of the table or `max_scan` items read, collecting the items.
    pub async fn scan(&self, spec: &ScanSpec<'_>) -> Result<Scanned, Failure> {
        let mut items = Vec::new();
        let end = self
            .scan_each(spec, &ProgressBar::hidden(), |item| items.push(item))
            .await?;
        Ok(Scanned {
            items,
            scanned: end.scanned,
            truncated: end.truncated,
        })
    }

    /// Scans page by page until the end of the table or `max_scan` items read, handing each matching item to
    /// `each` as its page arrives (so a large Scan is never held in memory) and counting the items read on
    /// `progress`. The filter saves transfer, not capacity: DynamoDB charges for every item read.
    pub async fn scan_each(
        &self,
        spec: &ScanSpec<'_>,
        progress: &ProgressBar,
        mut each: impl FnMut(Item),
    ) -> Result<ScanEnd, Failure> {
        let mut names = HashMap::new();
        let mut projection = Vec::new();
        for (i, a) in spec.attributes.iter().enumerate() {
            names.insert(format!("#p{i}"), (*a).to_owned());
            projection.push(format!("#p{i}"));
        }
        let mut values = HashMap::new();
        let mut filter = Vec::new();
        for (i, (attr, value)) in spec.equals.iter().enumerate() {
            names.insert(format!("#f{i}"), (*attr).to_owned());
            values.insert(format!(":f{i}"), AttributeValue::S(value.clone()));
            filter.push(format!("#f{i} = :f{i}"));
        }
        for (i, attr) in spec.exists.iter().enumerate() {
            names.insert(format!("#e{i}"), (*attr).to_owned());
            filter.push(format!("attribute_exists(#e{i})"));
        }
        let doing = format!(
            "scan the {} table",
            match self.kind {
                TableKind::Comments => "comments",
                TableKind::Campaigns => "campaigns",
            }
        );
        let mut out = ScanEnd::default();
        let mut start = None;
        loop {
            let remaining = spec.max_scan.saturating_sub(out.scanned);
            let page_limit = i32::try_from(remaining.min(1000)).unwrap_or(1000);
            let mut request = self
                .client
                .scan()
                .table_name(&self.name)
                .set_exclusive_start_key(start.take())
                .limit(page_limit);
            if !projection.is_empty() {
                request = request.projection_expression(projection.join(", "));
            }
            if !names.is_empty() {
                request = request.set_expression_attribute_names(Some(names.clone()));
            }
            if !filter.is_empty() {
                request = request.filter_expression(filter.join(" AND "));
            }
            if !values.is_empty() {
                request = request.set_expression_attribute_values(Some(values.clone()));
            }
            let page = request.send().await.map_err(|e| self.failure(&doing, e))?;
            let read = u64::try_from(page.scanned_count()).unwrap_or(0);
            out.scanned += read;
            progress.inc(read);
            for item in page.items.unwrap_or_default() {
                each(item);
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => {
                    if out.scanned >= spec.max_scan {
                        out.truncated = true;
                        return Ok(out);
                    }
                    start = Some(key);
                }
                _ => return Ok(out),
            }
        }
    }

    /// The item, read with strong consistency.
    pub async fn get(&self, comment_id: &str) -> Result<Option<Item>, Failure> {
        self.comments()
            .get(comment_id)
            .await
            .map_err(|e| self.store_failure("read the comment", e))
    }

    pub fn not_found(&self, comment_id: &str) -> Failure {
        Failure::new(format!("no comment {comment_id} in {}", self.location())).hint(
            "check the comment ID (`replyctl list` shows recent ones) and that TABLE_NAME / --table and the endpoint \
             point at the right table",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_table_says_which_variable_names_it() {
        let hint = hint_for(
            Some("ResourceNotFoundException"),
            "",
            "comments",
            None,
            TableKind::Comments,
        )
        .unwrap_or_default();
        assert!(hint.contains("TABLE_NAME"));
        let hint = hint_for(
            Some("ResourceNotFoundException"),
            "",
            "campaigns",
            None,
            TableKind::Campaigns,
        )
        .unwrap_or_default();
        assert!(hint.contains("CAMPAIGNS_TABLE_NAME") && hint.contains("--campaigns-table"));
    }

    #[test]
    fn missing_credentials_point_at_aws_profile_and_the_local_endpoint() {
        let hint = hint_for(
            None,
            "dispatch failure: no credentials in the property bag",
            "t",
            None,
            TableKind::Comments,
        )
        .unwrap_or_default();
        assert!(hint.contains("AWS_PROFILE") && hint.contains("--endpoint http://127.0.0.1:8000"));
    }

    #[test]
    fn an_unreachable_local_endpoint_asks_whether_the_local_stack_runs() {
        let hint = hint_for(
            None,
            "io error: connection refused",
            "t",
            Some("http://127.0.0.1:8000"),
            TableKind::Comments,
        )
        .unwrap_or_default();
        assert!(hint.contains("cargo run -p local-stack"));
    }
}
