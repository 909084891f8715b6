//! Serverless functions: their events (the stream's event source mapping among them) and environment.
//!
//! Why: the local stream runner plays the replier's DynamoDB event exactly as declared, and the drift test
//! compares each function's environment variables with what its code reads. Both read them here. The
//! event's properties are handed over raw ([`Node`]): what they mean is the runner's business.

use anyhow::{Context as _, Result, ensure};

use crate::node::Node;
use crate::template::{Resource, Template, resource_type};

/// An `AWS::Serverless::Function` resource.
#[derive(Debug, Clone)]
pub struct Function<'a> {
    template: &'a Template,
    resource: Resource<'a>,
}

/// One entry of a function's `Events`.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// The event's name (`CommentStream`).
    pub name: &'a str,
    /// Its `Type` (`DynamoDB`, `Schedule`, `HttpApi`, ...).
    pub event_type: &'a str,
    /// The whole event, at `Resources.<function>.Properties.Events.<name>`.
    pub node: Node<'a>,
}

impl<'a> Event<'a> {
    /// The event's `Properties`, which must be there.
    pub fn properties(&self) -> Result<Node<'a>> {
        self.node.field("Properties")
    }
}

/// One environment variable of a function.
#[derive(Debug, Clone)]
pub struct EnvironmentVariable<'a> {
    pub name: &'a str,
    /// As written: a literal or an intrinsic (`!Ref CommentsTable`).
    pub value: Node<'a>,
}

impl Template {
    /// Every serverless function, in template order.
    pub fn functions(&self) -> Vec<Function<'_>> {
        self.resources_of_type(resource_type::SERVERLESS_FUNCTION)
            .into_iter()
            .map(|resource| Function {
                template: self,
                resource,
            })
            .collect()
    }

    /// The serverless function `id`.
    pub fn function(&self, id: &str) -> Result<Function<'_>> {
        let resource = self.resource_of_type(id, resource_type::SERVERLESS_FUNCTION)?;
        Ok(Function {
            template: self,
            resource,
        })
    }

    /// The `Properties` of the DynamoDB stream event `event` of the function `function`: the event
    /// source mapping as declared.
    pub fn stream_event(&self, function: &str, event: &str) -> Result<Node<'_>> {
        let event = self.function(function)?.event(event)?;
        ensure!(
            event.event_type == "DynamoDB",
            "{} is a {} event, not a DynamoDB one",
            event.node.path(),
            event.event_type
        );
        event.properties()
    }
}

impl<'a> Function<'a> {
    /// The logical ID.
    pub fn id(&self) -> &'a str {
        self.resource.id()
    }

    /// The function's resource.
    pub fn resource(&self) -> &Resource<'a> {
        &self.resource
    }

    /// Lenient `Properties.<key>`.
    pub fn property(&self, key: &str) -> Option<Node<'a>> {
        self.resource.property(key)
    }

    /// `Properties.Events`, in template order; none if the function has no `Events`. Each event needs a
    /// string `Type`.
    pub fn events(&self) -> Result<Vec<Event<'a>>> {
        let Some(events) = self.resource.properties()?.optional("Events")? else {
            return Ok(Vec::new());
        };
        events
            .entries()?
            .into_iter()
            .map(|(name, node)| {
                let event_type = node.field("Type")?.str()?;
                Ok(Event {
                    name,
                    event_type,
                    node,
                })
            })
            .collect()
    }

    /// The event `name`, which must be there with a string `Type`.
    pub fn event(&self, name: &str) -> Result<Event<'a>> {
        let events = self.resource.properties()?.field("Events")?;
        let (name, node) = events
            .entries()?
            .into_iter()
            .find(|(key, _)| *key == name)
            .with_context(|| format!("{} has no {name}", events.path()))?;
        let event_type = node.field("Type")?.str()?;
        Ok(Event {
            name,
            event_type,
            node,
        })
    }

    /// The environment variables the function gets: `Globals.Function.Environment.Variables`, then its
    /// own `Environment.Variables`, which override globals of the same name (as SAM merges them).
    pub fn environment(&self) -> Result<Vec<EnvironmentVariable<'a>>> {
        let globals = self
            .template
            .root()
            .find(&["Globals", "Function", "Environment"]);
        let own = self.resource.properties()?.optional("Environment")?;
        let mut variables: Vec<EnvironmentVariable<'a>> = Vec::new();
        for environment in [globals, own].into_iter().flatten() {
            let Some(defined) = environment.optional("Variables")? else {
                continue;
            };
            for (name, value) in defined.entries()? {
                match variables.iter_mut().find(|variable| variable.name == name) {
                    Some(variable) => variable.value = value,
                    None => variables.push(EnvironmentVariable { name, value }),
                }
            }
        }
        Ok(variables)
    }
}
