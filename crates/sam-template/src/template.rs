//! The parsed template and its resources, by logical ID and by type.
//!
//! Why: the file is parsed once, in one way (serde_yaml_ng keeps CloudFormation short tags such as `!Ref`
//! as tagged values, so they may appear anywhere), and the shape CloudFormation itself requires (a
//! `Resources` mapping whose every entry has a string `Type`) is checked then, so that the views built on
//! it can list resources without failing.

use std::path::Path;

use anyhow::{Context as _, Result, ensure};
use serde_yaml_ng::Value;

use crate::node::Node;

/// The resource types the views read.
pub mod resource_type {
    pub const DYNAMODB_TABLE: &str = "AWS::DynamoDB::Table";
    pub const SERVERLESS_FUNCTION: &str = "AWS::Serverless::Function";
    pub const IAM_ROLE: &str = "AWS::IAM::Role";
    pub const SECRET: &str = "AWS::SecretsManager::Secret";
    pub const ALARM: &str = "AWS::CloudWatch::Alarm";
    pub const DASHBOARD: &str = "AWS::CloudWatch::Dashboard";
    pub const SQS_QUEUE: &str = "AWS::SQS::Queue";
    pub const LOG_GROUP: &str = "AWS::Logs::LogGroup";
}

/// A CloudFormation/SAM template, parsed.
#[derive(Debug, Clone)]
pub struct Template {
    root: Value,
}

impl Template {
    /// Parses a template. Fails if it is not YAML, has no `Resources` mapping, or a resource has no
    /// string `Type`.
    pub fn parse(yaml: &str) -> Result<Self> {
        let root: Value = serde_yaml_ng::from_str(yaml).context("parsing the template as YAML")?;
        let template = Self { root };
        for (_, resource) in template.root().field("Resources")?.entries()? {
            resource.field("Type")?.str()?;
        }
        Ok(template)
    }

    /// Reads and parses the template at `path` (errors name the file).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let yaml =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&yaml).with_context(|| format!("in {}", path.display()))
    }

    /// The whole template (`Globals`, `Parameters`, `Outputs`, ... are read from here).
    pub fn root(&self) -> Node<'_> {
        Node::new(&self.root, "")
    }

    /// Every resource, in template order.
    pub fn resources(&self) -> Vec<Resource<'_>> {
        let entries = self
            .root()
            .field("Resources")
            .and_then(|resources| resources.entries());
        // `parse` checked that each resource is a mapping with a string Type.
        entries
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(id, node)| Resource::new(id, node))
            .collect()
    }

    /// The resources of one type (`AWS::DynamoDB::Table`, ...), in template order.
    pub fn resources_of_type(&self, type_name: &str) -> Vec<Resource<'_>> {
        self.resources()
            .into_iter()
            .filter(|resource| resource.type_name() == type_name)
            .collect()
    }

    /// The resource with this logical ID, if there is one.
    pub fn resource(&self, id: &str) -> Option<Resource<'_>> {
        self.resources()
            .into_iter()
            .find(|resource| resource.id() == id)
    }

    /// The resource with this logical ID, which must be of type `type_name`.
    pub fn resource_of_type(&self, id: &str, type_name: &str) -> Result<Resource<'_>> {
        let resource = self
            .resource(id)
            .with_context(|| format!("Resources has no {id}"))?;
        ensure!(
            resource.type_name() == type_name,
            "{} is a {}, not an {type_name}",
            resource.node().path(),
            resource.type_name()
        );
        Ok(resource)
    }
}

/// One entry of `Resources`.
#[derive(Debug, Clone)]
pub struct Resource<'a> {
    id: &'a str,
    type_name: &'a str,
    node: Node<'a>,
}

impl<'a> Resource<'a> {
    fn new(id: &'a str, node: Node<'a>) -> Option<Self> {
        let type_name = node.get("Type")?.as_str()?;
        Some(Self {
            id,
            type_name,
            node,
        })
    }

    /// The logical ID.
    pub fn id(&self) -> &'a str {
        self.id
    }

    /// `Type`, for example `AWS::DynamoDB::Table`.
    pub fn type_name(&self) -> &'a str {
        self.type_name
    }

    /// The whole resource (`Type`, `Properties`, `DeletionPolicy`, `Metadata`, ...), at `Resources.<id>`.
    pub fn node(&self) -> &Node<'a> {
        &self.node
    }

    /// `Properties`, which must be there.
    pub fn properties(&self) -> Result<Node<'a>> {
        self.node.field("Properties")
    }

    /// Lenient `Properties.<key>`: `None` if either is missing.
    pub fn property(&self, key: &str) -> Option<Node<'a>> {
        self.node.find(&["Properties", key])
    }
}
