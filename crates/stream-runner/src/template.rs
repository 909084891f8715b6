//! The event source mapping as `template.yaml` declares it.
//!
//! The deployed replier is triggered by the `CommentStream` event of the `ReplierFunction` resource; the
//! local runner reads the same properties, so batching, retries and filtering cannot drift between
//! what we test and what we deploy. The template is read by `sam-template`, the workspace's one reader of
//! it: CloudFormation short tags (`!GetAtt`, `!Ref`, ...) may appear anywhere, but the properties read
//! here must be literals.
//!
//! A property that is neither read nor deliberately skipped is an error (for example
//! `ParallelizationFactor` or `TumblingWindowInSeconds`, which the runner does not implement), so that
//! a template change the runner would silently ignore fails the tests instead.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use sam_template::{Node, Template};

use crate::filter::FilterPattern;

/// The logical id of the function whose stream event the runner plays.
pub const REPLIER_FUNCTION_RESOURCE: &str = "ReplierFunction";
/// The name of its DynamoDB stream event.
pub const COMMENT_STREAM_EVENT: &str = "CommentStream";

/// Event properties the runner reads.
const READ_PROPERTIES: &[&str] = &[
    "StartingPosition",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "FunctionResponseTypes",
    "FilterCriteria",
];
/// Event properties that do not change what the runner does: the stream is given to the runner, and
/// the on-failure destination is played by the in-memory dead letters.
const SKIPPED_PROPERTIES: &[&str] = &[
    "Stream",
    "Enabled",
    "DestinationConfig",
    "MetricsConfig",
    "KmsKeyArn",
];

/// Where a new mapping starts reading each shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartingPosition {
    /// Every record still in the stream.
    #[default]
    TrimHorizon,
    /// Only records written after the runner started.
    Latest,
}

/// The event source mapping settings the runner implements.
///
/// [`Default`] is what `template.yaml` declares today (batch 25, 1 s window, bisect, 10 retries, 1 day
/// record age, partial batch responses, TRIM_HORIZON) without its filter; use
/// [`EventSourceSettings::from_template`] to follow the template itself.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSourceSettings {
    /// `StartingPosition`.
    pub starting_position: StartingPosition,
    /// `BatchSize`: at most this many records per invocation.
    pub batch_size: usize,
    /// `MaximumBatchingWindowInSeconds`: how long to gather records before invoking.
    pub batching_window: Duration,
    /// `BisectBatchOnFunctionError`.
    pub bisect_batch_on_function_error: bool,
    /// `MaximumRetryAttempts`; `None` is Lambda's -1, retry until the records expire.
    pub maximum_retry_attempts: Option<u32>,
    /// `MaximumRecordAgeInSeconds`; `None` is Lambda's -1, that is the stream's 24 hour retention.
    pub maximum_record_age: Option<Duration>,
    /// `FunctionResponseTypes` contains `ReportBatchItemFailures`.
    pub report_batch_item_failures: bool,
    /// `FilterCriteria.Filters[].Pattern`, OR-ed; empty delivers everything.
    pub filters: Vec<FilterPattern>,
}

impl Default for EventSourceSettings {
    fn default() -> Self {
        Self {
            starting_position: StartingPosition::TrimHorizon,
            batch_size: 25,
            batching_window: Duration::from_secs(1),
            bisect_batch_on_function_error: true,
            maximum_retry_attempts: Some(10),
            maximum_record_age: Some(Duration::from_secs(86_400)),
            report_batch_item_failures: true,
            filters: Vec::new(),
        }
    }
}

impl EventSourceSettings {
    /// The settings of `ReplierFunction`'s `CommentStream` event in the template at `template_path`.
    pub fn from_template(template_path: impl AsRef<Path>) -> Result<Self> {
        let path = template_path.as_ref();
        Self::from_parsed(
            &Template::load(path)?,
            REPLIER_FUNCTION_RESOURCE,
            COMMENT_STREAM_EVENT,
        )
        .with_context(|| format!("in {}", path.display()))
    }

    /// The settings of the DynamoDB event `event` of the serverless function `function` in a template.
    ///
    /// Properties the template leaves out take Lambda's own defaults (batch size 100, no batching
    /// window, no bisecting, infinite retries and record age, no partial batch responses).
    pub fn from_template_str(yaml: &str, function: &str, event: &str) -> Result<Self> {
        Self::from_parsed(&Template::parse(yaml)?, function, event)
    }

    /// [`EventSourceSettings::from_template_str`] for a template already parsed.
    pub fn from_parsed(template: &Template, function: &str, event: &str) -> Result<Self> {
        let properties = template.stream_event(function, event)?;
        let at = properties.path();
        for key in properties.keys()? {
            ensure!(
                READ_PROPERTIES.contains(&key) || SKIPPED_PROPERTIES.contains(&key),
                "{at}.{key} is not understood by stream-runner; teach crates/stream-runner/src/template.rs \
                 about it so the local runner keeps behaving like the deployed mapping"
            );
        }
        let get = |key: &str| properties.optional(key);

        let starting_position = match get("StartingPosition")? {
            Some(value) => match value.str()? {
                "TRIM_HORIZON" => StartingPosition::TrimHorizon,
                "LATEST" => StartingPosition::Latest,
                other => bail!(
                    "{at}.StartingPosition {other:?} is not supported (TRIM_HORIZON or LATEST)"
                ),
            },
            None => bail!("{at} has no StartingPosition (required for DynamoDB streams)"),
        };
        let batch_size = match get("BatchSize")? {
            Some(value) => value.integer()?,
            None => 100,
        };
        ensure!(
            (1..=10_000).contains(&batch_size),
            "{at}.BatchSize must be between 1 and 10000, found {batch_size}"
        );
        let batching_window = match get("MaximumBatchingWindowInSeconds")? {
            Some(value) => {
                let seconds = value.integer()?;
                ensure!(
                    (0..=300).contains(&seconds),
                    "{} must be between 0 and 300",
                    value.path()
                );
                Duration::from_secs(seconds.unsigned_abs())
            }
            None => Duration::ZERO,
        };
        let bisect_batch_on_function_error = match get("BisectBatchOnFunctionError")? {
            Some(value) => value.boolean()?,
            None => false,
        };
        let maximum_retry_attempts = match get("MaximumRetryAttempts")? {
            Some(value) => match value.integer()? {
                -1 => None,
                n => Some(
                    u32::try_from(n)
                        .with_context(|| format!("{}: {n} is invalid", value.path()))?,
                ),
            },
            None => None,
        };
        let maximum_record_age = match get("MaximumRecordAgeInSeconds")? {
            Some(value) => match value.integer()? {
                -1 => None,
                n => Some(Duration::from_secs(
                    u64::try_from(n)
                        .with_context(|| format!("{}: {n} is invalid", value.path()))?,
                )),
            },
            None => None,
        };
        let report_batch_item_failures = match get("FunctionResponseTypes")? {
            Some(value) => {
                let mut report = false;
                for item in value.items()? {
                    match item.str()? {
                        "ReportBatchItemFailures" => report = true,
                        other => bail!("{}: unknown response type {other:?}", value.path()),
                    }
                }
                report
            }
            None => false,
        };
        let filters = match get("FilterCriteria")? {
            Some(criteria) => filters_from(&criteria)?,
            None => Vec::new(),
        };
        Ok(Self {
            starting_position,
            batch_size: usize::try_from(batch_size).context("BatchSize")?,
            batching_window,
            bisect_batch_on_function_error,
            maximum_retry_attempts,
            maximum_record_age,
            report_batch_item_failures,
            filters,
        })
    }
}

/// The filter patterns of `ReplierFunction`'s `CommentStream` event in the template at
/// `template_path` (`FilterCriteria.Filters[].Pattern`); empty if the event has no filter criteria.
pub fn load_filters(template_path: impl AsRef<Path>) -> Result<Vec<FilterPattern>> {
    let path = template_path.as_ref();
    filters_from_template(
        &Template::load(path)?,
        REPLIER_FUNCTION_RESOURCE,
        COMMENT_STREAM_EVENT,
    )
    .with_context(|| format!("in {}", path.display()))
}

/// The filter patterns of the event `event` of the function `function` in a template.
pub fn filters_from_template_str(
    yaml: &str,
    function: &str,
    event: &str,
) -> Result<Vec<FilterPattern>> {
    filters_from_template(&Template::parse(yaml)?, function, event)
}

fn filters_from_template(
    template: &Template,
    function: &str,
    event: &str,
) -> Result<Vec<FilterPattern>> {
    match template
        .stream_event(function, event)?
        .optional("FilterCriteria")?
    {
        Some(criteria) => filters_from(&criteria),
        None => Ok(Vec::new()),
    }
}

/// `FilterCriteria.Filters[].Pattern`.
fn filters_from(criteria: &Node<'_>) -> Result<Vec<FilterPattern>> {
    let Some(filters) = criteria.optional("Filters")? else {
        return Ok(Vec::new());
    };
    filters
        .items()?
        .iter()
        .map(|filter| {
            let pattern = filter.field("Pattern")?;
            FilterPattern::parse(pattern.str()?).with_context(|| pattern.path().to_owned())
        })
        .collect()
}
