//! The comments table, built from `template.yaml`.
//!
//! Why: the deployed table is defined once, by the `CommentsTable` resource of `template.yaml`. Tests and
//! local runs create their tables from that same resource, so keys, indexes, stream and TTL can never
//! drift between what we test and what we deploy; [`TableSpec`] is also public so that a test can check
//! the code's own constants (key names, index names, TTL attribute) against the template.
//!
//! The template is read as a YAML value that keeps CloudFormation short tags (`!Ref`, `!Sub`,
//! `!GetAtt`, ...) as tagged values, so they may appear anywhere in the file; only the properties read
//! here must be literals. Properties that DynamoDB Local ignores or that make no sense locally (billing,
//! point-in-time recovery, encryption, tags, the table name) are skipped; any other property is an error,
//! so that adding, say, a local secondary index to the template cannot be silently left out of the tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TableStatus, TimeToLiveSpecification,
};
use serde_yaml_ng::Value;

/// The logical id of the table resource in `template.yaml`.
pub const COMMENTS_TABLE_RESOURCE: &str = "CommentsTable";

/// Table properties we read.
const TABLE_PROPERTIES: &[&str] = &[
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "StreamSpecification",
    "TimeToLiveSpecification",
];
/// Table properties we deliberately skip: local tables are always on-demand, and DynamoDB Local has no
/// backups, encryption settings or tags worth testing. `TableName` is replaced by a per-test name.
const SKIPPED_TABLE_PROPERTIES: &[&str] = &[
    "BillingMode",
    "ProvisionedThroughput",
    "OnDemandThroughput",
    "WarmThroughput",
    "PointInTimeRecoverySpecification",
    "SSESpecification",
    "Tags",
    "TableName",
    "TableClass",
    "DeletionProtectionEnabled",
    "ContributorInsightsSpecification",
    "KinesisStreamSpecification",
    "ResourcePolicy",
];
const INDEX_PROPERTIES: &[&str] = &["IndexName", "KeySchema", "Projection"];
const SKIPPED_INDEX_PROPERTIES: &[&str] = &[
    "ProvisionedThroughput",
    "OnDemandThroughput",
    "WarmThroughput",
    "ContributorInsightsSpecification",
];

/// The repository root, found from this crate's manifest directory (`<root>/crates/testkit`).
pub fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .map_or_else(|| manifest_dir.join("../.."), Path::to_path_buf)
}

/// `<repo root>/template.yaml`.
pub fn template_path() -> PathBuf {
    repo_root().join("template.yaml")
}

/// What the template says the comments table is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// Attribute name and scalar type (`S`, `N` or `B`) of each key attribute, table and indexes.
    pub attribute_definitions: Vec<(String, String)>,
    /// The table's partition key.
    pub hash_key: String,
    /// The table's sort key, if it has one.
    pub range_key: Option<String>,
    /// Global secondary indexes, in template order.
    pub global_secondary_indexes: Vec<IndexSpec>,
    /// `StreamViewType` (for example `NEW_AND_OLD_IMAGES`), if the table has a stream.
    pub stream_view_type: Option<String>,
    /// The TTL attribute, if TTL is enabled.
    pub ttl_attribute: Option<String>,
}

/// A global secondary index of [`TableSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: String,
    pub hash_key: String,
    pub range_key: Option<String>,
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection_type: String,
    /// For `INCLUDE` projections.
    pub non_key_attributes: Vec<String>,
}

impl TableSpec {
    /// The names of the global secondary indexes.
    pub fn gsi_names(&self) -> Vec<&str> {
        self.global_secondary_indexes
            .iter()
            .map(|index| index.name.as_str())
            .collect()
    }

    /// The global secondary index with this name.
    pub fn gsi(&self, name: &str) -> Option<&IndexSpec> {
        self.global_secondary_indexes
            .iter()
            .find(|index| index.name == name)
    }

    /// The declared scalar type (`S`, `N`, `B`) of a key attribute.
    pub fn attribute_type(&self, name: &str) -> Option<&str> {
        self.attribute_definitions
            .iter()
            .find(|(attribute, _)| attribute == name)
            .map(|(_, ty)| ty.as_str())
    }
}

/// Reads the `CommentsTable` resource of the template at `template_path`.
pub fn comments_table_spec(template_path: impl AsRef<Path>) -> Result<TableSpec> {
    let path = template_path.as_ref();
    let yaml =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    table_spec_from_template(&yaml, COMMENTS_TABLE_RESOURCE)
        .with_context(|| format!("in {}", path.display()))
}

/// Reads the `AWS::DynamoDB::Table` resource `resource` of a CloudFormation/SAM template.
pub fn table_spec_from_template(yaml: &str, resource: &str) -> Result<TableSpec> {
    let template: Value = serde_yaml_ng::from_str(yaml).context("parsing the template as YAML")?;
    let resources = field(&template, "Resources", "the template")?;
    let table = field(resources, resource, "Resources")?;
    let at = format!("Resources.{resource}");
    let ty = string(field(table, "Type", &at)?, &format!("{at}.Type"))?;
    ensure!(
        ty == "AWS::DynamoDB::Table",
        "{at} is a {ty}, not an AWS::DynamoDB::Table"
    );
    let at = format!("{at}.Properties");
    let properties = field(table, "Properties", &at)?;
    check_properties(properties, TABLE_PROPERTIES, SKIPPED_TABLE_PROPERTIES, &at)?;

    let definitions_at = format!("{at}.AttributeDefinitions");
    let attribute_definitions = sequence(
        field(properties, "AttributeDefinitions", &at)?,
        &definitions_at,
    )?
    .iter()
    .enumerate()
    .map(|(i, definition)| {
        let at = format!("{definitions_at}[{i}]");
        let name = string(field(definition, "AttributeName", &at)?, &at)?;
        let ty = string(field(definition, "AttributeType", &at)?, &at)?;
        Ok((
            name.to_owned(),
            one_of(ty, ScalarAttributeType::values(), &at)?,
        ))
    })
    .collect::<Result<Vec<_>>>()?;

    let (hash_key, range_key) = key_schema(
        field(properties, "KeySchema", &at)?,
        &format!("{at}.KeySchema"),
    )?;

    let mut global_secondary_indexes = Vec::new();
    if let Some(indexes) = optional_field(properties, "GlobalSecondaryIndexes", &at)? {
        let indexes_at = format!("{at}.GlobalSecondaryIndexes");
        for (i, index) in sequence(indexes, &indexes_at)?.iter().enumerate() {
            global_secondary_indexes.push(index_spec(index, &format!("{indexes_at}[{i}]"))?);
        }
    }

    let stream_view_type = match optional_field(properties, "StreamSpecification", &at)? {
        Some(stream) => {
            let at = format!("{at}.StreamSpecification");
            let view = string(field(stream, "StreamViewType", &at)?, &at)?;
            Some(one_of(view, StreamViewType::values(), &at)?)
        }
        None => None,
    };

    let ttl_attribute = match optional_field(properties, "TimeToLiveSpecification", &at)? {
        Some(ttl) => {
            let at = format!("{at}.TimeToLiveSpecification");
            let enabled = boolean(field(ttl, "Enabled", &at)?, &format!("{at}.Enabled"))?;
            let attribute = string(field(ttl, "AttributeName", &at)?, &at)?;
            enabled.then(|| attribute.to_owned())
        }
        None => None,
    };

    let spec = TableSpec {
        attribute_definitions,
        hash_key,
        range_key,
        global_secondary_indexes,
        stream_view_type,
        ttl_attribute,
    };
    let keys = std::iter::once(&spec.hash_key)
        .chain(&spec.range_key)
        .chain(
            spec.global_secondary_indexes
                .iter()
                .flat_map(|index| std::iter::once(&index.hash_key).chain(&index.range_key)),
        );
    for key in keys {
        ensure!(
            spec.attribute_type(key).is_some(),
            "{at}: key attribute {key} is missing from AttributeDefinitions"
        );
    }
    Ok(spec)
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

fn index_spec(index: &Value, at: &str) -> Result<IndexSpec> {
    check_properties(index, INDEX_PROPERTIES, SKIPPED_INDEX_PROPERTIES, at)?;
    let name = string(field(index, "IndexName", at)?, &format!("{at}.IndexName"))?;
    let (hash_key, range_key) =
        key_schema(field(index, "KeySchema", at)?, &format!("{at}.KeySchema"))?;
    let projection_at = format!("{at}.Projection");
    let projection = field(index, "Projection", at)?;
    let projection_type = match optional_field(projection, "ProjectionType", &projection_at)? {
        Some(ty) => one_of(
            string(ty, &projection_at)?,
            ProjectionType::values(),
            &projection_at,
        )?,
        None => "KEYS_ONLY".to_owned(), // CloudFormation's default
    };
    let non_key_attributes = match optional_field(projection, "NonKeyAttributes", &projection_at)? {
        Some(attributes) => sequence(attributes, &projection_at)?
            .iter()
            .map(|attribute| string(attribute, &projection_at).map(str::to_owned))
            .collect::<Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    Ok(IndexSpec {
        name: name.to_owned(),
        hash_key,
        range_key,
        projection_type,
        non_key_attributes,
    })
}

/// A `KeySchema` list: exactly one HASH element, at most one RANGE element.
fn key_schema(schema: &Value, at: &str) -> Result<(String, Option<String>)> {
    let mut hash = None;
    let mut range = None;
    for (i, element) in sequence(schema, at)?.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let name = string(field(element, "AttributeName", &at)?, &at)?.to_owned();
        let slot = match one_of(
            string(field(element, "KeyType", &at)?, &at)?,
            KeyType::values(),
            &at,
        )?
        .as_str()
        {
            "HASH" => &mut hash,
            _ => &mut range,
        };
        ensure!(
            slot.replace(name).is_none(),
            "{at}: more than one key of this type (multi-attribute keys are not supported by testkit)"
        );
    }
    let hash = hash.with_context(|| format!("{at} has no HASH key"))?;
    Ok((hash, range))
}

/// Fails on any property that is neither read nor deliberately skipped.
fn check_properties(value: &Value, read: &[&str], skipped: &[&str], at: &str) -> Result<()> {
    for key in mapping(value, at)?.keys() {
        let key = string(key, at)?;
        ensure!(
            read.contains(&key) || skipped.contains(&key),
            "{at}.{key} is not understood by testkit; teach crates/testkit/src/table.rs about it \
             so local tables keep matching the template"
        );
    }
    Ok(())
}

fn mapping<'a>(value: &'a Value, at: &str) -> Result<&'a serde_yaml_ng::Mapping> {
    match value {
        Value::Mapping(mapping) => Ok(mapping),
        other => bail!("{at}: expected a mapping, found {}", describe(other)),
    }
}

fn optional_field<'a>(value: &'a Value, key: &str, at: &str) -> Result<Option<&'a Value>> {
    Ok(mapping(value, at)?.get(key))
}

fn field<'a>(value: &'a Value, key: &str, at: &str) -> Result<&'a Value> {
    optional_field(value, key, at)?.with_context(|| format!("{at} has no {key}"))
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

fn boolean(value: &Value, at: &str) -> Result<bool> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::String(text) if text.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") => Ok(false),
        other => bail!("{at}: expected true or false, found {}", describe(other)),
    }
}

fn one_of(value: &str, allowed: &[&str], at: &str) -> Result<String> {
    ensure!(
        allowed.contains(&value),
        "{at}: {value:?} is not one of {allowed:?}"
    );
    Ok(value.to_owned())
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
            "a {} intrinsic function (testkit needs a literal value here)",
            tagged.tag
        ),
    }
}
