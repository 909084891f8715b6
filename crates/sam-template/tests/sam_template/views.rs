//! The typed views: table specs, functions and their events and environment, role grants, secrets,
//! alarms and dashboards.

use anyhow::{Result, anyhow};
use sam_template::{IndexSpec, SecretValue, TableSpec, Template};

use crate::error_of;

const TEMPLATE: &str = r#"
Globals:
  Function:
    Environment:
      Variables:
        LOG_LEVEL: info
        STAGE: dev
Resources:
  Comments:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Join ["-", [!Ref "AWS::StackName", comments]]
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }
      AttributeDefinitions:
        - { AttributeName: pk, AttributeType: S }
        - { AttributeName: due, AttributeType: N }
      KeySchema:
        - { AttributeName: pk, KeyType: HASH }
      GlobalSecondaryIndexes:
        - IndexName: by_due
          KeySchema:
            - { AttributeName: pk, KeyType: HASH }
            - { AttributeName: due, KeyType: RANGE }
          Projection: {}
      StreamSpecification: { StreamViewType: NEW_AND_OLD_IMAGES }
      TimeToLiveSpecification: { AttributeName: expires_at, Enabled: "true" }
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Role: !GetAtt FnRole.Arn
      Environment:
        Variables:
          TABLE_NAME: !Ref Comments
          STAGE: prod
      Events:
        Stream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Comments.StreamArn
            StartingPosition: LATEST
        Sweep:
          Type: Schedule
          Properties: { Schedule: rate(1 minute) }
  FnRole:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: one
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: [dynamodb:PutItem, dynamodb:UpdateItem]
                Resource: [!GetAtt Comments.Arn, !Sub "${Comments.Arn}/index/by_due"]
              - Effect: Deny
                Action: dynamodb:DeleteItem
                Resource: "*"
        - PolicyName: two
          PolicyDocument:
            Statement:
              Effect: Allow
              Action: secretsmanager:GetSecretValue
              Resource: { "Ref": "Secret" }
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString:
        SecretStringTemplate: '{"APP_SECRET": ""}'
        GenerateStringKey: VERIFY_TOKEN
  Plain:
    Type: AWS::SecretsManager::Secret
    Properties:
      SecretString: '{"TOKEN": ""}'
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: Custom
      MetricName: Errors
      Dimensions:
        - { Name: Queue, Value: !GetAtt Queue.QueueName }
        - { Name: Function, Value: replier }
  Board:
    Type: AWS::CloudWatch::Dashboard
    Properties:
      DashboardBody: !Sub '{"widgets": []}'
"#;

fn template() -> Result<Template> {
    Template::parse(TEMPLATE)
}

#[test]
fn a_table_spec_is_read_with_cloudformations_defaults() -> Result<()> {
    let spec = template()?.table("Comments")?;
    let expected = TableSpec {
        attribute_definitions: vec![("pk".into(), "S".into()), ("due".into(), "N".into())],
        hash_key: "pk".into(),
        range_key: None,
        global_secondary_indexes: vec![IndexSpec {
            name: "by_due".into(),
            hash_key: "pk".into(),
            range_key: Some("due".into()),
            projection_type: "KEYS_ONLY".into(),
            non_key_attributes: Vec::new(),
        }],
        stream_view_type: Some("NEW_AND_OLD_IMAGES".into()),
        ttl_attribute: Some("expires_at".into()),
    };
    assert_eq!(spec, expected);
    assert_eq!(spec.gsi_names(), ["by_due"]);
    assert_eq!(spec.attribute_type("due"), Some("N"));
    Ok(())
}

#[test]
fn a_bad_table_is_reported_with_the_path() {
    let two_hashes = TEMPLATE.replace(
        "- { AttributeName: due, KeyType: RANGE }",
        "- { AttributeName: due, KeyType: HASH }",
    );
    let message = error_of(Template::parse(&two_hashes).and_then(|t| t.table("Comments")));
    assert!(
        message.contains("GlobalSecondaryIndexes[0].KeySchema[1]: more than one key"),
        "{message}"
    );
    let bad_type = TEMPLATE.replace("AttributeType: N", "AttributeType: X");
    let message = error_of(Template::parse(&bad_type).and_then(|t| t.table("Comments")));
    assert!(
        message.contains("AttributeDefinitions[1].AttributeType: \"X\" is not one of"),
        "{message}"
    );
    let message = error_of(template().and_then(|t| t.table("Fn")));
    assert!(
        message.contains("is a AWS::Serverless::Function"),
        "{message}"
    );
}

#[test]
fn functions_their_events_and_their_environment() -> Result<()> {
    let template = template()?;
    let ids: Vec<&str> = template.functions().iter().map(|f| f.id()).collect();
    assert_eq!(ids, ["Fn"]);
    let function = template.function("Fn")?;
    let events: Vec<(&str, &str)> = function
        .events()?
        .iter()
        .map(|e| (e.name, e.event_type))
        .collect();
    assert_eq!(events, [("Stream", "DynamoDB"), ("Sweep", "Schedule")]);

    let stream = template.stream_event("Fn", "Stream")?;
    assert_eq!(
        stream.path(),
        "Resources.Fn.Properties.Events.Stream.Properties"
    );
    assert_eq!(stream.field("StartingPosition")?.str()?, "LATEST");
    let message = error_of(template.stream_event("Fn", "Sweep"));
    assert!(
        message.contains("Events.Sweep is a Schedule event"),
        "{message}"
    );
    let message = error_of(template.stream_event("Fn", "Other"));
    assert!(message.contains("Events has no Other"), "{message}");

    // Globals first, the function's own values overriding them.
    let environment: Vec<(&str, String)> = function
        .environment()?
        .iter()
        .map(|v| (v.name, v.value.render()))
        .collect();
    assert_eq!(
        environment,
        [
            ("LOG_LEVEL", "info".to_owned()),
            ("STAGE", "prod".to_owned()),
            ("TABLE_NAME", "!Ref Comments".to_owned()),
        ]
    );
    assert_eq!(
        function.property("Role").and_then(|r| r.get_att()),
        Some(("FnRole", "Arn"))
    );
    Ok(())
}

#[test]
fn a_roles_allow_statements_become_action_resource_pairs() -> Result<()> {
    let template = template()?;
    let role = template.role("FnRole")?;
    assert!(role.managed_policy_arns().is_none());
    let grants: Vec<(&str, String)> = role
        .allowed()?
        .iter()
        .map(|g| (g.action, g.resource.render()))
        .collect();
    assert_eq!(
        grants,
        [
            ("dynamodb:PutItem", "!GetAtt Comments.Arn".to_owned()),
            (
                "dynamodb:PutItem",
                "!Sub \"${Comments.Arn}/index/by_due\"".to_owned()
            ),
            ("dynamodb:UpdateItem", "!GetAtt Comments.Arn".to_owned()),
            (
                "dynamodb:UpdateItem",
                "!Sub \"${Comments.Arn}/index/by_due\"".to_owned()
            ),
            ("secretsmanager:GetSecretValue", "!Ref Secret".to_owned()),
        ]
    );
    Ok(())
}

#[test]
fn statements_that_cannot_be_listed_are_refused() -> Result<()> {
    let not_action = TEMPLATE.replace(
        "Action: [dynamodb:PutItem, dynamodb:UpdateItem]",
        "NotAction: [iam:*]",
    );
    let message = error_of(Template::parse(&not_action)?.role("FnRole")?.allowed());
    assert!(
        message.contains("Policies[0].PolicyDocument.Statement[0].NotAction: not supported"),
        "{message}"
    );
    let tagged_effect = TEMPLATE.replace("Effect: Deny", "Effect: !Ref Effect");
    let message = error_of(Template::parse(&tagged_effect)?.role("FnRole")?.allowed());
    assert!(
        message.contains("Statement[1].Effect: expected a string"),
        "{message}"
    );
    let message = error_of(template()?.role("Fn"));
    assert!(message.contains("not an AWS::IAM::Role"), "{message}");
    Ok(())
}

#[test]
fn secrets_say_how_their_initial_value_is_given() -> Result<()> {
    let template = template()?;
    match template.secret("Secret")?.initial_value()? {
        SecretValue::Generated { template, key } => {
            assert_eq!(
                template.and_then(|t| t.as_str()),
                Some(r#"{"APP_SECRET": ""}"#)
            );
            assert_eq!(key.and_then(|k| k.as_str()), Some("VERIFY_TOKEN"));
        }
        other => panic!("expected a generated secret, got {other:?}"),
    }
    match template.secret("Plain")?.initial_value()? {
        SecretValue::Literal(value) => assert_eq!(value.as_str(), Some(r#"{"TOKEN": ""}"#)),
        other => panic!("expected a literal secret, got {other:?}"),
    }
    let both = TEMPLATE.replace(
        "      SecretString: '{\"TOKEN\": \"\"}'\n",
        "      SecretString: '{\"TOKEN\": \"\"}'\n      GenerateSecretString: {}\n",
    );
    let message = error_of(Template::parse(&both)?.secret("Plain")?.initial_value());
    assert!(
        message.contains("needs SecretString or GenerateSecretString"),
        "{message}"
    );
    Ok(())
}

#[test]
fn alarms_and_dashboards_name_their_metrics() -> Result<()> {
    let template = template()?;
    let alarms = template.alarms()?;
    let [alarm] = alarms.as_slice() else {
        return Err(anyhow!("expected one alarm, got {alarms:?}"));
    };
    assert_eq!(alarm.id, "Alarm");
    assert_eq!(alarm.namespace, Some("Custom"));
    assert_eq!(alarm.metric_name, Some("Errors"));
    assert_eq!(
        alarm.dimension("Function").and_then(|v| v.as_str()),
        Some("replier")
    );
    assert_eq!(
        alarm.dimension("Queue").and_then(|v| v.get_att()),
        Some(("Queue", "QueueName"))
    );
    let dashboards = template.dashboards();
    assert_eq!(dashboards.len(), 1);
    assert_eq!(dashboards[0].id(), "Board");
    assert_eq!(dashboards[0].body()?, r#"{"widgets": []}"#);

    let tagged = TEMPLATE.replace("Namespace: Custom", "Namespace: !Ref Space");
    let message = error_of(Template::parse(&tagged)?.alarms());
    assert!(
        message.contains("Resources.Alarm.Properties.Namespace: expected a string"),
        "{message}"
    );
    Ok(())
}
