//! The comments table, built from `template.yaml`.
//!
//! Why: the deployed table is defined once, by the `CommentsTable` resource of `template.yaml`. Tests and
//! local runs create their tables from that same resource, so keys, indexes, stream and TTL can never
//! drift between what we test and what we deploy; [`TableSpec`] is also public so that a test can check
//! the code's own constants (key names, index names, TTL attribute) against the template.
//!
//! The template is read by `sam-template` (the workspace's one reader of it): CloudFormation short tags
//! (`!Ref`, `!Sub`, `!GetAtt`, ...) may appear anywhere, only the properties a table needs must be literals,
//! and a property it neither reads nor deliberately skips is an error, so that adding, say, a local
//! secondary index to the template cannot be silently left out of the tests. This module creates the
//! table that [`TableSpec`] describes.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TableStatus, TimeToLiveSpecification,
};
use sam_template::Template;
pub use sam_template::{IndexSpec, TableSpec, repo_root, template_path};

/// The logical id of the table resource in `template.yaml`.
pub const COMMENTS_TABLE_RESOURCE: &str = "CommentsTable";
/// The logical id of the messages table (`reply_core::store::messages`), created by the same code.
pub const MESSAGES_TABLE_RESOURCE: &str = "MessagesTable";

/// Reads the `CommentsTable` resource of the template at `template_path`.
pub fn comments_table_spec(template_path: impl AsRef<Path>) -> Result<TableSpec> {
    let path = template_path.as_ref();
    Template::load(path)?
        .table(COMMENTS_TABLE_RESOURCE)
        .with_context(|| format!("in {}", path.display()))
}

/// Reads the `AWS::DynamoDB::Table` resource `resource` of a CloudFormation/SAM template.
pub fn table_spec_from_template(yaml: &str, resource: &str) -> Result<TableSpec> {
    Template::parse(yaml)?.table(resource)
}

/// What [`create_comments_table`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The table was created, is ACTIVE, and has its TTL set.
    Created,
    /// A table with that name already existed; it was left as it is.
    AlreadyExisted,
}

/// How long a new table gets to become ACTIVE (DynamoDB Local is immediate; real DynamoDB is not).
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(60);

/// Creates table `name` as `spec` says: on-demand, its GSIs, its stream, then its TTL. Waits until the
/// table and its indexes are ACTIVE.
pub async fn create_comments_table(
    client: &Client,
    name: &str,
    spec: &TableSpec,
) -> Result<CreateOutcome> {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema_elements(
            &spec.hash_key,
            spec.range_key.as_deref(),
        )?));
    for (attribute, ty) in &spec.attribute_definitions {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::from(ty.as_str()))
                .build()?,
        );
    }
    for index in &spec.global_secondary_indexes {
        let projection = Projection::builder()
            .projection_type(ProjectionType::from(index.projection_type.as_str()))
            .set_non_key_attributes(
                (!index.non_key_attributes.is_empty()).then(|| index.non_key_attributes.clone()),
            )
            .build();
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(key_schema_elements(
                    &index.hash_key,
                    index.range_key.as_deref(),
                )?))
                .projection(projection)
                .build()?,
        );
    }
    if let Some(view) = &spec.stream_view_type {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view.as_str()))
                .build()?,
        );
    }
    if let Err(e) = request.send().await {
        if e.as_service_error()
            .is_some_and(|e| e.is_resource_in_use_exception())
        {
            return Ok(CreateOutcome::AlreadyExisted);
        }
        bail!("CreateTable {name}: {}", DisplayErrorContext(e));
    }
    wait_until_active(client, name).await?;
    if let Some(attribute) = &spec.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attribute)
                    .enabled(true)
                    .build()?,
            )
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("UpdateTimeToLive {name}: {}", DisplayErrorContext(e)))?;
    }
    Ok(CreateOutcome::Created)
}

async fn wait_until_active(client: &Client, name: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + ACTIVE_TIMEOUT;
    loop {
        let description = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("DescribeTable {name}: {}", DisplayErrorContext(e)))?;
        let table = description
            .table()
            .with_context(|| format!("DescribeTable {name} returned no table"))?;
        let indexes_active = table
            .global_secondary_indexes()
            .iter()
            .all(|index| index.index_status() == Some(&IndexStatus::Active));
        if table.table_status() == Some(&TableStatus::Active) && indexes_active {
            return Ok(());
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "table {name} is not ACTIVE after {}s",
            ACTIVE_TIMEOUT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn key_schema_elements(hash: &str, range: Option<&str>) -> Result<Vec<KeySchemaElement>> {
    let mut elements = vec![
        KeySchemaElement::builder()
            .attribute_name(hash)
            .key_type(KeyType::Hash)
            .build()?,
    ];
    if let Some(range) = range {
        elements.push(
            KeySchemaElement::builder()
                .attribute_name(range)
                .key_type(KeyType::Range)
                .build()?,
        );
    }
    Ok(elements)
}

/// Every item of `table`, read with strong consistency, all pages (the SDK's paginator).
pub async fn scan_all(
    client: &Client,
    table: &str,
) -> Result<Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>> {
    client
        .scan()
        .table_name(table)
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| anyhow::anyhow!("scanning {table}: {}", DisplayErrorContext(e)))
}

#[cfg(test)]
mod tests {
    /// sam-template checks the template's values against its own lists; the SDK must accept each of them,
    /// or a table built from an accepted template would fail to create.
    #[test]
    fn sam_templates_value_lists_are_the_sdks() {
        use aws_sdk_dynamodb::types::{
            KeyType, ProjectionType, ScalarAttributeType, StreamViewType,
        };
        use sam_template::table;

        assert_eq!(table::ATTRIBUTE_TYPES, ScalarAttributeType::values());
        assert_eq!(table::KEY_TYPES, KeyType::values());
        assert_eq!(table::PROJECTION_TYPES, ProjectionType::values());
        assert_eq!(table::STREAM_VIEW_TYPES, StreamViewType::values());
    }
}
