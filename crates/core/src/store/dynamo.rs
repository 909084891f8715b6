//! The DynamoDB adapter. Items are plain attribute maps written with `serde_dynamo`; every write that must
//! happen once is a conditional write, so retries and races are safe by construction.

use super::{CommentStore, Inserted, StoreError};
use crate::comment::{CommentRecord, attr};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use std::time::Duration;

/// The shared AWS configuration: region, credentials and endpoint (`AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB
/// Local) from the standard sources, with timeouts that keep a stalled request inside Meta's 5 s budget.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(4))
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await
}

#[derive(Debug, Clone)]
pub struct DynamoCommentStore {
    client: Client,
    table: String,
}

impl DynamoCommentStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

#[async_trait]
impl CommentStore for DynamoCommentStore {
    async fn insert_new(&self, record: &CommentRecord) -> Result<Inserted, StoreError> {
        let item = serde_dynamo::to_item(record)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", attr::COMMENT_ID)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Inserted::Stored),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(Inserted::AlreadyStored)
            }
            Err(e) => Err(StoreError::Backend(e.into())),
        }
    }
}
