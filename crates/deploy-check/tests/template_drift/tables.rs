//! The comments, account state, campaigns and messages tables: the keys, index, TTL and stream the code uses,
//! and that the stack keeps them.

use reply_core::comment::attr;
use sam_template::Template;
use testkit::table::{COMMENTS_TABLE_RESOURCE, MESSAGES_TABLE_RESOURCE};

use crate::{ACCOUNT_STATE_TABLE_RESOURCE, CAMPAIGNS_TABLE_RESOURCE, Problems, STREAM_VIEW};

pub(crate) fn check_comments_table(template: &Template, problems: &mut Problems) {
    let spec = match template.table(COMMENTS_TABLE_RESOURCE) {
        Ok(spec) => spec,
        Err(e) => return problems.add(format!("{COMMENTS_TABLE_RESOURCE}: {e:#}")),
    };
    problems.expect_eq(
        "CommentsTable hash key",
        spec.hash_key.as_str(),
        attr::COMMENT_ID,
    );
    problems.expect_eq("CommentsTable sort key", spec.range_key.as_deref(), None);
    problems.expect_eq(
        "CommentsTable key type",
        spec.attribute_type(attr::COMMENT_ID),
        Some("S"),
    );
    problems.expect_eq(
        "CommentsTable TTL attribute",
        spec.ttl_attribute.as_deref(),
        Some(attr::EXPIRES_AT),
    );
    problems.expect_eq(
        "CommentsTable stream view",
        spec.stream_view_type.as_deref(),
        Some(STREAM_VIEW),
    );
    // The sweep queries the due index by shard and due time and reads account_id from it; both keys are
    // strings (shards are words "00".."15", due times ISO 8601 as CommentRecord serializes them).
    check_index(
        &spec,
        problems,
        attr::DUE_INDEX,
        (attr::DUE_SHARD, attr::DUE_AT),
        Some(attr::ACCOUNT_ID),
    );
    // The previous release's index, kept while it drains so an existing stack upgrades in one deploy.
    check_index(
        &spec,
        problems,
        attr::LEGACY_RETRY_DUE_INDEX,
        (attr::STATUS, attr::LEGACY_NEXT_ATTEMPT_AT),
        None,
    );
}

fn check_index(
    spec: &testkit::table::TableSpec,
    problems: &mut Problems,
    index: &str,
    (hash, range): (&str, &str),
    projected: Option<&str>,
) {
    let Some(gsi) = spec.gsi(index) else {
        return problems.add(format!(
            "CommentsTable has no index {index:?} (the sweep queries it); it has {:?}",
            spec.gsi_names()
        ));
    };
    problems.expect_eq(
        &format!("{index} index hash key"),
        gsi.hash_key.as_str(),
        hash,
    );
    problems.expect_eq(
        &format!("{index} index sort key"),
        gsi.range_key.as_deref(),
        Some(range),
    );
    for key in [hash, range] {
        problems.expect_eq(
            &format!("{key} attribute type"),
            spec.attribute_type(key),
            Some("S"),
        );
    }
    if let Some(attribute) = projected {
        let included = gsi.projection_type == "ALL"
            || gsi.non_key_attributes.iter().any(|name| name == attribute);
        if !included {
            problems.add(format!(
                "{index} index must project {attribute} (the sweep reads it from the index)"
            ));
        }
    }
}

pub(crate) fn check_account_state_table(template: &Template, problems: &mut Problems) {
    let spec = match template.table(ACCOUNT_STATE_TABLE_RESOURCE) {
        Ok(spec) => spec,
        Err(e) => return problems.add(format!("{ACCOUNT_STATE_TABLE_RESOURCE}: {e:#}")),
    };
    problems.expect_eq(
        "AccountStateTable hash key",
        spec.hash_key.as_str(),
        replier::accounts::attr::PK,
    );
    problems.expect_eq(
        "AccountStateTable sort key",
        spec.range_key.as_deref(),
        None,
    );
    problems.expect_eq(
        "AccountStateTable TTL attribute",
        spec.ttl_attribute.as_deref(),
        Some(replier::accounts::attr::EXPIRES_AT),
    );
}

/// The campaigns table is keyed the way its adapter reads it (`reply_core::store::campaigns`).
pub(crate) fn check_campaigns_table(template: &Template, problems: &mut Problems) {
    let spec = match template.table(CAMPAIGNS_TABLE_RESOURCE) {
        Ok(spec) => spec,
        Err(e) => return problems.add(format!("{CAMPAIGNS_TABLE_RESOURCE}: {e:#}")),
    };
    problems.expect_eq(
        "CampaignsTable hash key",
        spec.hash_key.as_str(),
        reply_core::store::campaigns::ACCOUNT_ID,
    );
    problems.expect_eq(
        "CampaignsTable sort key",
        spec.range_key.as_deref(),
        Some(reply_core::store::campaigns::CAMPAIGN_ID),
    );
}

/// The messages table is keyed, expires and streams the way its adapter and the replier read it
/// (`reply_core::message`).
pub(crate) fn check_messages_table(template: &Template, problems: &mut Problems) {
    use reply_core::message::attr as message;
    let spec = match template.table(MESSAGES_TABLE_RESOURCE) {
        Ok(spec) => spec,
        Err(e) => return problems.add(format!("{MESSAGES_TABLE_RESOURCE}: {e:#}")),
    };
    problems.expect_eq(
        "MessagesTable hash key",
        spec.hash_key.as_str(),
        message::MESSAGE_ID,
    );
    problems.expect_eq("MessagesTable sort key", spec.range_key.as_deref(), None);
    problems.expect_eq(
        "MessagesTable key type",
        spec.attribute_type(message::MESSAGE_ID),
        Some("S"),
    );
    problems.expect_eq(
        "MessagesTable TTL attribute",
        spec.ttl_attribute.as_deref(),
        Some(message::EXPIRES_AT),
    );
    problems.expect_eq(
        "MessagesTable stream view",
        spec.stream_view_type.as_deref(),
        Some("NEW_IMAGE"),
    );
}

/// Deleting or replacing the stack never deletes replies or campaigns; tables are on-demand, encrypted and
/// recoverable.
pub(crate) fn check_tables_are_kept(template: &Template, problems: &mut Problems) {
    for name in [
        COMMENTS_TABLE_RESOURCE,
        ACCOUNT_STATE_TABLE_RESOURCE,
        CAMPAIGNS_TABLE_RESOURCE,
        MESSAGES_TABLE_RESOURCE,
    ] {
        let Some(table) = template.resource(name) else {
            continue; // reported by the table checks
        };
        for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
            if table.node().get(policy).and_then(|v| v.as_str()) != Some("Retain") {
                problems.add(format!("{name}: {policy} must be Retain"));
            }
        }
        let at = |path: &[&str]| table.properties().ok()?.find(path);
        if at(&["BillingMode"]).and_then(|v| v.as_str()) != Some("PAY_PER_REQUEST") {
            problems.add(format!("{name}: BillingMode must be PAY_PER_REQUEST"));
        }
        if !at(&[
            "PointInTimeRecoverySpecification",
            "PointInTimeRecoveryEnabled",
        ])
        .is_some_and(|v| v.is_true())
        {
            problems.add(format!("{name}: point-in-time recovery must be enabled"));
        }
        if !at(&["SSESpecification", "SSEEnabled"]).is_some_and(|v| v.is_true()) {
            problems.add(format!("{name}: SSESpecification.SSEEnabled must be true"));
        }
    }
}
