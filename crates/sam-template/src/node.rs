//! A YAML value together with its path in the template.
//!
//! Why: every reader of the template needs the same few steps (a field of a mapping, the items of a list,
//! a string, an integer, a boolean), and each must fail naming the value it could not read
//! (`Resources.CommentsTable.Properties.KeySchema[0].KeyType: expected a string, found a list`), not with
//! a bare "invalid type". The strict readers return such errors; `get`, `find` and the `as_*` readers
//! answer `None` instead, for checks that report a missing or unexpected value in their own words.
//!
//! Nothing looks through a CloudFormation tag: `!Ref X` is not the string `X`. Where a literal is needed,
//! the error says which intrinsic was found instead.

use anyhow::{Context as _, Result, bail, ensure};
use serde_yaml_ng::{Mapping, Value};

use crate::intrinsic::Intrinsic;

/// A value of the template and where it is (`Resources.CommentsTable.Properties`; empty for the root).
#[derive(Debug, Clone)]
pub struct Node<'a> {
    value: &'a Value,
    path: String,
}

impl<'a> Node<'a> {
    /// `value`, found at `path` (dotted keys and `[index]`es; empty for the template itself).
    pub fn new(value: &'a Value, path: impl Into<String>) -> Self {
        Self {
            value,
            path: path.into(),
        }
    }

    /// The YAML value, tags kept.
    pub fn value(&self) -> &'a Value {
        self.value
    }

    /// Where the value is, as errors name it: `the template` for the root.
    pub fn path(&self) -> &str {
        if self.path.is_empty() {
            "the template"
        } else {
            &self.path
        }
    }

    /// The node of `value` found under `key` of this one.
    pub(crate) fn child(&self, key: &str, value: &'a Value) -> Node<'a> {
        let path = if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        };
        Node::new(value, path)
    }

    fn mapping(&self) -> Result<&'a Mapping> {
        match self.value {
            Value::Mapping(mapping) => Ok(mapping),
            other => bail!(
                "{}: expected a mapping, found {}",
                self.path(),
                describe(other)
            ),
        }
    }

    /// The value of `key`, or `None` if the mapping has no such key. Fails if this is not a mapping.
    pub fn optional(&self, key: &str) -> Result<Option<Node<'a>>> {
        Ok(self.mapping()?.get(key).map(|value| self.child(key, value)))
    }

    /// The value of `key`. Fails if this is not a mapping or has no such key.
    pub fn field(&self, key: &str) -> Result<Node<'a>> {
        self.optional(key)?
            .with_context(|| format!("{} has no {key}", self.path()))
    }

    /// Lenient [`Node::field`]: `None` when this is not a mapping or has no such key.
    pub fn get(&self, key: &str) -> Option<Node<'a>> {
        self.optional(key).ok().flatten()
    }

    /// Lenient lookup of nested keys (`["Properties", "Events"]`): `None` as soon as a step is missing.
    pub fn find(&self, keys: &[&str]) -> Option<Node<'a>> {
        keys.iter()
            .try_fold(self.clone(), |node, key| node.get(key))
    }

    /// The keys of a mapping, in template order. Fails if this is not a mapping or a key is not a string.
    pub fn keys(&self) -> Result<Vec<&'a str>> {
        Ok(self.entries()?.into_iter().map(|(key, _)| key).collect())
    }

    /// The entries of a mapping, in template order, each value with its path.
    pub fn entries(&self) -> Result<Vec<(&'a str, Node<'a>)>> {
        self.mapping()?
            .iter()
            .map(|(key, value)| match key {
                Value::String(key) => Ok((key.as_str(), self.child(key, value))),
                other => bail!(
                    "{}: a key is {}, not a string",
                    self.path(),
                    describe(other)
                ),
            })
            .collect()
    }

    /// The items of a list, each with its path (`...KeySchema[0]`). Fails if this is not a list.
    pub fn items(&self) -> Result<Vec<Node<'a>>> {
        match self.value {
            Value::Sequence(items) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, item)| Node::new(item, format!("{}[{i}]", self.path())))
                .collect()),
            other => bail!(
                "{}: expected a list, found {}",
                self.path(),
                describe(other)
            ),
        }
    }

    /// The items of a list, or this value alone when it is not a list (IAM's `Action: x` or `[x, y]`).
    pub fn one_or_many(&self) -> Vec<Node<'a>> {
        self.items().unwrap_or_else(|_| vec![self.clone()])
    }

    /// A literal string. Fails on anything else, naming what was found (`a !Ref intrinsic function`).
    pub fn str(&self) -> Result<&'a str> {
        match self.value {
            Value::String(text) => Ok(text),
            other => bail!(
                "{}: expected a string, found {}",
                self.path(),
                describe(other)
            ),
        }
    }

    /// A literal integer: a YAML number or a string holding one (CloudFormation accepts both).
    pub fn integer(&self) -> Result<i64> {
        let at = self.path();
        match self.value {
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

    /// A literal boolean: `true`/`false`, or a string saying so in any case (CloudFormation accepts both).
    pub fn boolean(&self) -> Result<bool> {
        match self.value {
            Value::Bool(flag) => Ok(*flag),
            Value::String(text) if text.eq_ignore_ascii_case("true") => Ok(true),
            Value::String(text) if text.eq_ignore_ascii_case("false") => Ok(false),
            other => bail!(
                "{}: expected true or false, found {}",
                self.path(),
                describe(other)
            ),
        }
    }

    /// A literal string that must be one of `allowed`.
    pub fn one_of(&self, allowed: &[&str]) -> Result<&'a str> {
        let value = self.str()?;
        ensure!(
            allowed.contains(&value),
            "{}: {value:?} is not one of {allowed:?}",
            self.path()
        );
        Ok(value)
    }

    /// Lenient [`Node::str`]: the literal string, or `None`.
    pub fn as_str(&self) -> Option<&'a str> {
        self.str().ok()
    }

    /// Lenient [`Node::integer`]: the literal integer, or `None`.
    pub fn as_integer(&self) -> Option<i64> {
        self.integer().ok()
    }

    /// Whether this is literally true (`true`, or a string saying so); anything else is not.
    pub fn is_true(&self) -> bool {
        self.boolean().unwrap_or(false)
    }
}

/// What a value is, for error messages: `the string "x"`, `a list`, `a !Ref intrinsic function ...`.
pub(crate) fn describe(value: &Value) -> String {
    if let Some(intrinsic) = Intrinsic::of(&Node::new(value, "")) {
        return format!(
            "a !{} intrinsic function (a literal value is needed here)",
            intrinsic.name()
        );
    }
    match value {
        Value::Null => "nothing".to_owned(),
        Value::Bool(flag) => format!("the boolean {flag}"),
        Value::Number(number) => format!("the number {number}"),
        Value::String(text) => format!("the string {text:?}"),
        Value::Sequence(_) => "a list".to_owned(),
        Value::Mapping(_) => "a mapping".to_owned(),
        Value::Tagged(tagged) => format!("a value tagged {}", tagged.tag),
    }
}
