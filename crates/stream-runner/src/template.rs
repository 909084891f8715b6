//! The event source mapping as `template.yaml` declares it.
//!
//! The deployed replier is triggered by the `CommentStream` event of the `ReplierFunction` resource; the
//! local runner reads the same properties, so batching, retries and filtering cannot drift between
//! what we test and what we deploy. The template is parsed as a YAML value that keeps CloudFormation
//! short tags (`!GetAtt`, `!Ref`, ...) as tagged values: they may appear anywhere, but the properties
//! read here must be literals.
//!
//! A property that is neither read nor deliberately skipped is an error (for example
//! `ParallelizationFactor` or `TumblingWindowInSeconds`, which the runner does not implement), so that
//! a template change the runner would silently ignore fails the tests instead.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use serde_yaml_ng::Value;

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
        let yaml = read(path)?;
        Self::from_template_str(&yaml, REPLIER_FUNCTION_RESOURCE, COMMENT_STREAM_EVENT)
            .with_context(|| format!("in {}", path.display()))
    }

    /// The settings of the DynamoDB event `event` of the serverless function `function` in a template.
    ///
    /// Properties the template leaves out take Lambda's own defaults (batch size 100, no batching
    /// window, no bisecting, infinite retries and record age, no partial batch responses).
    pub fn from_template_str(yaml: &str, function: &str, event: &str) -> Result<Self> {
        let template = parse(yaml)?;
        let (properties, at) = event_properties(&template, function, event)?;
        for key in mapping(properties, &at)?.keys() {
            let key = string(key, &at)?;
            ensure!(
                READ_PROPERTIES.contains(&key) || SKIPPED_PROPERTIES.contains(&key),
                "{at}.{key} is not understood by stream-runner; teach crates/stream-runner/src/template.rs \
                 about it so the local runner keeps behaving like the deployed mapping"
            );
        }
        let get = |key: &str| mapping(properties, &at).map(|fields| fields.get(key));

        let starting_position = match get("StartingPosition")? {
            Some(value) => match string(value, &format!("{at}.StartingPosition"))? {
                "TRIM_HORIZON" => StartingPosition::TrimHorizon,
                "LATEST" => StartingPosition::Latest,
                other => bail!(
                    "{at}.StartingPosition {other:?} is not supported (TRIM_HORIZON or LATEST)"
                ),
            },
            None => bail!("{at} has no StartingPosition (required for DynamoDB streams)"),
        };
        let batch_size = match get("BatchSize")? {
            Some(value) => integer(value, &format!("{at}.BatchSize"))?,
            None => 100,
        };
        ensure!(
            (1..=10_000).contains(&batch_size),
            "{at}.BatchSize must be between 1 and 10000, found {batch_size}"
        );
        let batching_window = match get("MaximumBatchingWindowInSeconds")? {
            Some(value) => {
                let at = format!("{at}.MaximumBatchingWindowInSeconds");
                let seconds = integer(value, &at)?;
                ensure!(
                    (0..=300).contains(&seconds),
                    "{at} must be between 0 and 300"
                );
                Duration::from_secs(seconds.unsigned_abs())
            }
            None => Duration::ZERO,
        };
        let bisect_batch_on_function_error = match get("BisectBatchOnFunctionError")? {
            Some(value) => boolean(value, &format!("{at}.BisectBatchOnFunctionError"))?,
            None => false,
        };
        let maximum_retry_attempts = match get("MaximumRetryAttempts")? {
            Some(value) => {
                let at = format!("{at}.MaximumRetryAttempts");
                match integer(value, &at)? {
                    -1 => None,
                    n => Some(u32::try_from(n).with_context(|| format!("{at}: {n} is invalid"))?),
                }
            }
            None => None,
        };
        let maximum_record_age = match get("MaximumRecordAgeInSeconds")? {
            Some(value) => {
                let at = format!("{at}.MaximumRecordAgeInSeconds");
                match integer(value, &at)? {
                    -1 => None,
                    n => Some(Duration::from_secs(
                        u64::try_from(n).with_context(|| format!("{at}: {n} is invalid"))?,
                    )),
                }
            }
            None => None,
        };
        let report_batch_item_failures = match get("FunctionResponseTypes")? {
            Some(value) => {
                let at = format!("{at}.FunctionResponseTypes");
                let mut report = false;
                for item in sequence(value, &at)? {
                    match string(item, &at)? {
                        "ReportBatchItemFailures" => report = true,
                        other => bail!("{at}: unknown response type {other:?}"),
                    }
                }
                report
            }
            None => false,
        };
        let filters = match get("FilterCriteria")? {
            Some(criteria) => filters_from(criteria, &format!("{at}.FilterCriteria"))?,
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
    let yaml = read(path)?;
    filters_from_template_str(&yaml, REPLIER_FUNCTION_RESOURCE, COMMENT_STREAM_EVENT)
        .with_context(|| format!("in {}", path.display()))
}

/// The filter patterns of the event `event` of the function `function` in a template.
pub fn filters_from_template_str(
    yaml: &str,
    function: &str,
    event: &str,
) -> Result<Vec<FilterPattern>> {
    let template = parse(yaml)?;
    let (properties, at) = event_properties(&template, function, event)?;
    match mapping(properties, &at)?.get("FilterCriteria") {
        Some(criteria) => filters_from(criteria, &format!("{at}.FilterCriteria")),
        None => Ok(Vec::new()),
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn parse(yaml: &str) -> Result<Value> {
    serde_yaml_ng::from_str(yaml).context("parsing the template as YAML")
}

/// `Resources.<function>.Properties.Events.<event>.Properties`, checking the event is a DynamoDB one.
fn event_properties<'a>(
    template: &'a Value,
    function: &str,
    event: &str,
) -> Result<(&'a Value, String)> {
    let resources = field(template, "Resources", "the template")?;
    let at = format!("Resources.{function}");
    let resource = field(resources, function, "Resources")?;
    let properties = field(resource, "Properties", &at)?;
    let at = format!("{at}.Properties");
    let events = field(properties, "Events", &at)?;
    let at = format!("{at}.Events");
    let event_value = field(events, event, &at)?;
    let at = format!("{at}.{event}");
    let ty = string(field(event_value, "Type", &at)?, &format!("{at}.Type"))?;
    ensure!(ty == "DynamoDB", "{at} is a {ty} event, not a DynamoDB one");
    let properties = field(event_value, "Properties", &at)?;
    Ok((properties, format!("{at}.Properties")))
}

fn filters_from(criteria: &Value, at: &str) -> Result<Vec<FilterPattern>> {
    let Some(filters) = mapping(criteria, at)?.get("Filters") else {
        return Ok(Vec::new());
    };
    let at = format!("{at}.Filters");
    sequence(filters, &at)?
        .iter()
        .enumerate()
        .map(|(i, filter)| {
            let at = format!("{at}[{i}]");
            let pattern = string(field(filter, "Pattern", &at)?, &format!("{at}.Pattern"))?;
            FilterPattern::parse(pattern).with_context(|| format!("{at}.Pattern"))
        })
        .collect()
}

fn mapping<'a>(value: &'a Value, at: &str) -> Result<&'a serde_yaml_ng::Mapping> {
    match value {
        Value::Mapping(mapping) => Ok(mapping),
        other => bail!("{at}: expected a mapping, found {}", describe(other)),
    }
}

fn field<'a>(value: &'a Value, key: &str, at: &str) -> Result<&'a Value> {
    mapping(value, at)?
        .get(key)
        .with_context(|| format!("{at} has no {key}"))
}

fn sequence<'a>(value: &'a Value, at: &str) -> Result<&'a [Value]> {
    match value {
        Value::Sequence(items) => Ok(items),
        other => bail!("{at}: expected a list, found {}", describe(other)),
    }
}

fn string<'a>(value: &'a Value, at: &str) -> Result<&'a str> {
    match value {
        Value::String(text) => Ok(text),
        other => bail!("{at}: expected a plain string, found {}", describe(other)),
    }
}

fn integer(value: &Value, at: &str) -> Result<i64> {
    match value {
        Value::Number(number) => number
            .as_i64()
            .with_context(|| format!("{at}: expected an integer, found {number}")),
        Value::String(text) => text
            .trim()
            .parse()
            .with_context(|| format!("{at}: expected an integer, found {text:?}")),
        other => bail!("{at}: expected an integer, found {}", describe(other)),
    }
}

fn boolean(value: &Value, at: &str) -> Result<bool> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::String(text) if text.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") => Ok(false),
        other => bail!("{at}: expected true or false, found {}", describe(other)),
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".to_owned(),
        Value::Bool(flag) => format!("the boolean {flag}"),
        Value::Number(number) => format!("the number {number}"),
        Value::String(text) => format!("the string {text:?}"),
        Value::Sequence(_) => "a list".to_owned(),
        Value::Mapping(_) => "a mapping".to_owned(),
        Value::Tagged(tagged) => format!(
            "a {} intrinsic function (stream-runner needs a literal value here)",
            tagged.tag
        ),
    }
}
