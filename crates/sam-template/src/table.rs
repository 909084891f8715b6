//! What a DynamoDB table resource says: keys, attribute types, global secondary indexes, stream, TTL.
//!
//! Why: the deployed tables are defined once, by `template.yaml`. Tests and local runs create their tables
//! from the same resources (testkit), and the drift test checks the code's key, index and TTL names
//! against them, so [`TableSpec`] is the one reading of a table resource.
//!
//! Only the properties read here must be literals. Properties that make no difference to a local table
//! (billing, point-in-time recovery, encryption, tags, the table name, ...) are skipped; any other property
//! is an error, so that adding, say, a local secondary index to the template cannot be silently left out
//! of the tests.

use anyhow::{Context as _, Result, ensure};

use crate::node::Node;
use crate::template::{Template, resource_type};

/// DynamoDB's scalar attribute types (`AttributeType`).
pub const ATTRIBUTE_TYPES: &[&str] = &["B", "N", "S"];
/// `KeyType`s of a key schema element.
pub const KEY_TYPES: &[&str] = &["HASH", "RANGE"];
/// `ProjectionType`s of an index.
pub const PROJECTION_TYPES: &[&str] = &["ALL", "INCLUDE", "KEYS_ONLY"];
/// `StreamViewType`s of a table's stream.
pub const STREAM_VIEW_TYPES: &[&str] =
    &["KEYS_ONLY", "NEW_AND_OLD_IMAGES", "NEW_IMAGE", "OLD_IMAGE"];

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

/// What the template says a table is.
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

impl Template {
    /// The `AWS::DynamoDB::Table` resource `id`.
    pub fn table(&self, id: &str) -> Result<TableSpec> {
        let properties = self
            .resource_of_type(id, resource_type::DYNAMODB_TABLE)?
            .properties()?;
        let at = properties.path().to_owned();
        check_properties(&properties, TABLE_PROPERTIES, SKIPPED_TABLE_PROPERTIES)?;

        let attribute_definitions = properties
            .field("AttributeDefinitions")?
            .items()?
            .iter()
            .map(|definition| {
                let name = definition.field("AttributeName")?.str()?;
                let ty = definition.field("AttributeType")?.one_of(ATTRIBUTE_TYPES)?;
                Ok((name.to_owned(), ty.to_owned()))
            })
            .collect::<Result<Vec<_>>>()?;

        let (hash_key, range_key) = key_schema(&properties.field("KeySchema")?)?;

        let global_secondary_indexes = match properties.optional("GlobalSecondaryIndexes")? {
            Some(indexes) => indexes
                .items()?
                .iter()
                .map(index_spec)
                .collect::<Result<Vec<_>>>()?,
            None => Vec::new(),
        };

        let stream_view_type = match properties.optional("StreamSpecification")? {
            Some(stream) => Some(
                stream
                    .field("StreamViewType")?
                    .one_of(STREAM_VIEW_TYPES)?
                    .to_owned(),
            ),
            None => None,
        };

        let ttl_attribute = match properties.optional("TimeToLiveSpecification")? {
            Some(ttl) => {
                let enabled = ttl.field("Enabled")?.boolean()?;
                let attribute = ttl.field("AttributeName")?.str()?;
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
}

fn index_spec(index: &Node<'_>) -> Result<IndexSpec> {
    check_properties(index, INDEX_PROPERTIES, SKIPPED_INDEX_PROPERTIES)?;
    let name = index.field("IndexName")?.str()?;
    let (hash_key, range_key) = key_schema(&index.field("KeySchema")?)?;
    let projection = index.field("Projection")?;
    let projection_type = match projection.optional("ProjectionType")? {
        Some(ty) => ty.one_of(PROJECTION_TYPES)?.to_owned(),
        None => "KEYS_ONLY".to_owned(), // CloudFormation's default
    };
    let non_key_attributes = match projection.optional("NonKeyAttributes")? {
        Some(attributes) => attributes
            .items()?
            .iter()
            .map(|attribute| attribute.str().map(str::to_owned))
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
fn key_schema(schema: &Node<'_>) -> Result<(String, Option<String>)> {
    let mut hash = None;
    let mut range = None;
    for element in schema.items()? {
        let name = element.field("AttributeName")?.str()?.to_owned();
        let slot = match element.field("KeyType")?.one_of(KEY_TYPES)? {
            "HASH" => &mut hash,
            _ => &mut range,
        };
        ensure!(
            slot.replace(name).is_none(),
            "{}: more than one key of this type (multi-attribute keys are not supported)",
            element.path()
        );
    }
    let hash = hash.with_context(|| format!("{} has no HASH key", schema.path()))?;
    Ok((hash, range))
}

/// Fails on any property that is neither read nor deliberately skipped.
fn check_properties(node: &Node<'_>, read: &[&str], skipped: &[&str]) -> Result<()> {
    for key in node.keys()? {
        ensure!(
            read.contains(&key) || skipped.contains(&key),
            "{}.{key} is not understood by sam-template; teach crates/sam-template/src/table.rs about \
             it so local tables keep matching the template",
            node.path()
        );
    }
    Ok(())
}
