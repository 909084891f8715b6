//! CloudWatch alarms and dashboards: which metrics they watch.
//!
//! Why: an alarm or a dashboard widget on a metric that no code emits never fires and shows nothing; the
//! drift test compares the metrics named here with those the code emits. A dashboard's body is a JSON
//! document (often inside `!Sub`); it is handed over as text.

use anyhow::Result;

use crate::node::Node;
use crate::template::{Resource, Template, resource_type};

/// An `AWS::CloudWatch::Alarm` on one metric.
#[derive(Debug, Clone)]
pub struct Alarm<'a> {
    /// The logical ID.
    pub id: &'a str,
    /// `Namespace`, if set (alarms on metric math have none).
    pub namespace: Option<&'a str>,
    /// `MetricName`, if set.
    pub metric_name: Option<&'a str>,
    /// `Dimensions`: each `Name` and its `Value` as written (often an intrinsic).
    pub dimensions: Vec<(&'a str, Node<'a>)>,
}

impl<'a> Alarm<'a> {
    /// The value of the first dimension called `name`.
    pub fn dimension(&self, name: &str) -> Option<&Node<'a>> {
        self.dimensions
            .iter()
            .find(|(dimension, _)| *dimension == name)
            .map(|(_, value)| value)
    }
}

/// An `AWS::CloudWatch::Dashboard`.
#[derive(Debug, Clone)]
pub struct Dashboard<'a> {
    resource: Resource<'a>,
}

impl<'a> Dashboard<'a> {
    /// The logical ID.
    pub fn id(&self) -> &'a str {
        self.resource.id()
    }

    /// `DashboardBody`: a literal string, or the template string of a `!Sub` (its `${...}` left as they
    /// are).
    pub fn body(&self) -> Result<&'a str> {
        let body = self.resource.properties()?.field("DashboardBody")?;
        match body.sub_text() {
            Some(text) => Ok(text),
            None => body.str(),
        }
    }
}

impl Template {
    /// Every CloudWatch alarm, in template order. `Namespace` and `MetricName`, when set, and each
    /// dimension's `Name` must be literal strings.
    pub fn alarms(&self) -> Result<Vec<Alarm<'_>>> {
        self.resources_of_type(resource_type::ALARM)
            .into_iter()
            .map(|resource| {
                let properties = resource.properties()?;
                let literal = |key: &str| -> Result<Option<&str>> {
                    properties
                        .optional(key)?
                        .map(|value| value.str())
                        .transpose()
                };
                let dimensions = match properties.optional("Dimensions")? {
                    Some(dimensions) => dimensions
                        .items()?
                        .into_iter()
                        .map(|dimension| {
                            Ok((dimension.field("Name")?.str()?, dimension.field("Value")?))
                        })
                        .collect::<Result<Vec<_>>>()?,
                    None => Vec::new(),
                };
                Ok(Alarm {
                    id: resource.id(),
                    namespace: literal("Namespace")?,
                    metric_name: literal("MetricName")?,
                    dimensions,
                })
            })
            .collect()
    }

    /// Every CloudWatch dashboard, in template order.
    pub fn dashboards(&self) -> Vec<Dashboard<'_>> {
        self.resources_of_type(resource_type::DASHBOARD)
            .into_iter()
            .map(|resource| Dashboard { resource })
            .collect()
    }
}
