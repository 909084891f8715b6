//! The messages table: one item per inbound message or button tap ([`MessageRecord`]), keyed by Meta's
//! `mid`. The webhook stores each once, exactly as comments are stored (a conditional put, so a redelivery is
//! a harmless duplicate); the replier reads them from the table's stream.

use super::dynamo::put_new;
use super::expression::s;
use super::{InsertSummary, Inserted, Item, StoreError, insert_unique};
use crate::message::{MessageRecord, attr};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use std::sync::Arc;

/// The table's name when `MESSAGES_TABLE_NAME` is not set (tools; the webhook requires it).
pub const DEFAULT_TABLE: &str = "messages";

/// What the webhook needs of the messages table.
#[async_trait]
pub trait MessageStore: Send + Sync + std::fmt::Debug {
    /// Writes `record` unless an item with its message ID exists; never overwrites.
    async fn insert_new(&self, record: &MessageRecord) -> Result<Inserted, StoreError>;
}

/// Inserts every message with at most `concurrency` requests in flight; a message ID repeated in the batch
/// is counted as already stored without a request.
pub async fn insert_all_messages(
    store: &Arc<dyn MessageStore>,
    records: Vec<MessageRecord>,
    concurrency: usize,
) -> InsertSummary<String> {
    insert_unique(
        records,
        |record| record.message_id.clone(),
        |record| async move {
            let result = store.insert_new(&record).await;
            (record.message_id, result)
        },
        concurrency,
    )
    .await
}

#[derive(Debug, Clone)]
pub struct DynamoMessageStore {
    client: Client,
    table: String,
}

impl DynamoMessageStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The item, read with strong consistency.
    pub async fn get(&self, message_id: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(HashMap::from([(
                attr::MESSAGE_ID.to_owned(),
                s(message_id),
            )])))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::backend("reading a message", e))?;
        Ok(out.item)
    }
}

#[async_trait]
impl MessageStore for DynamoMessageStore {
    async fn insert_new(&self, record: &MessageRecord) -> Result<Inserted, StoreError> {
        put_new(
            &self.client,
            &self.table,
            serde_dynamo::to_item(record)?,
            attr::MESSAGE_ID,
            "storing a message",
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Keeps the first record per ID; message IDs starting with `fail` fail for a passing reason.
    #[derive(Debug, Default)]
    struct MemoryStore(Mutex<Vec<String>>);

    #[async_trait]
    impl MessageStore for MemoryStore {
        async fn insert_new(&self, record: &MessageRecord) -> Result<Inserted, StoreError> {
            if record.message_id.starts_with("fail") {
                return Err(StoreError::other(
                    "storing a message",
                    anyhow::anyhow!("throttled"),
                ));
            }
            let mut ids = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if ids.contains(&record.message_id) {
                return Ok(Inserted::AlreadyStored);
            }
            ids.push(record.message_id.clone());
            Ok(Inserted::Stored)
        }
    }

    fn record(mid: &str) -> MessageRecord {
        MessageRecord {
            message_id: mid.to_owned(),
            ..MessageRecord::example()
        }
    }

    #[tokio::test]
    async fn repeats_are_duplicates_and_failures_are_named_by_message_id() {
        let memory = Arc::new(MemoryStore::default());
        let store: Arc<dyn MessageStore> = memory.clone();
        let first = insert_all_messages(&store, vec![record("m-1"), record("m-1")], 4).await;
        assert_eq!((first.stored, first.already_stored), (1, 1));
        let second = insert_all_messages(
            &store,
            vec![record("m-1"), record("m-2"), record("fail-1")],
            4,
        )
        .await;
        assert_eq!((second.stored, second.already_stored), (1, 1));
        assert!(!second.all_durable());
        assert_eq!(second.failed.len(), 1);
        assert_eq!(second.failed[0].0, "fail-1");
        assert_eq!(
            *memory.0.lock().unwrap_or_else(|e| e.into_inner()),
            ["m-1", "m-2"]
        );
    }
}
