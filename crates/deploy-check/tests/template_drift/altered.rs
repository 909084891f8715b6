//! Altered copies of the real template: each test changes one thing the code relies on, and [`drift`]
//! must catch it with the sentence that names it.

use crate::{drift, real_template};

/// The real template with the first occurrence of `from` replaced by `to` (which must exist).
fn altered(from: &str, to: &str) -> String {
    let template = real_template();
    assert!(
        template.contains(from),
        "the template no longer contains {from:?}; update this test"
    );
    template.replacen(from, to, 1)
}

#[track_caller]
fn assert_caught(yaml: &str, expected: &str) {
    let problems = drift(yaml);
    assert!(
        problems.iter().any(|p| p.contains(expected)),
        "expected a problem mentioning {expected:?}, got {problems:#?}"
    );
}

#[test]
fn a_renamed_ttl_attribute_is_caught() {
    let yaml = altered(
        "AttributeName: expires_at\n        Enabled: true",
        "AttributeName: ttl\n        Enabled: true",
    );
    assert_caught(&yaml, "CommentsTable TTL attribute");
}

#[test]
fn a_renamed_table_key_is_caught() {
    let yaml = real_template().replace("AttributeName: comment_id", "AttributeName: id");
    assert_caught(&yaml, "CommentsTable hash key");
}

#[test]
fn a_renamed_due_index_is_caught() {
    let yaml = altered("IndexName: due\n", "IndexName: due_v2\n");
    assert_caught(&yaml, "CommentsTable has no index \"due\"");
}

#[test]
fn a_due_index_keyed_on_status_is_caught() {
    let yaml = altered(
        "            - AttributeName: due_shard\n              KeyType: HASH",
        "            - AttributeName: status\n              KeyType: HASH",
    );
    assert_caught(&yaml, "due index hash key");
}

#[test]
fn a_renamed_retry_index_is_caught() {
    let yaml = altered("IndexName: retry_due", "IndexName: due");
    assert_caught(&yaml, "CommentsTable has no index \"retry_due\"");
    assert_caught(&yaml, "grants access to index retry_due");
}

#[test]
fn a_stream_without_old_images_is_caught() {
    let yaml = altered(
        "StreamViewType: NEW_AND_OLD_IMAGES",
        "StreamViewType: NEW_IMAGE",
    );
    assert_caught(&yaml, "CommentsTable stream view");
}

#[test]
fn a_filter_that_lets_other_statuses_through_is_caught() {
    let yaml = altered(r#"{"S": ["PENDING"]}"#, r#"{"S": ["PENDING", "RETRY"]}"#);
    assert_caught(&yaml, "new image is RETRY (public reply None) is delivered");
}

#[test]
fn a_filter_that_brings_back_posted_public_replies_is_caught() {
    let yaml = altered(r#"{"S": ["QUEUED"]}"#, r#"{"S": ["QUEUED", "POSTED"]}"#);
    assert_caught(
        &yaml,
        "new image is REPLIED (public reply Some(Posted)) is delivered",
    );
}

#[test]
fn a_filter_on_the_old_image_is_caught() {
    let yaml = altered(r#""NewImage": {"status""#, r#""OldImage": {"status""#);
    assert_caught(&yaml, "the replier expects");
}

#[test]
fn a_messages_table_that_forgets_its_messages_is_caught() {
    let yaml = altered(
        "          MESSAGES_TABLE_NAME: !Ref MessagesTable\n",
        "          MESSAGES_TABLE_NAME: messages\n",
    );
    assert_caught(&yaml, "MESSAGES_TABLE_NAME");
}

#[test]
fn a_secret_as_an_environment_variable_is_caught() {
    let yaml = altered(
        "          SECRET_ARN: !Ref WebhookSecret\n",
        "          SECRET_ARN: !Ref WebhookSecret\n          APP_SECRET: hunter2\n",
    );
    assert_caught(&yaml, "sets the secret APP_SECRET");
}

#[test]
fn an_environment_variable_the_code_never_reads_is_caught() {
    let yaml = altered(
        "          CAMPAIGNS_TABLE_NAME: !Ref CampaignsTable\n",
        "          CAMPAIGNS_TABLE: !Ref CampaignsTable\n",
    );
    assert_caught(&yaml, "sets CAMPAIGNS_TABLE, which the code never reads");
    assert_caught(&yaml, "does not set CAMPAIGNS_TABLE_NAME");
}

#[test]
fn a_deletable_or_unrecoverable_campaigns_table_is_caught() {
    let campaigns =
        "  CampaignsTable:\n    Type: AWS::DynamoDB::Table\n    DeletionPolicy: Retain\n";
    let yaml = altered(
        campaigns,
        &campaigns.replace("DeletionPolicy: Retain", "DeletionPolicy: Delete"),
    );
    assert_caught(&yaml, "CampaignsTable: DeletionPolicy must be Retain");
    let yaml = altered(
        "        - AttributeName: campaign_id\n          KeyType: RANGE\n",
        "",
    );
    assert_caught(&yaml, "CampaignsTable sort key");
}

#[test]
fn a_table_name_pointing_at_the_wrong_table_is_caught() {
    let yaml = altered(
        "ACCOUNT_STATE_TABLE_NAME: !Ref AccountStateTable",
        "ACCOUNT_STATE_TABLE_NAME: !Ref CommentsTable",
    );
    assert_caught(
        &yaml,
        "ACCOUNT_STATE_TABLE_NAME must be !Ref AccountStateTable",
    );
}

#[test]
fn a_secret_value_written_in_the_template_is_caught() {
    let yaml = altered(r#"'{"APP_SECRET": ""}'"#, r#"'{"APP_SECRET": "hunter2"}'"#);
    assert_caught(&yaml, "secrets must never be template literals");
}

#[test]
fn a_secret_missing_a_key_the_code_reads_is_caught() {
    let yaml = altered(r#", "ACCOUNT_TOKENS": {}"#, "");
    assert_caught(&yaml, "ReplierSecret keys");
}

#[test]
fn an_extra_iam_action_is_caught() {
    let yaml = altered(
        "Action: [dynamodb:PutItem]",
        "Action: [dynamodb:PutItem, dynamodb:Scan]",
    );
    assert_caught(
        &yaml,
        "grants dynamodb:Scan, which WebhookFunction's code never calls",
    );
}

#[test]
fn a_missing_iam_action_is_caught() {
    let yaml = altered("Action: [dynamodb:Query]", "Action: [dynamodb:GetItem]");
    assert_caught(&yaml, "does not grant dynamodb:Query");
}

#[test]
fn a_secret_readable_by_the_wrong_function_is_caught() {
    let yaml = altered(
        "Action: [secretsmanager:GetSecretValue]\n                Resource: !Ref WebhookSecret",
        "Action: [secretsmanager:GetSecretValue]\n                Resource: !Ref ReplierSecret",
    );
    assert_caught(
        &yaml,
        "grants secretsmanager:GetSecretValue on !Ref ReplierSecret",
    );
}

#[test]
fn an_alarm_on_a_metric_nobody_emits_is_caught() {
    let yaml = altered("MetricName: TokenErrors", "MetricName: TokenError");
    assert_caught(&yaml, "never emits the metric TokenError");
}

#[test]
fn an_x86_function_is_caught() {
    let yaml = altered("Architectures: [arm64]", "Architectures: [x86_64]");
    assert_caught(&yaml, "WebhookFunction Architectures");
}

#[test]
fn a_deletable_comments_table_is_caught() {
    let yaml = altered(
        "  CommentsTable:\n    Type: AWS::DynamoDB::Table\n    DeletionPolicy: Retain",
        "  CommentsTable:\n    Type: AWS::DynamoDB::Table\n    DeletionPolicy: Delete",
    );
    assert_caught(&yaml, "CommentsTable: DeletionPolicy must be Retain");
}

#[test]
fn a_sweep_on_eventbridge_scheduler_is_caught() {
    let yaml = altered("          Type: Schedule\n", "          Type: ScheduleV2\n");
    assert_caught(&yaml, "nothing runs the retry sweep");
}
