//! The campaigns table: one item per campaign, keyed by (`account_id`, `campaign_id`), its attributes the
//! campaign file's fields (see [`crate::campaign::model`]). The replier reads an account's campaigns with one
//! Query (then caches them); `replyctl campaign` writes them.

use super::dynamo::is_condition_failure;
use super::expression::s;
use super::{Item, StoreError};
use crate::campaign::{Campaign, CampaignStatus};
use crate::comment::format_time;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// The table's name when `CAMPAIGNS_TABLE_NAME` is not set.
pub const DEFAULT_TABLE: &str = "campaigns";
/// The partition key (S): the Instagram account.
pub const ACCOUNT_ID: &str = "account_id";
/// The sort key (S): the campaign's ID.
pub const CAMPAIGN_ID: &str = "campaign_id";
/// Set by `apply` (every time, and the first time).
pub const UPDATED_AT: &str = "updated_at";
pub const CREATED_AT: &str = "created_at";
/// The attributes `apply` writes: the file's fields after the key (stored under the same names); one left out
/// of a file is removed.
const FIELDS: &[&str] = crate::campaign::model::VALUE_FIELDS;

/// Reads an account's campaigns (the replier's port).
#[async_trait]
pub trait CampaignSource: Send + Sync + std::fmt::Debug {
    /// Every campaign of the account, of any status.
    async fn account_campaigns(&self, account_id: &str) -> Result<Vec<Campaign>, StoreError>;
}

/// What `apply` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Created,
    Updated,
}

#[derive(Debug, Clone)]
pub struct DynamoCampaignStore {
    client: Client,
    table: String,
}

fn key(account_id: &str, campaign_id: &str) -> Item {
    HashMap::from([
        (ACCOUNT_ID.to_owned(), s(account_id)),
        (CAMPAIGN_ID.to_owned(), s(campaign_id)),
    ])
}

impl DynamoCampaignStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates or updates the campaign (one UpdateItem: fields absent from it are removed, `created_at` is
    /// kept from the first apply).
    pub async fn apply(
        &self,
        campaign: &Campaign,
        now: DateTime<Utc>,
    ) -> Result<Applied, StoreError> {
        let mut item: Item = serde_dynamo::to_item(campaign)?;
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut sets = Vec::new();
        let mut removes = Vec::new();
        for (i, field) in FIELDS.iter().enumerate() {
            let name = format!("#f{i}");
            names.insert(name.clone(), (*field).to_owned());
            match item.remove(*field) {
                Some(value) => {
                    values.insert(format!(":f{i}"), value);
                    sets.push(format!("{name} = :f{i}"));
                }
                None => removes.push(name),
            }
        }
        names.insert("#updated".into(), UPDATED_AT.into());
        names.insert("#created".into(), CREATED_AT.into());
        values.insert(":now".into(), s(&format_time(now)));
        sets.push("#updated = :now".into());
        sets.push("#created = if_not_exists(#created, :now)".into());
        let mut update = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            update.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(&campaign.account_id, &campaign.campaign_id)))
            .update_expression(update)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::UpdatedOld)
            .send()
            .await
            .map_err(|e| StoreError::backend("writing a campaign", e))?;
        let existed = out
            .attributes()
            .is_some_and(|old| old.contains_key(CREATED_AT));
        Ok(if existed {
            Applied::Updated
        } else {
            Applied::Created
        })
    }

    /// One campaign, read with strong consistency.
    pub async fn get(
        &self,
        account_id: &str,
        campaign_id: &str,
    ) -> Result<Option<Campaign>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(account_id, campaign_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::backend("reading a campaign", e))?;
        out.item
            .map(|item| serde_dynamo::from_item(item).map_err(StoreError::from))
            .transpose()
    }

    /// Pauses or resumes a campaign; `false` when there is no such campaign.
    pub async fn set_status(
        &self,
        account_id: &str,
        campaign_id: &str,
        status: CampaignStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(account_id, campaign_id)))
            .update_expression("SET #status = :status, #updated = :now")
            .condition_expression("attribute_exists(#id)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#updated", UPDATED_AT)
            .expression_attribute_names("#id", CAMPAIGN_ID)
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":now", s(&format_time(now)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(StoreError::backend("changing a campaign's status", e)),
        }
    }

    /// Deletes a campaign; `false` when there was none.
    pub async fn delete(&self, account_id: &str, campaign_id: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(account_id, campaign_id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| StoreError::backend("deleting a campaign", e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    /// Every campaign of every account (a paginated Scan; campaigns are few).
    pub async fn all(&self) -> Result<Vec<Campaign>, StoreError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| StoreError::backend("listing campaigns", e))?;
            for item in page.items.unwrap_or_default() {
                out.push(serde_dynamo::from_item(item)?);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl CampaignSource for DynamoCampaignStore {
    async fn account_campaigns(&self, account_id: &str) -> Result<Vec<Campaign>, StoreError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#account = :account")
            .expression_attribute_names("#account", ACCOUNT_ID)
            .expression_attribute_values(":account", s(account_id))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| StoreError::backend("reading an account's campaigns", e))?;
            for item in page.items.unwrap_or_default() {
                out.push(serde_dynamo::from_item(item)?);
            }
        }
        Ok(out)
    }
}
