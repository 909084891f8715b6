//! The comments table and the account state table: the keys, index, TTL and stream the code uses, and
//! that the stack keeps them.

use reply_core::comment::attr;
use sam_template::Template;
use testkit::table::COMMENTS_TABLE_RESOURCE;

use crate::{ACCOUNT_STATE_TABLE_RESOURCE, Problems, STREAM_VIEW};

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
    let index = replier::attr::RETRY_DUE_INDEX;
    match spec.gsi(index) {
        None => problems.add(format!(
            "CommentsTable has no index {index:?} (the retry sweep queries it); it has {:?}",
            spec.gsi_names()
        )),
        Some(gsi) => {
            problems.expect_eq("retry index hash key", gsi.hash_key.as_str(), attr::STATUS);
            problems.expect_eq(
                "retry index sort key",
                gsi.range_key.as_deref(),
                Some(attr::NEXT_ATTEMPT_AT),
            );
            // Statuses are words and next_attempt_at is an ISO 8601 string (CommentRecord's serde form).
            problems.expect_eq(
                "status attribute type",
                spec.attribute_type(attr::STATUS),
                Some("S"),
            );
            problems.expect_eq(
                "next_attempt_at attribute type",
                spec.attribute_type(attr::NEXT_ATTEMPT_AT),
                Some("S"),
            );
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

/// Deleting or replacing the stack never deletes replies; tables are on-demand, encrypted and recoverable.
pub(crate) fn check_tables_are_kept(template: &Template, problems: &mut Problems) {
    for name in [COMMENTS_TABLE_RESOURCE, ACCOUNT_STATE_TABLE_RESOURCE] {
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
