//! IAM roles and what the Allow statements of their inline policies grant.
//!
//! Why: the drift test proves least privilege (each function's role grants the DynamoDB actions its code
//! calls and nothing else, its own secret, logs and queue). That needs every (action, resource) pair a
//! role allows, however the statement is written: `Statement` as a list or a single statement, `Action`
//! and `Resource` as one value or a list. What cannot be listed as pairs (`NotAction`, `NotResource`) is an
//! error rather than silently granting nothing.

use anyhow::{Result, bail};

use crate::node::Node;
use crate::template::{Resource, Template, resource_type};

/// An `AWS::IAM::Role` resource.
#[derive(Debug, Clone)]
pub struct Role<'a> {
    resource: Resource<'a>,
}

/// One action an Allow statement grants on one resource.
#[derive(Debug, Clone)]
pub struct Grant<'a> {
    /// `dynamodb:PutItem`, ...
    pub action: &'a str,
    /// As written: `!GetAtt CommentsTable.Arn`, `!Sub "${CommentsTable.Arn}/index/x"`, `"*"`, ...
    pub resource: Node<'a>,
}

impl Template {
    /// The IAM role `id`.
    pub fn role(&self, id: &str) -> Result<Role<'_>> {
        Ok(Role {
            resource: self.resource_of_type(id, resource_type::IAM_ROLE)?,
        })
    }
}

impl<'a> Role<'a> {
    /// The logical ID.
    pub fn id(&self) -> &'a str {
        self.resource.id()
    }

    /// The role's resource.
    pub fn resource(&self) -> &Resource<'a> {
        &self.resource
    }

    /// `ManagedPolicyArns`, if the role has any.
    pub fn managed_policy_arns(&self) -> Option<Node<'a>> {
        self.resource.property("ManagedPolicyArns")
    }

    /// Every (action, resource) pair that an Allow statement of the role's inline `Policies` grants, in
    /// template order. Deny statements are skipped (they only take away).
    pub fn allowed(&self) -> Result<Vec<Grant<'a>>> {
        let mut grants = Vec::new();
        let Some(policies) = self.resource.properties()?.optional("Policies")? else {
            return Ok(grants);
        };
        for policy in policies.items()? {
            let statements = policy.field("PolicyDocument")?.field("Statement")?;
            for statement in statements.one_or_many() {
                if statement.field("Effect")?.one_of(&["Allow", "Deny"])? == "Deny" {
                    continue;
                }
                for key in ["NotAction", "NotResource"] {
                    if statement.optional(key)?.is_some() {
                        bail!(
                            "{}.{key}: not supported; list what is allowed (Action, Resource)",
                            statement.path()
                        );
                    }
                }
                let resources = statement.field("Resource")?.one_or_many();
                for action in statement.field("Action")?.one_or_many() {
                    let action = action.str()?;
                    grants.extend(resources.iter().map(|resource| Grant {
                        action,
                        resource: resource.clone(),
                    }));
                }
            }
        }
        Ok(grants)
    }
}
