//! Reading the comments table from CloudFormation YAML: the real template, and what must be tolerated or
//! refused so that local tables keep matching the deployed one.
#![allow(clippy::unwrap_used)]

use testkit::table::{self, COMMENTS_TABLE_RESOURCE, TableSpec};

#[test]
fn the_real_template_describes_the_comments_table() {
    let spec = table::comments_table_spec(table::template_path()).unwrap();
    assert_eq!(spec.hash_key, "comment_id");
    assert_eq!(spec.range_key, None);
    assert_eq!(spec.stream_view_type.as_deref(), Some("NEW_AND_OLD_IMAGES"));
    assert_eq!(spec.ttl_attribute.as_deref(), Some("expires_at"));
    assert_eq!(spec.gsi_names(), ["due", "retry_due"]);
    let due = spec.gsi("due").unwrap();
    assert_eq!(due.hash_key, "due_shard");
    assert_eq!(due.range_key.as_deref(), Some("due_at"));
    assert_eq!(due.projection_type, "INCLUDE");
    assert_eq!(due.non_key_attributes, ["account_id"]);
    let retry_due = spec.gsi("retry_due").unwrap();
    assert_eq!(retry_due.hash_key, "status");
    assert_eq!(retry_due.range_key.as_deref(), Some("next_attempt_at"));
    assert_eq!(retry_due.projection_type, "KEYS_ONLY");
    assert_eq!(spec.attribute_type("comment_id"), Some("S"));
}

#[test]
fn the_real_template_describes_the_messages_table() {
    let yaml = std::fs::read_to_string(table::template_path()).unwrap();
    let spec = table::table_spec_from_template(&yaml, table::MESSAGES_TABLE_RESOURCE).unwrap();
    // reply_core::message::attr::MESSAGE_ID and EXPIRES_AT; the replier reads the new image only.
    assert_eq!(spec.hash_key, "message_id");
    assert_eq!(spec.range_key, None);
    assert_eq!(spec.attribute_type("message_id"), Some("S"));
    assert_eq!(spec.stream_view_type.as_deref(), Some("NEW_IMAGE"));
    assert_eq!(spec.ttl_attribute.as_deref(), Some("expires_at"));
    assert!(spec.gsi_names().is_empty());
}

#[test]
fn repo_root_holds_the_template_and_the_script() {
    let root = table::repo_root();
    assert!(root.join("template.yaml").is_file(), "{}", root.display());
    assert!(root.join("infra/dynamodb-local.sh").is_file());
}

/// A template in the shape SAM templates take once they grow: short-form intrinsics everywhere.
const TAGGED_TEMPLATE: &str = r#"
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: { Type: String, Default: dev }
Resources:
  CommentsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-comments"
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - { AttributeName: pk, AttributeType: S }
        - { AttributeName: sk, AttributeType: N }
        - { AttributeName: owner, AttributeType: S }
      KeySchema:
        - { AttributeName: pk, KeyType: HASH }
        - { AttributeName: sk, KeyType: RANGE }
      GlobalSecondaryIndexes:
        - IndexName: by_owner
          KeySchema:
            - { AttributeName: owner, KeyType: HASH }
          Projection:
            ProjectionType: INCLUDE
            NonKeyAttributes: [status, text]
      StreamSpecification:
        StreamViewType: NEW_IMAGE
      TimeToLiveSpecification:
        AttributeName: gone_at
        Enabled: false
      Tags:
        - Key: stage
          Value: !Ref Stage
  Webhook:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          TABLE: !Ref CommentsTable
          STREAM: !GetAtt CommentsTable.StreamArn
      Policies:
        - DynamoDBCrudPolicy: { TableName: !Ref CommentsTable }
Outputs:
  Table:
    Value: !GetAtt [CommentsTable, Arn]
"#;

#[test]
fn cloudformation_short_tags_elsewhere_are_tolerated() {
    let spec = table::table_spec_from_template(TAGGED_TEMPLATE, COMMENTS_TABLE_RESOURCE).unwrap();
    let expected = TableSpec {
        attribute_definitions: vec![
            ("pk".into(), "S".into()),
            ("sk".into(), "N".into()),
            ("owner".into(), "S".into()),
        ],
        hash_key: "pk".into(),
        range_key: Some("sk".into()),
        global_secondary_indexes: vec![table::IndexSpec {
            name: "by_owner".into(),
            hash_key: "owner".into(),
            range_key: None,
            projection_type: "INCLUDE".into(),
            non_key_attributes: vec!["status".into(), "text".into()],
        }],
        stream_view_type: Some("NEW_IMAGE".into()),
        // Enabled: false means no TTL.
        ttl_attribute: None,
    };
    assert_eq!(spec, expected);
}

#[test]
fn an_intrinsic_where_a_literal_is_needed_is_refused_by_name() {
    let yaml =
        TAGGED_TEMPLATE.replace("StreamViewType: NEW_IMAGE", "StreamViewType: !Ref ViewType");
    let error = table::table_spec_from_template(&yaml, COMMENTS_TABLE_RESOURCE).unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("StreamSpecification"), "{message}");
    assert!(message.contains("!Ref"), "{message}");
}

#[test]
fn an_unknown_table_property_is_refused_rather_than_silently_dropped() {
    let yaml = TAGGED_TEMPLATE.replace(
        "      BillingMode: PAY_PER_REQUEST\n",
        "      BillingMode: PAY_PER_REQUEST\n      LocalSecondaryIndexes: []\n",
    );
    let error = table::table_spec_from_template(&yaml, COMMENTS_TABLE_RESOURCE).unwrap_err();
    assert!(
        format!("{error:#}").contains("LocalSecondaryIndexes"),
        "{error:#}"
    );
}

#[test]
fn bad_values_and_missing_pieces_are_reported() {
    let bad_view = TAGGED_TEMPLATE.replace("NEW_IMAGE", "EVERYTHING");
    let error = table::table_spec_from_template(&bad_view, COMMENTS_TABLE_RESOURCE).unwrap_err();
    assert!(format!("{error:#}").contains("EVERYTHING"), "{error:#}");

    let undeclared_key =
        TAGGED_TEMPLATE.replace("- { AttributeName: owner, AttributeType: S }", "");
    let error =
        table::table_spec_from_template(&undeclared_key, COMMENTS_TABLE_RESOURCE).unwrap_err();
    assert!(format!("{error:#}").contains("owner"), "{error:#}");

    let error = table::table_spec_from_template(TAGGED_TEMPLATE, "NoSuchTable").unwrap_err();
    assert!(format!("{error:#}").contains("NoSuchTable"), "{error:#}");

    let error = table::table_spec_from_template(TAGGED_TEMPLATE, "Webhook").unwrap_err();
    assert!(
        format!("{error:#}").contains("AWS::Serverless::Function"),
        "{error:#}"
    );
}
