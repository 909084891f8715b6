//! Lambda's event filtering, for the subset of the pattern language this project needs.
//!
//! Lambda drops stream records that match none of an event source mapping's filters before they cost an
//! invocation (and never delivers them). A filter pattern is a JSON object that mirrors the record's
//! shape (the record as Lambda delivers it: `eventName`, `dynamodb.NewImage...`); its leaves are arrays
//! of allowed values or matchers. The semantics follow EventBridge patterns, which Lambda uses:
//!
//! - the record is seen as a set of leaf paths (`dynamodb.NewImage.status.S`); arrays are flattened, so
//!   a path matches if any element of an array on the way matches;
//! - a leaf `[v1, v2, ...]` matches if the record's value at that path equals one of the values:
//!   strings match strings only, numbers match numbers only (numerically: `5` matches `5.0`, but never
//!   the string `"5"`, so a DynamoDB number `{"N": "5"}` is matched by `{"N": ["5"]}`), `true`/`false`
//!   and `null` match themselves;
//! - matchers: `{"exists": true|false}`, `{"prefix": "..."}`, `{"suffix": "..."}`,
//!   `{"equals-ignore-case": "..."}`, `{"anything-but": value | [values] | {"prefix": "..."}}` and
//!   `{"numeric": [">", 0, "<=", 5]}`;
//! - every leaf path of a pattern must match (AND); the filters of one mapping are OR-ed.
//!
//! Deliberately not implemented: `$or`, `cidr`, `wildcard`, and the "array consistency" rule (when
//! two paths run through the same array of objects, EventBridge requires them to match in the same
//! element; we accept any elements). A pattern using an unknown matcher is rejected when it is parsed,
//! so the template can never silently use something this runner would misread.

use std::fmt;

use anyhow::{Context as _, Result, bail, ensure};
use serde_json::Value;

/// One filter pattern (`FilterCriteria.Filters[].Pattern`).
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPattern {
    source: String,
    leaves: Vec<Leaf>,
}

#[derive(Debug, Clone, PartialEq)]
struct Leaf {
    path: Vec<String>,
    matchers: Vec<Matcher>,
}

#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    Equals(Scalar),
    Exists(bool),
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(String),
    AnythingBut(Vec<Scalar>),
    AnythingButPrefix(String),
    Numeric(Vec<(Comparison, f64)>),
}

#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    String(String),
    Number(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Less,
    LessOrEqual,
    Equal,
    GreaterOrEqual,
    Greater,
}

impl FilterPattern {
    /// Parses a pattern from its JSON text, as written in `FilterCriteria.Filters[].Pattern`.
    pub fn parse(json: &str) -> Result<Self> {
        let value: Value =
            serde_json::from_str(json).context("filter pattern is not valid JSON")?;
        Self::from_value(&value)
    }

    /// Parses a pattern from a JSON value.
    pub fn from_value(pattern: &Value) -> Result<Self> {
        let Value::Object(fields) = pattern else {
            bail!("a filter pattern must be a JSON object");
        };
        let mut leaves = Vec::new();
        collect_leaves(fields, &mut Vec::new(), &mut leaves)?;
        Ok(Self {
            source: pattern.to_string(),
            leaves,
        })
    }

    /// The pattern as compact JSON.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether `record` (one stream record in Lambda's JSON form) matches this pattern.
    pub fn matches(&self, record: &Value) -> bool {
        self.leaves.iter().all(|leaf| {
            let mut values = Vec::new();
            values_at(record, &leaf.path, &mut values);
            leaf.matchers.iter().any(|matcher| matcher.matches(&values))
        })
    }
}

impl fmt::Display for FilterPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Whether Lambda would deliver `record` under `filters`: no filters means everything is delivered,
/// otherwise at least one filter must match.
pub fn matches_any(filters: &[FilterPattern], record: &Value) -> bool {
    filters.is_empty() || filters.iter().any(|filter| filter.matches(record))
}

fn collect_leaves(
    fields: &serde_json::Map<String, Value>,
    path: &mut Vec<String>,
    out: &mut Vec<Leaf>,
) -> Result<()> {
    for (key, value) in fields {
        ensure!(
            !key.starts_with('$'),
            "filter pattern operator {key:?} is not supported by stream-runner"
        );
        path.push(key.clone());
        match value {
            Value::Object(children) => collect_leaves(children, path, out)?,
            Value::Array(items) => {
                let at = path.join(".");
                ensure!(
                    !items.is_empty(),
                    "filter pattern: {at} has an empty list of values"
                );
                let matchers = items
                    .iter()
                    .map(|item| {
                        Matcher::parse(item).with_context(|| format!("filter pattern: {at}"))
                    })
                    .collect::<Result<Vec<_>>>()?;
                out.push(Leaf {
                    path: path.clone(),
                    matchers,
                });
            }
            other => bail!(
                "filter pattern: {} must be an object or a list of values, found {other}",
                path.join(".")
            ),
        }
        path.pop();
    }
    Ok(())
}

/// The leaf values of `value` at `path`; arrays (on the way or at the end) are flattened.
fn values_at<'a>(value: &'a Value, path: &[String], out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => {
            for item in items {
                values_at(item, path, out);
            }
        }
        Value::Object(fields) => {
            if let Some((first, rest)) = path.split_first()
                && let Some(child) = fields.get(first)
            {
                values_at(child, rest, out);
            }
            // A path that ends on an object reaches no leaf.
        }
        scalar => {
            if path.is_empty() {
                out.push(scalar);
            }
        }
    }
}

impl Matcher {
    fn parse(item: &Value) -> Result<Self> {
        let Value::Object(fields) = item else {
            return Ok(Self::Equals(Scalar::parse(item)?));
        };
        ensure!(
            fields.len() == 1,
            "a matcher object must have exactly one key, found {item}"
        );
        let Some((name, argument)) = fields.iter().next() else {
            bail!("empty matcher object");
        };
        Ok(match name.as_str() {
            "exists" => match argument {
                Value::Bool(flag) => Self::Exists(*flag),
                other => bail!("\"exists\" takes true or false, found {other}"),
            },
            "prefix" => Self::Prefix(string_argument(name, argument)?),
            "suffix" => Self::Suffix(string_argument(name, argument)?),
            "equals-ignore-case" => Self::EqualsIgnoreCase(string_argument(name, argument)?),
            "anything-but" => match argument {
                Value::Array(values) => {
                    ensure!(!values.is_empty(), "\"anything-but\" has an empty list");
                    Self::AnythingBut(values.iter().map(Scalar::parse).collect::<Result<_>>()?)
                }
                Value::Object(inner) => match inner.iter().next() {
                    Some((key, prefix)) if key == "prefix" && inner.len() == 1 => {
                        Self::AnythingButPrefix(string_argument("anything-but prefix", prefix)?)
                    }
                    _ => bail!(
                        "\"anything-but\" supports only a value, a list of values or {{\"prefix\": ...}}, found {argument}"
                    ),
                },
                scalar => Self::AnythingBut(vec![Scalar::parse(scalar)?]),
            },
            "numeric" => Self::Numeric(numeric_argument(argument)?),
            other => bail!("matcher {other:?} is not supported by stream-runner"),
        })
    }

    /// Whether this matcher accepts a path whose leaf values are `values` (empty: the path is absent).
    fn matches(&self, values: &[&Value]) -> bool {
        match self {
            Self::Exists(should_exist) => values.is_empty() != *should_exist,
            Self::AnythingBut(excluded) => values
                .iter()
                .any(|value| !excluded.iter().any(|scalar| scalar.equals(value))),
            Self::AnythingButPrefix(prefix) => values.iter().any(|value| match value {
                Value::String(text) => !text.starts_with(prefix.as_str()),
                _ => true,
            }),
            Self::Equals(scalar) => values.iter().any(|value| scalar.equals(value)),
            Self::Prefix(prefix) => values.iter().any(|value| {
                value
                    .as_str()
                    .is_some_and(|text| text.starts_with(prefix.as_str()))
            }),
            Self::Suffix(suffix) => values.iter().any(|value| {
                value
                    .as_str()
                    .is_some_and(|text| text.ends_with(suffix.as_str()))
            }),
            Self::EqualsIgnoreCase(expected) => values.iter().any(|value| {
                value
                    .as_str()
                    .is_some_and(|text| text.to_lowercase() == expected.to_lowercase())
            }),
            Self::Numeric(conditions) => values.iter().any(|value| {
                value.as_f64().is_some_and(|number| {
                    conditions
                        .iter()
                        .all(|(comparison, bound)| comparison.holds(number, *bound))
                })
            }),
        }
    }
}

impl Scalar {
    fn parse(value: &Value) -> Result<Self> {
        Ok(match value {
            Value::String(text) => Self::String(text.clone()),
            Value::Number(number) => Self::Number(
                number
                    .as_f64()
                    .with_context(|| format!("number {number} out of range"))?,
            ),
            Value::Bool(flag) => Self::Bool(*flag),
            Value::Null => Self::Null,
            other => bail!("expected a string, number, boolean or null, found {other}"),
        })
    }

    fn equals(&self, value: &Value) -> bool {
        match (self, value) {
            (Self::String(expected), Value::String(actual)) => expected == actual,
            (Self::Number(expected), Value::Number(actual)) => actual.as_f64() == Some(*expected),
            (Self::Bool(expected), Value::Bool(actual)) => expected == actual,
            (Self::Null, Value::Null) => true,
            _ => false,
        }
    }
}

impl Comparison {
    fn parse(operator: &str) -> Result<Self> {
        Ok(match operator {
            "<" => Self::Less,
            "<=" => Self::LessOrEqual,
            "=" => Self::Equal,
            ">=" => Self::GreaterOrEqual,
            ">" => Self::Greater,
            other => bail!("unknown numeric operator {other:?}"),
        })
    }

    fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Self::Less => value < bound,
            Self::LessOrEqual => value <= bound,
            Self::Equal => value == bound,
            Self::GreaterOrEqual => value >= bound,
            Self::Greater => value > bound,
        }
    }
}

fn string_argument(name: &str, argument: &Value) -> Result<String> {
    match argument {
        Value::String(text) => Ok(text.clone()),
        other => bail!("{name:?} takes a string, found {other}"),
    }
}

fn numeric_argument(argument: &Value) -> Result<Vec<(Comparison, f64)>> {
    let Value::Array(items) = argument else {
        bail!("\"numeric\" takes a list like [\">\", 0, \"<=\", 5], found {argument}");
    };
    ensure!(
        !items.is_empty() && items.len().is_multiple_of(2),
        "\"numeric\" takes operator/number pairs, found {argument}"
    );
    items
        .chunks(2)
        .map(|pair| match pair {
            [Value::String(operator), Value::Number(bound)] => Ok((
                Comparison::parse(operator)?,
                bound
                    .as_f64()
                    .with_context(|| format!("number {bound} out of range"))?,
            )),
            _ => bail!("\"numeric\" takes operator/number pairs, found {argument}"),
        })
        .collect()
}
