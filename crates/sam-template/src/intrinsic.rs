//! CloudFormation intrinsic functions, in both forms: short (`!Ref X`, `!GetAtt A.B`, `!Sub "..."`) and
//! long (`{"Ref": "X"}`, `{"Fn::GetAtt": ["A", "B"]}`, `{"Fn::Sub": "..."}`).
//!
//! Why: the template is read without being resolved, so checks that follow a reference (a function's
//! role, the table an environment variable names, the resource of an IAM grant) must recognise it however
//! it is written. YAML keeps the short form as a tagged value; the long form is a one-key mapping.

use serde_yaml_ng::Value;

use crate::node::Node;

/// An intrinsic function call: its name without `!` or `Fn::` (`Ref`, `GetAtt`, `Sub`, `If`, ...) and its
/// argument.
#[derive(Debug, Clone)]
pub struct Intrinsic<'a> {
    name: String,
    argument: Node<'a>,
}

impl<'a> Intrinsic<'a> {
    /// The intrinsic `node` is, in either form; `None` for any other value. Every tag is taken as one
    /// (CloudFormation defines no other YAML tags).
    pub fn of(node: &Node<'a>) -> Option<Self> {
        match node.value() {
            Value::Tagged(tagged) => Some(Self {
                name: tagged.tag.to_string().trim_start_matches('!').to_owned(),
                argument: Node::new(&tagged.value, node.path()),
            }),
            Value::Mapping(mapping) if mapping.len() == 1 => {
                let (key, argument) = mapping.iter().next()?;
                let key = key.as_str()?;
                (key == "Ref" || key.starts_with("Fn::")).then(|| Self {
                    name: key.trim_start_matches("Fn::").to_owned(),
                    argument: node.child(key, argument),
                })
            }
            _ => None,
        }
    }

    /// `Ref`, `GetAtt`, `Sub`, ...
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the function is applied to.
    pub fn argument(&self) -> &Node<'a> {
        &self.argument
    }
}

impl<'a> Node<'a> {
    /// See [`Intrinsic::of`].
    pub fn intrinsic(&self) -> Option<Intrinsic<'a>> {
        Intrinsic::of(self)
    }

    /// `X` of `!Ref X` / `{"Ref": "X"}`.
    pub fn ref_target(&self) -> Option<&'a str> {
        let intrinsic = self.intrinsic()?;
        (intrinsic.name == "Ref")
            .then(|| intrinsic.argument.as_str())
            .flatten()
    }

    /// `(A, B)` of `!GetAtt A.B`, `!GetAtt [A, B]` or `{"Fn::GetAtt": ["A", "B"]}`. In the dotted form the
    /// attribute is everything after the first dot, as CloudFormation reads it.
    pub fn get_att(&self) -> Option<(&'a str, &'a str)> {
        let intrinsic = self.intrinsic()?;
        if intrinsic.name != "GetAtt" {
            return None;
        }
        let literal = |value: Option<&'a Value>| match value? {
            Value::String(text) => Some(text.as_str()),
            _ => None,
        };
        match intrinsic.argument.value() {
            Value::String(text) => text.split_once('.'),
            Value::Sequence(items) => Some((literal(items.first())?, literal(items.get(1))?)),
            _ => None,
        }
    }

    /// The template string of `!Sub "..."`, `!Sub ["...", {vars}]` or `{"Fn::Sub": ...}`, unsubstituted.
    pub fn sub_text(&self) -> Option<&'a str> {
        let intrinsic = self.intrinsic()?;
        if intrinsic.name != "Sub" {
            return None;
        }
        match intrinsic.argument.value() {
            Value::String(text) => Some(text),
            Value::Sequence(items) => match items.first()? {
                Value::String(text) => Some(text),
                _ => None,
            },
            _ => None,
        }
    }

    /// The value as a person would write it in the short form, for messages: `!Ref X`,
    /// `!GetAtt A.B`, `!Sub "..."`, or the YAML of anything else.
    pub fn render(&self) -> String {
        if let Some(target) = self.ref_target() {
            format!("!Ref {target}")
        } else if let Some((resource, attribute)) = self.get_att() {
            format!("!GetAtt {resource}.{attribute}")
        } else if let Some(sub) = self.sub_text() {
            format!("!Sub {sub:?}")
        } else {
            serde_yaml_ng::to_string(self.value())
                .unwrap_or_default()
                .trim()
                .to_owned()
        }
    }
}
