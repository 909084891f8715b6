//! Secrets Manager secrets and how the template gives their initial value.
//!
//! Why: the drift test checks that each function's secret is created with exactly the keys its code reads
//! and no value in it (values are put with `aws secretsmanager put-secret-value`, never written in the
//! template). The JSON itself is the test's business; this says where it is.

use anyhow::{Result, bail};

use crate::node::Node;
use crate::template::{Resource, Template, resource_type};

/// An `AWS::SecretsManager::Secret` resource.
#[derive(Debug, Clone)]
pub struct Secret<'a> {
    resource: Resource<'a>,
}

/// How a secret's initial value is given: exactly one of `SecretString` and `GenerateSecretString`.
#[derive(Debug, Clone)]
pub enum SecretValue<'a> {
    /// `SecretString`, as written.
    Literal(Node<'a>),
    /// `GenerateSecretString`: its `SecretStringTemplate` (the JSON the generated key is added to) and
    /// `GenerateStringKey`, as written, when present.
    Generated {
        template: Option<Node<'a>>,
        key: Option<Node<'a>>,
    },
}

impl Template {
    /// The Secrets Manager secret `id`.
    pub fn secret(&self, id: &str) -> Result<Secret<'_>> {
        Ok(Secret {
            resource: self.resource_of_type(id, resource_type::SECRET)?,
        })
    }
}

impl<'a> Secret<'a> {
    /// The logical ID.
    pub fn id(&self) -> &'a str {
        self.resource.id()
    }

    /// The secret's resource.
    pub fn resource(&self) -> &Resource<'a> {
        &self.resource
    }

    /// Its initial value. Fails unless exactly one of `SecretString` and `GenerateSecretString` is set.
    pub fn initial_value(&self) -> Result<SecretValue<'a>> {
        let properties = self.resource.properties()?;
        match (
            properties.optional("SecretString")?,
            properties.optional("GenerateSecretString")?,
        ) {
            (Some(literal), None) => Ok(SecretValue::Literal(literal)),
            (None, Some(generate)) => Ok(SecretValue::Generated {
                template: generate.optional("SecretStringTemplate")?,
                key: generate.optional("GenerateStringKey")?,
            }),
            _ => bail!(
                "{}: needs SecretString or GenerateSecretString (one of them)",
                properties.path()
            ),
        }
    }
}
